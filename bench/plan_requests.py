"""Request budget of a no-op plan: N servers with floating IPs, two security groups, a key pair.

Issue 8 asks that a converged plan of 1,000 servers with floating IPs and two
security groups costs at most 16 HTTP requests: one paged list per kind, never one
call per server. This script counts them; it asserts nothing.

    .venv/bin/python bench/plan_requests.py --servers 1000

What it does:

1. Starts the local cloud in this process (loopback, a temporary state file).
2. As admin, through openstacksdk, adds a second subnet (198.18.0.0/20, 4,093
   usable addresses) to the external network `public`: the seeded `public-subnet`
   is a /24 whose pool (203.0.113.10-250) holds 241 floating IPs. Neutron takes
   addresses from the next subnet once one is full; router1's gateway already
   connects `public` to `private-subnet`, so the new addresses can be associated.
3. Writes the spec below (a spec file, read by `load_spec` as `declstack plan`
   reads it) and applies it: N servers on `private`, each in two stack-owned
   security groups (`app` has a rule whose remote is `ssh`), with the stack's key
   pair and `floating_ip: {network: public}`.
4. Runs the no-op plan in a fresh Python process, `--repeat` times, the way
   `declstack plan` does for the built-in cloud: `credentials.connect_with_config`,
   `OpenStackCloud`, `engine.make_plan`. A fresh process authenticates and
   discovers versions again, as every CLI run does; the cloud keeps serving from
   this process, so the client's wall time and peak RSS are its own.
   Every request the client sends is counted (`requests.Session.send`, under
   keystoneauth and openstacksdk) and listed by method and path, with Keystone
   (auth) and version discovery reported apart from the API calls.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

EXTRA_CIDR = "198.18.0.0/20"

SPEC = """\
version: 1
stack: bench
security_groups:
  ssh:
    description: SSH from anywhere
    rules:
      - {{protocol: tcp, port: 22}}
  app:
    description: the app ports, from the ssh group's servers only
    rules:
      - {{protocol: tcp, ports: 8000-8080, remote_group: ssh}}
keypairs:
  deploy:
    public_key: {public_key}
defaults:
  image: cirros
  flavor: m1.nano
  networks: [private]
  key_name: deploy
  security_groups: [ssh, app]
  floating_ip: {{network: public}}
servers:
  - name: node
    count: {count}
"""


def public_key() -> str:
    """A fresh OpenSSH ed25519 public key line (the private half is thrown away)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )

    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    blob = field(b"ssh-ed25519") + field(raw)
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} bench@declstack"


# -- the client side: one no-op plan in a fresh process ----------------------


def classify(method: str, url: str) -> str:
    """auth (Keystone), discovery (a service's version document), or api."""
    path = urlsplit(url).path.rstrip("/")
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "identity":
        return "auth"
    # A service root or its version root: /compute, /compute/v2.1, /networking/v2.0 ...
    if method == "GET" and (len(parts) <= 1 or (len(parts) == 2 and parts[1][:1] == "v")):
        return "discovery"
    return "api"


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM where Linux has it: ru_maxrss of a child started by
    subprocess also counts the parent's peak from before the exec (fork + exec keep it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def client(config_path: str, spec_path: str) -> None:
    """Run make_plan as `declstack plan` does for the local cloud; print JSON numbers."""
    sent: list[dict[str, Any]] = []
    send = requests.Session.send

    def counting_send(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        started = time.perf_counter()
        response = send(self, request, **kw)
        url = request.url or ""
        sent.append(
            {
                "method": request.method,
                "path": urlsplit(url).path,
                "query": urlsplit(url).query,
                "status": response.status_code,
                "class": classify(str(request.method), url),
                "seconds": round(time.perf_counter() - started, 4),
            }
        )
        return response

    requests.Session.send = counting_send  # type: ignore[method-assign]

    from declstack import credentials
    from declstack.cloud import OpenStackCloud
    from declstack.engine import make_plan
    from declstack.spec import load_spec

    rss_before = peak_rss_kib()
    config = json.loads(Path(config_path).read_text())
    started = time.perf_counter()
    spec = load_spec(spec_path)
    loaded = time.perf_counter()
    cloud = OpenStackCloud(credentials.connect_with_config(config))
    plan = make_plan(spec, cloud)
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "requests": sent,
                "spec_seconds": loaded - started,
                "plan_seconds": finished - loaded,
                "has_changes": plan.has_changes,
                "errors": [str(d) for d in plan.errors],
                "changes": len(plan.changes),
                "rss_before_kib": rss_before,
                "rss_peak_kib": peak_rss_kib(),
            }
        )
    )


# -- the driver: the cloud, the stack, then the counted plans -----------------


