"""Start-up time of the CLI: `declstack --help` and `declstack validate` of the demo spec.

Best of N whole-process runs (Python start-up included), and the modules each
command imports, so a heavy import creeping into the start-up path shows here.
Issue 11's goals: at most 0.3 s for --help, 0.4 s for validate.

    .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--help": ["--help"],
    "validate specs/demo.yaml": ["validate", str(REPO / "specs" / "demo.yaml")],
}
#: Heavy modules that no command above should need.
HEAVY = ("openstack", "keystoneauth1", "requests", "declstack_localcloud", "pydantic")


def best_of(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "declstack", *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return min(times)


def heavy_imports(argv: list[str]) -> list[str]:
    """Which HEAVY top-level packages the command imported (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "declstack", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    return sorted(set(HEAVY) & names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'command':28} {'best of ' + str(args.runs):>10}  heavy imports")
    for name, argv in COMMANDS.items():
        seconds = best_of(argv, args.runs)
        print(f"{name:28} {seconds:9.3f}s  {', '.join(heavy_imports(argv)) or 'none'}")


if __name__ == "__main__":
    main()
