"""Chaos: `declstack apply` killed at seeded random moments on a misbehaving cloud.

Each run (one seed) starts from a converged stack, sets a seeded mix of faults on
the local cloud (503, 429, reset after handling, boots that end in ERROR, slower
boots) through `PUT /admin/faults`, starts `declstack apply SPEC --yes` in a
subprocess towards the other spec variant (scale 6 -> 4, image changes, a server
added or removed), and kills it with SIGKILL or SIGTERM a seeded delay after a
seeded anchor (process start, plan shown, first update, first delete, first
create, first wait, first rebuild). Then the faults are cleared and apply runs
once more: it must exit 0 with exactly the spec's servers, each once, all ACTIVE
with the spec's image and metadata, and one Neutron port per server, none
leaked. See docs/chaos.md.

DECLSTACK_CHAOS_RUNS (default 20), DECLSTACK_CHAOS_SEED (first seed, default
7000) and DECLSTACK_CHAOS_LANES (independent clouds run side by side, default 2)
make longer series, DECLSTACK_CHAOS_DIR keeps their logs; one failing seed is reproduced alone with
DECLSTACK_CHAOS_SEED=<seed> DECLSTACK_CHAOS_RUNS=1 DECLSTACK_CHAOS_LANES=1.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import requests
import yaml

from declstack_localcloud import LocalCloud

RUNS = int(os.environ.get("DECLSTACK_CHAOS_RUNS", "20"))
BASE_SEED = int(os.environ.get("DECLSTACK_CHAOS_SEED", "7000"))
LANES = max(1, int(os.environ.get("DECLSTACK_CHAOS_LANES", "2")))

BOOT_SECONDS = 2.0
DELETE_SECONDS = 1.0
STACK = "chaos"
CLOUD = "chaos"
#: How long a run may take to converge once the faults are cleared.
RERUN_TIMEOUT = 180.0
#: How long a killed apply may take to exit after SIGTERM (its grace for requests
#: on the wire is 10 s).
TERM_EXIT_TIMEOUT = 40.0
#: Kill anyway this long after the start when the anchor never showed up.
ANCHOR_DEADLINE = 30.0

#: name -> (regex on an output line, or None for the process start; largest delay
#: after it in seconds; weight of the seeded choice).
ANCHORS: dict[str, tuple[str | None, float, int]] = {
    "start": (None, 1.5, 2),
    "plan": (r"^Plan: ", 0.6, 2),
    "update": (r"has been updated in place", 0.3, 1),
    "delete": (r": deleting [0-9a-f-]{36}$", 1.2, 2),
    "create": (r": creating [0-9a-f-]{36}$", 0.5, 2),
    "wait": (r": creating, BUILD", 2.5, 2),
    "rebuild": (r"building it again", 1.5, 2),
}

#: Seconds a killed apply's lock outlives it (the re-run waits for it to run out).
LOCK_LEASE = 3

#: What the last line printed before the kill says apply was doing (last match wins).
PHASES: tuple[tuple[str, str], ...] = (
    (r"^Plan: |^No changes", "after-plan"),
    (r"has been updated in place", "update"),
    (r": deleting( [0-9a-f-]{36}$|, )|has been destroyed$|old server destroyed", "delete"),
    (r": creating [0-9a-f-]{36}$", "create"),
    (r": creating, |has been (created|replaced|built) \(ACTIVE", "wait"),
    (r"building it again", "rebuild"),
    (r"^Apply complete", "done"),
)


def spec_doc(variant: int) -> dict[str, Any]:
    """Variant 0: web x6, db and cache on cirros. Variant 1: web x4 (new metadata), db
    and cache on debian-12 (replacements; cache creates before it destroys), worker."""
    servers: list[dict[str, Any]] = [
        {"name": "web", "count": 6 if variant == 0 else 4, "metadata": {"role": _role(variant)}},
        {"name": "db", "image": _image(variant)},
        {
            "name": "cache",
            "image": _image(variant),
            "lifecycle": {"create_before_destroy": True},
        },
    ]
    if variant == 1:
        servers.append({"name": "worker"})
    return {
        "version": 1,
        "stack": STACK,
        "defaults": {"image": "cirros", "flavor": "m1.tiny", "networks": ["private"]},
        "servers": servers,
    }


def _role(variant: int) -> str:
    return "web" if variant == 0 else "web-b"


def _image(variant: int) -> str:
    return "cirros" if variant == 0 else "debian-12"


def expected(variant: int) -> dict[str, tuple[str, str | None]]:
    """name -> (image name, metadata `role` or None) of every server of the variant."""
    count = 6 if variant == 0 else 4
    servers: dict[str, tuple[str, str | None]] = {
        f"web-{n}": ("cirros", _role(variant)) for n in range(1, count + 1)
    }
    servers["db"] = (_image(variant), None)
    servers["cache"] = (_image(variant), None)
    if variant == 1:
        servers["worker"] = ("cirros", None)
    return servers


@dataclass(frozen=True)
class Chaos:
    """Everything one seed decides."""

    seed: int
    variant: int  # the spec the killed run and the re-run apply
    sig: signal.Signals
    anchor: str
    delay: float
    faults: dict[str, float | int]
    #: Seconds between the kill and the re-run: leftovers in BUILD finish booting
    #: (ACTIVE or ERROR), so the re-run's plan meets them settled, not building.
    settle: float

    @classmethod
    def of(cls, seed: int) -> Chaos:
        dice = random.Random(seed)
        faults: dict[str, float | int] = {
            "rate_503": dice.choice([0.0, 0.05, 0.15]),
            "rate_429": dice.choice([0.0, 0.05, 0.15]),
            "rate_drop_after": dice.choice([0.0, 0.05, 0.1]),
            "boot_error_rate": dice.choice([0.0, 0.25, 0.5]),
            "boot_extra_seconds": dice.choice([0.0, 1.0, 2.0]),
            "retry_after": dice.choice([0, 1]),
            "seed": seed,
        }
        anchors = [
            name for name in ANCHORS if name != "rebuild" or float(faults["boot_error_rate"]) > 0
        ]
        anchor = dice.choices(anchors, weights=[ANCHORS[a][2] for a in anchors])[0]
        return cls(
            seed=seed,
            variant=seed % 2,
            sig=dice.choice([signal.SIGKILL, signal.SIGTERM]),
            anchor=anchor,
            delay=round(dice.uniform(0.0, ANCHORS[anchor][1]), 2),
            faults=faults,
            settle=dice.choice([0.0, 0.0, 4.0]),
        )

    def fault_label(self) -> str:
        short = {
            "rate_503": "503",
            "rate_429": "429",
            "rate_drop_after": "rst",
            "boot_error_rate": "err",
            "boot_extra_seconds": "slow",
        }
        parts = [f"{label}={self.faults[name]:g}" for name, label in short.items()]
        return " ".join(p for p in parts if not p.endswith("=0")) or "-"


CLEAR_FAULTS: dict[str, float] = {
    "rate_500": 0.0,
    "rate_503": 0.0,
    "rate_429": 0.0,
    "rate_413": 0.0,
    "rate_drop": 0.0,
    "rate_drop_after": 0.0,
    "boot_error_rate": 0.0,
    "boot_extra_seconds": 0.0,
}


@dataclass
class Record:
    """What one seed did and found; `problems` empty means the run passed."""

    chaos: Chaos
    lane: int
    aimed: str = ""
    #: Seconds from the start of the killed apply to the signal (or to its own end).
    at: float = 0.0
    phase: str = ""
    killed_rc: str = ""
    term_report: str = ""
    rebuilds: int = 0
    after_kill: str = ""
    rerun_rc: int | None = None
    rerun_seconds: float = 0.0
    healed: str = ""
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        c = self.chaos
        return [
            str(c.seed),
            str(self.lane),
            "AB"[c.variant],
            c.sig.name,
            f"{self.aimed or f'{c.anchor}+{c.delay:.2f}'} @{self.at:.1f}s",
            c.fault_label(),
            self.phase,
            f"{c.settle:g}",
            self.killed_rc,
            self.term_report or "-",
            str(self.rebuilds),
            self.after_kill,
            "-" if self.rerun_rc is None else str(self.rerun_rc),
            f"{self.rerun_seconds:.1f}",
            self.healed or "-",
            str(self.duplicates),
            "ok" if not self.problems else "FAIL",
        ]


HEADER = [
    "seed",
    "lane",
    "spec",
    "signal",
    "kill at",
    "faults",
    "phase hit",
    "settle",
    "killed rc",
    "req/unans/cancel",
    "rebuilt",
    "left (srv/B/E/extra)",
    "rerun rc",
    "rerun s",
    "healed (E/R/B)",
    "dups",
    "result",
]


def table(records: list[Record]) -> str:
    rows = [HEADER, *(r.row() for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class Output:
    """The lines a subprocess prints, collected as they arrive, with their times."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str, str]] = []
        self.changed = threading.Condition()
        self._threads: list[threading.Thread] = []

    def pump(self, stream: IO[str], name: str) -> None:
        def read() -> None:
            for line in stream:
                with self.changed:
                    self.lines.append((time.monotonic(), name, line.rstrip("\n")))
                    self.changed.notify_all()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)

    def text(self, name: str, until: float | None = None) -> str:
        with self.changed:
            return "\n".join(
                line
                for at, stream, line in self.lines
                if stream == name and (until is None or at <= until)
            )

    def wait_for(self, pattern: str, proc: subprocess.Popen[str], deadline: float) -> float | None:
        """When a line matching `pattern` arrived; None if the process ended or time ran out."""
        regex = re.compile(pattern)
        with self.changed:
            while True:
                for at, _, line in self.lines:
                    if regex.search(line):
                        return at
                if proc.poll() is not None or time.monotonic() > deadline:
                    return None
                self.changed.wait(0.05)


