"""Benchmark: list pages of a local cloud holding many servers.

    .venv/bin/python bench/localcloud_list.py [--servers 10000] [--batch 500]

Creates the servers through the API (multi-create, max_count=batch), then times
1,000-server detail pages with marker paging and a few server-side filters.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import requests

from declstack_localcloud import LocalCloud


def _token(cloud: LocalCloud) -> str:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "demo",
                        "domain": {"name": "Default"},
                        "password": "demo-secret",
                    }
                },
            },
            "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}},
        }
    }
    response = requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=10)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def _timed(session: requests.Session, url: str) -> tuple[float, Any]:
    start = time.perf_counter()
    response = session.get(url, timeout=60)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed, response.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with LocalCloud(boot_seconds=0.0, delete_seconds=0.0) as cloud, requests.Session() as s:
        s.headers.update({"X-Auth-Token": _token(cloud), "OpenStack-API-Version": "compute 2.96"})
        image = s.get(f"{cloud.url}/image/v2/images?name=cirros").json()["images"][0]["id"]
        start = time.perf_counter()
        made = 0
        while made < args.servers:
            count = min(args.batch, args.servers - made)
            server = {
                "name": f"bench-{made}",
                "imageRef": image,
                "flavorRef": "1",
                "networks": "auto",
                "tags": ["even" if made % 2 == 0 else "odd"],
                "min_count": count,
                "max_count": count,
            }
            s.post(f"{cloud.url}/compute/v2.1/servers", json={"server": server}).raise_for_status()
            made += count
        create_s = time.perf_counter() - start
        print(f"created {made} servers in {create_s:.1f} s ({made / create_s:.0f}/s)")

        pages: list[float] = []
        seen = 0
        url: str | None = f"{cloud.url}/compute/v2.1/servers/detail?limit=1000"
        while url:
            elapsed, body = _timed(s, url)
            pages.append(elapsed)
            seen += len(body["servers"])
            links = body.get("servers_links") or []
            url = links[0]["href"] if links else None
        print(
            f"detail pages of 1000: {len(pages)} pages, {seen} servers; "
            f"median {statistics.median(pages) * 1000:.0f} ms, max {max(pages) * 1000:.0f} ms"
        )
        for label, query in (
            ("name regex ^bench-500-12", "name=^bench-500-12&limit=1000"),
            ("tags=even", "tags=even&limit=1000"),
            ("status=ACTIVE", "status=ACTIVE&limit=1000"),
            ("summary list", "limit=1000"),
        ):
            path = "servers" if label == "summary list" else "servers/detail"
            elapsed, body = _timed(s, f"{cloud.url}/compute/v2.1/{path}?{query}")
            print(f"{label}: {len(body['servers'])} servers in {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
