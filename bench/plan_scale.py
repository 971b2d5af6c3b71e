"""How declstack scales: HTTP requests, time and memory for apply and plan of N servers.

Runs the real pipeline (openstacksdk over HTTP) against the local cloud in this
process. Numbers include the local cloud's own work (same process, same GIL),
so they are an upper bound for the client side.

    .venv/bin/python bench/plan_scale.py --servers 1000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from declstack import credentials
from declstack.cloud import OpenStackCloud
from declstack.engine import make_plan
from declstack.model import DesiredServer, Spec
from declstack.reconciler import Reconciler, Settings
from declstack_localcloud import LocalCloud

calls: Counter[str] = Counter()
_send = requests.Session.send


def counting_send(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
    path = (request.path_url or "").split("?")[0]
    kind = "/".join(part for part in path.split("/")[:4] if not (len(part) == 36 and "-" in part))
    calls[f"{request.method} {kind}"] += 1
    return _send(self, request, **kw)


requests.Session.send = counting_send  # type: ignore[method-assign]


def spec(n: int) -> Spec:
    servers = tuple(
        DesiredServer(
            name=f"node-{i}",
            image="cirros",
            flavor="m1.nano",
            networks="none",
            metadata={"role": "bench"},
            tags=("bench",),
        )
        for i in range(1, n + 1)
    )
    return Spec(stack="bench", servers=servers)


def measure(label: str, work: Any) -> Any:
    calls.clear()
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    total = sum(calls.values())
    detail = ", ".join(f"{k} x{v}" for k, v in calls.most_common(6))
    print(f"{label:<28} {elapsed:7.2f} s  {total:5d} HTTP requests  ({detail})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as home,
        LocalCloud(
            state_path=Path(home) / "s.sqlite", boot_seconds=1.0, delete_seconds=0.5
        ) as local,
    ):
        cloud = OpenStackCloud(credentials.connect_with_config(local.cloud_config()))
        desired = spec(args.servers)
        print(f"{args.servers} servers, parallelism {args.parallelism}, local cloud in-process")
        plan = measure("plan (empty stack)", lambda: make_plan(desired, cloud))
        settings = Settings(parallelism=args.parallelism)
        report = measure("apply (create + wait)", lambda: Reconciler(cloud, settings).apply(plan))
        assert report.converged, report.failures[:3]
        again = measure("plan (converged, no-op)", lambda: make_plan(desired, cloud))
        assert not again.has_changes
        half = Spec(stack="bench", servers=desired.servers[: args.servers // 2])
        shrink = measure("plan (scale down by half)", lambda: make_plan(half, cloud))
        measure("apply (delete half + wait)", lambda: Reconciler(cloud, settings).apply(shrink))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process (client + local cloud): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
