"""Apply and destroy makespan against the boot time and the cloud's own floor.

The local cloud runs in its own process (`python -m declstack_localcloud serve`), so
the client's threads do not share its GIL. For N servers it measures, on the same
cloud and at the same parallelism:

- floor: a plain client, N parallel POSTs then one list call every 0.25 s until all
  are ACTIVE (and N parallel DELETEs then the same polling until all are gone);
- declstack: `Reconciler.apply` of a plan for N servers (create + wait), then of the
  empty plan (delete + wait), through openstacksdk as `declstack apply` does.

Prints makespans, ratios to the boot time and to the floor, and request counts.
Asserts nothing.

    .venv/bin/python bench/apply_floor.py --servers 100 --boot 5
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml

from declstack import credentials
from declstack.cloud import OpenStackCloud
from declstack.engine import make_plan
from declstack.model import DesiredServer, Spec
from declstack.reconciler import Reconciler, Settings

calls: Counter[str] = Counter()
_send = requests.Session.send


def counting_send(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
    calls[request.method or "?"] += 1
    return _send(self, request, **kw)


requests.Session.send = counting_send  # type: ignore[method-assign]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_cloud(
    home: Path, boot: float, state_file: Path | None = None
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """`python -m declstack_localcloud serve` in its own process; its clouds.yaml entry."""
    port = free_port()
    clouds = home / "clouds.yaml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "declstack_localcloud",
            "serve",
            "--port",
            str(port),
            "--state",
            str(state_file or home / "state.sqlite"),
            "--clouds-yaml",
            str(clouds),
            "--cloud-name",
            "bench",
            "--boot-seconds",
            str(boot),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    clouds.unlink(missing_ok=True)
    deadline = time.monotonic() + 30
    while not clouds.exists() or "bench" not in (yaml.safe_load(clouds.read_text()) or {}).get(
        "clouds", {}
    ):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the local cloud did not start")
        time.sleep(0.1)
    time.sleep(0.3)
    return process, yaml.safe_load(clouds.read_text())["clouds"]["bench"]


def spec(stack: str, n: int) -> Spec:
    servers = tuple(
        DesiredServer(name=f"node-{i}", image="cirros", flavor="m1.nano", networks="none")
        for i in range(1, n + 1)
    )
    return Spec(stack=stack, servers=servers)


def floor(conn: Any, n: int, parallelism: int) -> tuple[float, float]:
    """The cloud's floor: parallel POSTs, then poll every 0.25 s; the same for delete."""
    compute = conn.compute
    image = next(iter(conn.image.images(name="cirros"))).id
    flavor = conn.compute.find_flavor("m1.nano").id
    body = {"imageRef": image, "flavorRef": flavor, "networks": "none"}

    def create(i: int) -> str:
        answer = compute.post(
            "/servers",
            json={"server": {**body, "name": f"floor-{i}"}},
            microversion="2.37",
        )
        return str(answer.json()["server"]["id"])

    def statuses() -> dict[str, str]:
        listed = compute.get("/servers/detail", params={"name": "^floor-", "limit": "1000"})
        return {s["id"]: s["status"] for s in listed.json()["servers"]}

    started = time.perf_counter()
    with ThreadPoolExecutor(parallelism) as pool:
        ids = list(pool.map(create, range(n)))
    while True:
        seen = statuses()
        if all(seen.get(i) == "ACTIVE" for i in ids):
            break
        time.sleep(0.25)
    up = time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(lambda i: compute.delete(f"/servers/{i}"), ids))
    while set(ids) & set(statuses()):
        time.sleep(0.25)
    down = time.perf_counter() - started
    return up, down


def timed(work: Any) -> tuple[float, int, Any]:
    calls.clear()
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, sum(calls.values()), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--boot", type=float, default=5.0, help="the local cloud's boot time")
    parser.add_argument("--parallelism", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        process, config = start_cloud(Path(home), args.boot)
        try:
            conn = credentials.connect_with_config(config)
            cloud = OpenStackCloud(conn)
            floor_up, floor_down = floor(conn, args.servers, args.parallelism)

            desired = spec("bench", args.servers)
            settings = Settings(parallelism=args.parallelism)
            plan = make_plan(desired, cloud)
            up, up_requests, report = timed(lambda: Reconciler(cloud, settings).apply(plan))
            assert report.converged, report.failures[:3]
            empty = make_plan(Spec(stack="bench", servers=()), cloud)
            down, down_requests, report = timed(lambda: Reconciler(cloud, settings).apply(empty))
            assert report.converged, report.failures[:3]
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"{args.servers} servers, boot {args.boot:g} s, parallelism {args.parallelism}, "
        f"local cloud in its own process (pid {process.pid}), cpus {os.cpu_count()}"
    )
    print(f"{'step':<10} {'declstack':>10} {'floor':>8} {'x floor':>8} {'x boot':>7} requests")
    print(
        f"{'create':<10} {up:9.2f}s {floor_up:7.2f}s {up / floor_up:8.2f} "
        f"{up / args.boot:7.2f} {up_requests}"
    )
    print(
        f"{'delete':<10} {down:9.2f}s {floor_down:7.2f}s {down / floor_down:8.2f} {'':>7} "
        f"{down_requests}"
    )


if __name__ == "__main__":
    main()
