"""`python -m declstack_localcloud serve ...`: run the local cloud without declstack."""

from __future__ import annotations

import argparse
import sys

from .errors import LocalCloudError
from .serve import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m declstack_localcloud")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve in the foreground until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    serve.add_argument("--port", type=int, default=8080, help="listen port (0 = any free port)")
    serve.add_argument(
        "--state", default="localcloud.sqlite", help="SQLite state file, kept across runs"
    )
    serve.add_argument("--clouds-yaml", default="clouds.yaml", help="clouds.yaml to write/merge")
    serve.add_argument("--cloud-name", default="local", help="cloud name in clouds.yaml")
    serve.add_argument(
        "--boot-seconds", type=float, default=1.0, help="time a server spends in BUILD"
    )
    serve.add_argument(
        "--hosts", type=int, default=3, help="simulated compute hosts servers are scheduled on"
    )
    args = parser.parse_args(argv)
    try:
        run(
            args.host,
            args.port,
            args.state,
            args.clouds_yaml,
            args.cloud_name,
            args.boot_seconds,
            hosts=args.hosts,
        )
    except LocalCloudError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
