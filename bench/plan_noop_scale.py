"""A no-op `declstack plan` of N managed servers: wall time, peak RSS, HTTP requests.

The local cloud runs in its own process with its state in `--state` (kept, so the
N servers are created once and later runs only plan). Each plan is a fresh
`declstack plan SPEC --detailed-exitcode` process, exactly as a user runs it
(Python start-up, imports, authentication included); its peak RSS is the
process's VmHWM read by `/usr/bin/time`-like polling of /proc, and its requests
are counted with `--debug` lines.

    .venv/bin/python bench/plan_noop_scale.py --servers 10000 --state /tmp/noop10k.sqlite
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_floor import start_cloud

from declstack import credentials
from declstack.cloud import OpenStackCloud
from declstack.engine import make_plan
from declstack.reconciler import Reconciler, Settings
from declstack.spec import load_spec

SPEC = """\
version: 1
stack: noop
cloud: bench
servers:
  - name: node
    count: {n}
    image: cirros
    flavor: m1.nano
    networks: none
    metadata: {{role: bench}}
    tags: [bench]
"""


MEASURE = """\
import resource, runpy, sys
try:
    runpy.run_module("declstack", run_name="__main__")
finally:
    with open(__import__("os").environ["PEAK_FILE"], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def run_plan(
    spec: Path, env: dict[str, str], home: Path, debug: bool = False
) -> tuple[float, float, int, int]:
    """One fresh `declstack plan` process: (seconds, peak RSS MiB, exit code, requests
    answered, counted from the --debug log when `debug`)."""
    peak = home / "peak"
    command = [sys.executable, "-c", MEASURE, "plan", str(spec), "--detailed-exitcode"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *(["--debug"] if debug else [])],
        env={**env, "PEAK_FILE": str(peak)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, log = process.communicate()
    seconds = time.perf_counter() - started
    requests = len(re.findall(rb" RESP: \[", log))
    return seconds, int(peak.read_text()) / 1024, process.returncode, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--state", type=Path, default=None, help="keep the cloud's state here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        state_home = Path(home)
        if args.state is not None:
            state_home = args.state.parent
            state_home.mkdir(parents=True, exist_ok=True)
        spec_path = Path(home) / "spec.yaml"
        spec_path.write_text(SPEC.format(n=args.servers))
        process, config = start_cloud(state_home, 0.0, state_file=args.state)
        try:
            clouds = state_home / "clouds.yaml"
            env = {
                **os.environ,
                "OS_CLIENT_CONFIG_FILE": str(clouds),
                "NO_COLOR": "1",
            }
            cloud = OpenStackCloud(credentials.connect_with_config(config))
            spec = load_spec(spec_path)
            plan = make_plan(spec, cloud)
            if plan.has_changes:
                started = time.perf_counter()
                report = Reconciler(cloud, Settings(parallelism=20)).apply(plan)
                assert report.converged, report.failures[:3]
                print(f"created {args.servers} servers in {time.perf_counter() - started:.1f} s")
            *_, code, requests = run_plan(spec_path, env, Path(home), debug=True)
            print(f"no-op plan of {args.servers} servers: {requests} HTTP requests (exit {code})")
            print("fresh process each time, without --debug:")
            for _ in range(args.repeat):
                seconds, rss, code, _ = run_plan(spec_path, env, Path(home))
                print(
                    f"  {seconds:.2f} s, peak RSS {rss:.0f} MiB, exit {code}, {requests} requests"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
