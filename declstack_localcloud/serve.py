"""Foreground serving for people: write clouds.yaml, print how to use it, stop on a signal."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from .cloud import LocalCloud, is_loopback
from .cloudsyaml import write_clouds_yaml


def write_clouds_yaml_for(path: Path, cloud: LocalCloud, cloud_name: str) -> bool:
    """Merge `<name>` and `<name>-admin` into clouds.yaml, keeping every other byte."""
    entries = {cloud_name: cloud.cloud_config(), f"{cloud_name}-admin": cloud.admin_cloud_config()}
    return write_clouds_yaml(path, entries)


def exposure_warning(host: str, port: int, cloud_name: str) -> str:
    """The stderr warning for listening beyond loopback ("" on loopback)."""
    if is_loopback(host):
        return ""
    return (
        f"WARNING: listening on {host} port {port}, beyond loopback: anyone who can reach it"
        " can use this cloud with the well-known passwords in clouds.yaml"
        " (demo/demo-secret, admin/admin-secret).\n"
        "WARNING: /admin/faults now needs the admin token: send X-Auth-Token with a token"
        f" of the admin user (openstack --os-cloud {cloud_name}-admin token issue"
        " -f value -c id).\n"
    )


def _print_usage(cloud: LocalCloud, clouds_yaml: Path, cloud_name: str, out: TextIO) -> None:
    print(f"Local cloud listening on {cloud.url} (state: {cloud.state_path})", file=out)
    print(f"clouds.yaml: {clouds_yaml} (clouds '{cloud_name}' and '{cloud_name}-admin')", file=out)
    print("Try:", file=out)
    print(f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml}", file=out)
    print(f"  openstack --os-cloud {cloud_name} server list", file=out)
    put = f"curl -X PUT -d '{{\"rate_503\": 0.2}}' {cloud.url}/admin/faults"
    if cloud.admin_token_required:
        put = (
            f"TOKEN=$(openstack --os-cloud {cloud_name}-admin token issue -f value -c id); "
            f'curl -H "X-Auth-Token: $TOKEN" ' + put[len("curl ") :]
        )
    print(f"Faults: {put}", file=out)
    print("Stop with Ctrl-C.", file=out, flush=True)


def run(
    host: str,
    port: int,
    state_path: str | Path | None,
    clouds_yaml_path: str | Path,
    cloud_name: str,
    boot_seconds: float,
    stopping: threading.Event | None = None,
    hosts: int = 3,
) -> None:
    """Serve until SIGINT/SIGTERM (or `stopping` is set); the state file keeps everything.

    Every problem the user can fix (state file, address, port, clouds.yaml) raises
    LocalCloudError before or instead of serving; nothing is left open or half-written.
    """
    stopping = stopping or threading.Event()
    cloud = LocalCloud(
        state_path=state_path, host=host, port=port, boot_seconds=boot_seconds, hosts=hosts
    )
    previous: dict[int, object] = {}
    try:
        if threading.current_thread() is threading.main_thread():

            def _stop(signum: int, frame: FrameType | None) -> None:
                stopping.set()

            previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        cloud.start()
        warning = exposure_warning(host, cloud.port, cloud_name)
        if warning:
            sys.stderr.write(warning)
            sys.stderr.flush()
        clouds_yaml = Path(clouds_yaml_path).resolve()
        write_clouds_yaml_for(clouds_yaml, cloud, cloud_name)
        _print_usage(cloud, clouds_yaml, cloud_name, sys.stdout)
        while not stopping.wait(0.5):
            pass
        print("Local cloud stopped.", file=sys.stderr)
    finally:
        cloud.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