def phase_of(lines: list[str]) -> str:
    """What the last telling line says apply was doing; a server's delete and create
    after its "building it again" are the rebuild."""
    phase, rebuilding = "startup", set()
    for line in lines:
        address = re.match(r"\[\s*[\d.]+s\] (\S+): ", line)
        for pattern, name in PHASES:
            if re.search(pattern, line):
                phase = name
        if phase == "rebuild" and address:
            rebuilding.add(address[1])
        elif phase in ("delete", "create", "wait") and address and address[1] in rebuilding:
            phase = "rebuild"
    return phase


class Api:
    """Raw HTTP as the demo user, and the admin fault endpoint."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.session = requests.Session()
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
        response = self.session.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)
        assert response.status_code == 201, response.text
        self.session.headers["X-Auth-Token"] = response.headers["X-Subject-Token"]
        self.session.headers["OpenStack-API-Version"] = "compute 2.79"
        images = self.get("/image/v2/images")["images"]
        self.image_names = {image["id"]: image["name"] for image in images}

    def get(self, path: str) -> dict[str, Any]:
        response = self.session.get(self.cloud.url + path, timeout=30)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        body: dict[str, Any] = response.json()
        return body

    def set_faults(self, faults: dict[str, Any]) -> None:
        response = self.session.put(f"{self.cloud.url}/admin/faults", json=faults, timeout=30)
        assert response.status_code == 200, response.text

    def servers(self) -> list[dict[str, Any]]:
        """Every server of the project (the cloud is this lane's alone)."""
        found: list[dict[str, Any]] = []
        path = "/compute/v2.1/servers/detail?limit=1000"
        while True:
            page = self.get(path)
            found.extend(page["servers"])
            links = [link for link in page.get("servers_links", []) if link["rel"] == "next"]
            if not links:
                return found
            path = links[0]["href"].removeprefix(self.cloud.url)

    def ports(self) -> list[dict[str, Any]]:
        ports: list[dict[str, Any]] = self.get("/network/v2.0/ports")["ports"]
        return ports


def verify(api: Api, variant: int) -> tuple[list[str], int]:
    """Problems with the converged project, and how many duplicate servers it has."""
    want = expected(variant)
    servers = api.servers()
    names = Counter(server["name"] for server in servers)
    duplicates = sum(n - 1 for n in names.values() if n > 1)
    problems: list[str] = []
    if duplicates:
        problems.append(f"duplicates: {sorted(n for n, k in names.items() if k > 1)}")
    if missing := sorted(set(want) - set(names)):
        problems.append(f"missing servers: {missing}")
    if extra := sorted(set(names) - set(want)):
        problems.append(f"servers beyond the spec: {extra}")
    for server in servers:
        label = f"{server['name']} ({server['id']})"
        if server["status"] != "ACTIVE":
            fault = server.get("fault", {}).get("message", "")
            problems.append(f"{label} is {server['status']} {fault}".rstrip())
        if f"declstack:stack={STACK}" not in server.get("tags", []):
            problems.append(f"{label} lacks the stack tag")
        if server["name"] in want:
            image, role = want[server["name"]]
            actual = api.image_names.get(server["image"]["id"] if server["image"] else "", "?")
            if actual != image:
                problems.append(f"{label} has image {actual}, the spec says {image}")
            if server["metadata"].get("role") != role:
                problems.append(
                    f"{label} has role {server['metadata'].get('role')!r}, the spec says {role!r}"
                )
    live = {server["id"] for server in servers}
    # Only servers' ports: the router's interface on `private` is no server's.
    per_server = Counter(
        port["device_id"]
        for port in api.ports()
        if str(port.get("device_owner") or "").startswith("compute:")
    )
    leaked = sorted(device for device in per_server if device not in live)
    if leaked:
        problems.append(f"ports leaked for servers that are gone: {leaked}")
    for server in servers:
        if per_server[server["id"]] != 1:
            problems.append(f"{server['name']} has {per_server[server['id']]} ports, not 1")
    return problems, duplicates


@dataclass
class Lane:
    """One local cloud and the runs that go through it, one after the other."""

    number: int
    home: Path
    cloud: LocalCloud
    api: Api

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_CLIENT_CONFIG_FILE=str(self.home / "clouds.yaml"),
            PYTHONUNBUFFERED="1",
            COLUMNS="200",
            NO_COLOR="1",
            TERM="dumb",
            DECLSTACK_CRASH_DIR=str(self.home / "crash"),
        )
        return env

    def command(self, variant: int) -> list[str]:
        spec = self.home / f"spec-{'AB'[variant]}.yaml"
        if not spec.exists():
            spec.write_text(yaml.safe_dump(spec_doc(variant), sort_keys=False))
        # A run killed with SIGKILL keeps the stack's lock until its lease runs out:
        # a short lease, and the re-run waits for it (--lock-timeout in `converge`).
        return [
            *(sys.executable, "-m", "declstack", "apply", str(spec), "--cloud", CLOUD, "--yes"),
            *("--lock-lease", str(LOCK_LEASE)),
        ]

    def converge(self, variant: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command(variant), "--timeout", "120", "--lock-timeout", str(4 * LOCK_LEASE)],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=RERUN_TIMEOUT,
        )

    def save(self, seed: int, what: str, out: str, err: str) -> None:
        (self.home / f"{seed}-{what}.out").write_text(out)
        (self.home / f"{seed}-{what}.err").write_text(err)

    def run(self, chaos: Chaos) -> Record:
        record = Record(chaos, self.number)
        try:
            self._kill(chaos, record)
            self.api.set_faults(CLEAR_FAULTS)
            time.sleep(chaos.settle)
            self._look_after_kill(chaos, record)
            self._rerun(chaos, record)
        except Exception as exc:  # a broken harness step is a failed run, never a lost one
            record.problems.append(f"{type(exc).__name__}: {exc}")
        crashes = sorted((self.home / "crash").glob("*")) if (self.home / "crash").exists() else []
        if crashes:
            record.problems.append(f"crash files: {[str(c) for c in crashes]}")
        return record

    def _kill(self, chaos: Chaos, record: Record) -> None:
        self.api.set_faults(chaos.faults)
        output = Output()
        started = time.monotonic()
        proc = subprocess.Popen(
            self.command(chaos.variant),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        output.pump(proc.stdout, "out")
        output.pump(proc.stderr, "err")
        pattern = ANCHORS[chaos.anchor][0]
        anchor_at = (
            started
            if pattern is None
            else output.wait_for(pattern, proc, started + ANCHOR_DEADLINE)
        )
        if anchor_at is None:
            record.aimed = f"{chaos.anchor}?(never)+{chaos.delay:.2f}"
            anchor_at = time.monotonic()
        try:
            proc.wait(timeout=max(0.0, anchor_at + chaos.delay - time.monotonic()))
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        killed_at = time.monotonic()
        record.at = killed_at - started
        if not finished:
            proc.send_signal(chaos.sig)
            try:
                proc.wait(timeout=TERM_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                record.problems.append(
                    f"still running {TERM_EXIT_TIMEOUT:.0f}s after {chaos.sig.name}"
                )
                proc.kill()
                proc.wait()
        output.join()
        out, err = output.text("out"), output.text("err")
        self.save(chaos.seed, "killed", out, err)
        with output.changed:
            before = [line for at, _, line in output.lines if at <= killed_at]
        record.phase = "finished" if finished else phase_of(before)
        record.rebuilds = sum("building it again" in line for line in before)
        rc = proc.returncode
        record.killed_rc = str(rc)
        where = f"killed run (see {self.home}/{chaos.seed}-killed.*)"
        for text in (out, err):
            if "Traceback" in text or "internal error" in text:
                record.problems.append(f"{where}: crashed:\n{err[-2000:]}")
        for line in before:
            if "building it again" in line and not re.search(r"went to ERROR: \S", line):
                record.problems.append(f"{where}: a rebuild without the fault: {line}")
        if finished:
            record.killed_rc += " (done)"
            if rc not in (0, 1):
                record.problems.append(f"{where}: finished with exit code {rc}")
        elif chaos.sig is signal.SIGKILL:
            if rc != -signal.SIGKILL:
                record.problems.append(f"{where}: exit code {rc} after SIGKILL")
        elif rc == -signal.SIGTERM and not out and not err:
            # Before Python has run declstack's code there is no handler to install:
            # the default action ends the process, and nothing was requested.
            record.killed_rc += " (pre-handler)"
        else:
            if rc != 143:
                record.problems.append(f"{where}: exit code {rc} after SIGTERM, not 143")
            if "interrupted by SIGTERM" not in err:
                record.problems.append(f"{where}: no 'interrupted by SIGTERM':\n{err[-2000:]}")
            counts = [
                re.search(rf"^  {label}: (\d+)", err, re.MULTILINE)
                for label in (
                    "requested",
                    r"sent but not answered in time",
                    r"not requested \(cancelled\)",
                )
            ]
            record.term_report = "/".join(m[1] if m else "-" for m in counts)

    def _look_after_kill(self, chaos: Chaos, record: Record) -> None:
        servers = self.api.servers()
        statuses = Counter(server["status"] for server in servers)
        want = expected(chaos.variant)
        names = Counter(server["name"] for server in servers)
        extra = sum(n for name, n in names.items() if name not in want)
        extra += sum(n - 1 for name, n in names.items() if name in want and n > 1)
        record.after_kill = f"{len(servers)}/{statuses['BUILD']}/{statuses['ERROR']}/{extra}"

    def _rerun(self, chaos: Chaos, record: Record) -> None:
        started = time.monotonic()
        result = self.converge(chaos.variant)
        record.rerun_seconds = time.monotonic() - started
        record.rerun_rc = result.returncode
        self.save(chaos.seed, "rerun", result.stdout, result.stderr)
        both = result.stdout + result.stderr
        record.healed = "/".join(
            str(len(re.findall(pattern, both, re.MULTILINE)))
            for pattern in (
                r"^(-/\+|\+/-) \S+ .*: in ERROR",
                r"building it again",
                r"being built \(BUILD\)",
            )
        )
        where = f"re-run (see {self.home}/{chaos.seed}-rerun.*)"
        if result.returncode != 0 or "Traceback" in both:
            record.problems.append(
                f"{where}: exit code {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
                f"\n--- stderr\n{result.stderr[-3000:]}"
            )
        for line in both.splitlines():
            if "building it again" in line and not re.search(r"went to ERROR: \S", line):
                record.problems.append(f"{where}: a rebuild without the fault: {line}")
        problems, record.duplicates = verify(self.api, chaos.variant)
        record.problems.extend(f"after the re-run: {p}" for p in problems)


def run_lane(number: int, home: Path, seeds: list[int]) -> list[Record]:
    """Prime a fresh cloud with the spec the first seed starts from, then run the seeds."""
    home.mkdir(parents=True)
    with LocalCloud(
        state_path=home / "state.sqlite",
        boot_seconds=BOOT_SECONDS,
        delete_seconds=DELETE_SECONDS,
    ) as cloud:
        (home / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {CLOUD: cloud.cloud_config()}}))
        lane = Lane(number, home, cloud, Api(cloud))
        primed = lane.converge(1 - seeds[0] % 2)
        assert primed.returncode == 0, f"priming lane {number}: {primed.stdout}{primed.stderr}"
        return [lane.run(Chaos.of(seed)) for seed in seeds]


