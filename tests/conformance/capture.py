"""Play the differential sequence against one cloud and save normalised captures as JSON.

    .venv/bin/python -m tests.conformance.capture [--cloud realstack] [--out DIR]

The captures under tests/conformance/captures/ are what real Nova answered;
the local cloud's author reads them to see exact bodies and status codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from tests.conformance.rawcloud import Credentials, RawCloud
from tests.conformance.sequence import Runner, run_sequence
from tests.conformance.steps import STEPS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def realstack_clouds_path() -> Path:
    """Where start.sh wrote clouds.yaml (env DECLSTACK_REALSTACK_CLOUDS overrides)."""
    import os

    env = os.environ.get("DECLSTACK_REALSTACK_CLOUDS")
    return Path(env) if env else REPO / ".realstack" / "clouds.yaml"


def connect(cloud: str, clouds_yaml: Path) -> RawCloud:
    """Authenticate to one cloud of a clouds.yaml file."""
    entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][cloud]
    raw = RawCloud(Credentials.from_cloud_entry(entry))
    raw.authenticate()
    return raw


def main(argv: list[str] | None = None) -> int:
    """Run the sequence once and write one JSON file per step plus index.json."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cloud", default="realstack")
    ap.add_argument("--clouds-yaml", type=Path, default=realstack_clouds_path())
    ap.add_argument("--out", type=Path, default=HERE / "captures")
    args = ap.parse_args(argv)
    runner = Runner(connect(args.cloud, args.clouds_yaml))
    outcomes = run_sequence(runner, STEPS)
    args.out.mkdir(parents=True, exist_ok=True)
    index = []
    for i, (step, out) in enumerate(zip(STEPS, outcomes, strict=True), 1):
        name = f"{i:02d}-{step.name}.json"
        record = {"why": step.why, **asdict(out)}
        (args.out / name).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        index.append(
            {
                "file": name,
                "status": out.status,
                "elapsed": out.elapsed,
                "observed": list(out.observed),
            }
        )
        print(f"{out.status}  {out.elapsed:6.2f}s  {step.name}  {' -> '.join(out.observed)}")
    (args.out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