def add_floating_room(admin: Any) -> None:
    """A second subnet on `public`, so N floating IPs fit (the seeded pool holds 241)."""
    public = admin.network.find_network("public", ignore_missing=False)
    admin.network.create_subnet(
        network_id=public.id,
        name="public-subnet-2",
        ip_version=4,
        cidr=EXTRA_CIDR,
        gateway_ip="198.18.0.1",
        is_dhcp_enabled=False,
    )


def report_run(index: int, run: dict[str, Any]) -> None:
    requests_ = run["requests"]
    by_class = Counter(r["class"] for r in requests_)
    print(
        f"\nrun {index}: plan {run['plan_seconds']:.2f} s (spec load {run['spec_seconds']:.2f} s),"
        f" {len(requests_)} HTTP requests: {by_class['api']} API,"
        f" {by_class['auth']} auth, {by_class['discovery']} discovery;"
        f" changes: {run['has_changes']}, errors: {len(run['errors'])};"
        f" client peak RSS {run['rss_peak_kib'] / 1024:.0f} MiB"
        f" (before the plan, imports done: {run['rss_before_kib'] / 1024:.0f} MiB)"
    )
    for number, r in enumerate(requests_, 1):
        query = f"?{r['query']}" if r["query"] else ""
        print(
            f"  {number:2d}. {r['class']:<9} {r['method']:<4} {r['path']}{query}"
            f"  -> {r['status']}  {r['seconds'] * 1000:.0f} ms"
        )
    for problem in run["errors"]:
        print(f"  plan error: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process plans to run")
    parser.add_argument("--client", nargs=2, metavar=("CONFIG", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(*args.client)
        return

    from declstack import credentials
    from declstack.cloud import OpenStackCloud
    from declstack.engine import make_plan
    from declstack.model import Kind
    from declstack.reconciler import Reconciler, Settings
    from declstack.spec import load_spec
    from declstack_localcloud import LocalCloud

    with (
        tempfile.TemporaryDirectory() as home,
        LocalCloud(
            state_path=Path(home) / "s.sqlite", boot_seconds=1.0, delete_seconds=0.5
        ) as local,
    ):
        spec_path = Path(home) / "bench.yaml"
        spec_path.write_text(SPEC.format(public_key=public_key(), count=args.servers))
        config_path = Path(home) / "cloud.json"
        config_path.write_text(json.dumps(local.cloud_config()))
        add_floating_room(credentials.connect_with_config(local.admin_cloud_config()))

        spec = load_spec(spec_path)
        cloud = OpenStackCloud(credentials.connect_with_config(local.cloud_config()))
        print(
            f"{args.servers} servers, each with a floating IP, two security groups, one key"
            f" pair; local cloud in-process (pid {os.getpid()}), parallelism {args.parallelism}"
        )
        started = time.perf_counter()
        plan = make_plan(spec, cloud)
        kinds = Counter(c.kind.value for c in plan.changes if c.action.changes)
        print(f"plan (empty stack): {time.perf_counter() - started:.2f} s, changes {dict(kinds)}")
        started = time.perf_counter()
        report = Reconciler(cloud, Settings(parallelism=args.parallelism)).apply(plan)
        print(
            f"apply: {time.perf_counter() - started:.1f} s, converged: {report.converged}"
            f" ({len(report.failures)} failures)"
        )
        for failure in report.failures[:5]:
            print(f"  failed: {failure}")
        again = make_plan(spec, cloud)
        owned_fips = sum(1 for c in again.changes if c.kind is Kind.FLOATING_IP)
        print(
            f"in-process check plan: changes {again.has_changes}, {owned_fips} floating IPs"
            f" in the plan"
        )

        runs = []
        for index in range(1, args.repeat + 1):
            output = subprocess.run(
                [sys.executable, __file__, "--client", str(config_path), str(spec_path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            run = json.loads(output.strip().splitlines()[-1])
            report_run(index, run)
            runs.append(run)

    counts = sorted({len(r["requests"]) for r in runs})
    api = Counter(f"{r['method']} {r['path']}" for r in runs[0]["requests"] if r["class"] == "api")
    times = ", ".join(f"{r['plan_seconds']:.2f}" for r in runs)
    peaks = ", ".join(f"{r['rss_peak_kib'] / 1024:.0f}" for r in runs)
    print(
        f"\nno-op plan of {args.servers} servers: {counts} HTTP requests per run (budget 16);"
        f" plan wall time {times} s; client peak RSS {peaks} MiB"
    )
    print(f"bench process (local cloud, setup and apply) peak RSS {peak_rss_kib() / 1024:.0f} MiB")
    print("API requests by method + path: " + ", ".join(f"{k} x{v}" for k, v in api.items()))


if __name__ == "__main__":
    main()
