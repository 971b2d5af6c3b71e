"""Foreground serving for people: write clouds.yaml, print how to use it, stop on a signal."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .cloud import LocalCloud


def _load_yaml_or_json(text: str) -> dict[str, Any]:
    """Read an existing clouds.yaml; PyYAML when present, JSON (a YAML subset) otherwise."""
    try:
        import yaml

        loaded = yaml.safe_load(text)
    except ImportError:
        loaded = json.loads(text) if text.strip() else None
    return loaded if isinstance(loaded, dict) else {}


def _dump(data: dict[str, Any]) -> str:
    try:
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    except ImportError:
        return json.dumps(data, indent=2) + "\n"


def write_clouds_yaml(path: Path, cloud: LocalCloud, cloud_name: str) -> None:
    """Merge `<name>` and `<name>-admin` into clouds.yaml, keeping every other cloud."""
    existing = _load_yaml_or_json(path.read_text()) if path.exists() else {}
    clouds = existing.get("clouds")
    if not isinstance(clouds, dict):
        clouds = {}
    clouds[cloud_name] = cloud.cloud_config()
    clouds[f"{cloud_name}-admin"] = cloud.admin_cloud_config()
    existing["clouds"] = clouds
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dump(existing))
    os.replace(tmp, path)


def run(
    host: str,
    port: int,
    state_path: str | Path | None,
    clouds_yaml_path: str | Path,
    cloud_name: str,
    boot_seconds: float,
) -> None:
    """Serve until SIGINT/SIGTERM; the state file keeps everything for the next run."""
    cloud = LocalCloud(state_path=state_path, host=host, port=port, boot_seconds=boot_seconds)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    cloud.start()
    try:
        clouds_yaml = Path(clouds_yaml_path).resolve()
        write_clouds_yaml(clouds_yaml, cloud, cloud_name)
        print(f"Local cloud listening on {cloud.url} (state: {cloud.state_path})")
        print(f"clouds.yaml: {clouds_yaml} (clouds '{cloud_name}' and '{cloud_name}-admin')")
        print("Try:")
        print(f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml}")
        print(f"  openstack --os-cloud {cloud_name} server list")
        print(f"Faults: curl -X PUT -d '{{\"rate_503\": 0.2}}' {cloud.url}/admin/faults")
        print("Stop with Ctrl-C.", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        cloud.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Local cloud stopped.", file=sys.stderr)