def split(seeds: list[int], lanes: int) -> list[list[int]]:
    """Consecutive seeds per lane, so every lane alternates between the two specs."""
    size, rest = divmod(len(seeds), lanes)
    blocks, start = [], 0
    for lane in range(lanes):
        end = start + size + (1 if lane < rest else 0)
        blocks.append(seeds[start:end])
        start = end
    return [block for block in blocks if block]


def summary(records: list[Record], seconds: float) -> str:
    hit = Counter(r.phase for r in records)
    signals = Counter(r.chaos.sig.name for r in records)
    failed = [r for r in records if r.problems]
    lines = [
        table(records),
        "",
        f"runs: {len(records)} (seeds {BASE_SEED}..{BASE_SEED + RUNS - 1}, {LANES} lane(s)), "
        f"failed: {len(failed)}, duplicates after the re-runs: "
        f"{sum(r.duplicates for r in records)}, wall time {seconds:.0f}s",
        "signals: " + ", ".join(f"{k} {v}" for k, v in sorted(signals.items())),
        "phases hit: " + ", ".join(f"{k} {v}" for k, v in sorted(hit.items())),
        "rebuilds seen in killed runs: " + str(sum(r.rebuilds for r in records)),
    ]
    for record in failed:
        lines.append(f"\n--- seed {record.chaos.seed} (lane {record.lane}): {record.chaos}")
        lines.extend(record.problems)
    return "\n".join(lines)


@pytest.mark.timeout(120 + 40 * -(-RUNS // LANES))
def test_killed_applies_converge_on_the_next_run(tmp_path: Path) -> None:
    if kept := os.environ.get("DECLSTACK_CHAOS_DIR"):
        # pytest keeps only its last three tmp folders: keep a long series' logs elsewhere.
        tmp_path = Path(kept) / time.strftime(f"%Y%m%d-%H%M%S-{BASE_SEED}-{RUNS}")
        tmp_path.mkdir(parents=True)
    seeds = list(range(BASE_SEED, BASE_SEED + RUNS))
    started = time.monotonic()
    blocks = split(seeds, LANES)
    with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
        futures = [
            pool.submit(run_lane, n, tmp_path / f"lane-{n}", block)
            for n, block in enumerate(blocks)
        ]
        records = sorted(
            (record for future in futures for record in future.result()),
            key=lambda r: r.chaos.seed,
        )
    report = summary(records, time.monotonic() - started)
    (tmp_path / "chaos-summary.txt").write_text(report + "\n")
    print(f"\n{report}\n(summary and every run's output under {tmp_path})")
    assert len(records) == RUNS
    assert not any(r.problems for r in records), report
