"""Exit codes CI can trust: usage errors are 1 (never 2, "changes present"); status
--detailed-exitcode is 0 in sync, 2 drift; destroy speaks of destroying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from declstack import cli
from declstack.engine import make_plan
from declstack.lock import Holder, acquire
from declstack.reconciler import Reconciler, Settings
from declstack.spec import load_spec
from tests.fakes import FakeCloud
from tests.unit.test_cli import assert_exited
from tests.unit.test_reconciler import CATALOG, Instant

pytestmark = pytest.mark.unit

SPEC = """\
version: 1
stack: demo
defaults: {image: cirros, flavor: m1.tiny, networks: [private]}
servers:
  - {name: web, count: 2}
"""


@pytest.fixture
def on_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, FakeCloud]:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    cloud = FakeCloud(catalog=CATALOG)

    @contextmanager
    def fake_open(*args: object) -> Iterator[FakeCloud]:
        yield cloud

    monkeypatch.setattr(cli, "_open_cloud", fake_open)
    return path, cloud


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "spec.yaml", "--detailed-exitcode", "--bogus"],
        ["status", "spec.yaml", "--detailed-exitcode", "--output", "xml"],
        ["plan"],
    ],
)
def test_a_usage_error_exits_1_never_the_changes_code(argv: list[str]) -> None:
    result = CliRunner().invoke(cli.app, argv)
    assert_exited(result, 1)


def test_status_detailed_exitcode_says_drift(on_fake: tuple[Path, FakeCloud]) -> None:
    path, cloud = on_fake
    runner = CliRunner()
    drift = runner.invoke(cli.app, ["status", str(path), "--detailed-exitcode"])
    assert_exited(drift, 2)
    assert "create: not in the cloud" in drift.stdout
    assert_exited(runner.invoke(cli.app, ["status", str(path)]), 0)

    plan = make_plan(load_spec(path), cloud)
    Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)
    in_sync = runner.invoke(cli.app, ["status", str(path), "--detailed-exitcode", "-o", "json"])
    assert_exited(in_sync, 0)


def test_destroy_speaks_of_destroying(on_fake: tuple[Path, FakeCloud]) -> None:
    path, cloud = on_fake
    plan = make_plan(load_spec(path), cloud)
    Reconciler(cloud, Settings(), clock=Instant().clock()).apply(plan)
    result = CliRunner().invoke(cli.app, ["destroy", str(path), "--yes", "--timeout", "5"])
    assert_exited(result, 0)
    assert "Destroy complete: 2 succeeded, 0 failed." in result.stdout
    assert "Apply complete" not in result.stdout


def test_no_color_is_accepted_everywhere() -> None:
    demo = Path(__file__).resolve().parents[2] / "specs" / "demo.yaml"
    result = CliRunner().invoke(cli.app, ["--no-color", "validate", str(demo)])
    assert_exited(result, 0)
    assert "\x1b[" not in result.stdout + result.stderr


def test_apply_holds_the_stacks_lock_and_releases_it(on_fake: tuple[Path, FakeCloud]) -> None:
    path, cloud = on_fake
    runner = CliRunner()
    assert_exited(runner.invoke(cli.app, ["apply", str(path), "--yes", "--timeout", "5"]), 0)
    (record,) = cloud.lock_store.images.values()
    assert record.state == "released" and record.holder.operation == "apply"

    held = acquire(cloud.lock_store, record_stack(cloud), Holder("bob", "ci", 9, "destroy"))
    refused = runner.invoke(cli.app, ["destroy", str(path), "--yes", "--timeout", "5"])
    assert_exited(refused, 1)
    assert "is locked" in refused.stderr and "bob@ci (pid 9, destroy)" in refused.stderr
    assert "Destroy complete" not in refused.stdout
    plan = runner.invoke(cli.app, ["plan", str(path)])
    assert_exited(plan, 0)
    assert "a run holds the lock" in plan.stderr
    held.release()
    assert_exited(runner.invoke(cli.app, ["destroy", str(path), "--yes", "--timeout", "5"]), 0)


def record_stack(cloud: FakeCloud) -> str:
    """The one stack whose lock the fake cloud has seen."""
    (stack,) = set(cloud.lock_store.stacks.values())
    return stack


def test_a_reader_that_goes_away_ends_the_run_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """`declstack show FILE | head`: no crash file, no traceback, the shell's 141."""

    def work() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_quiet_stdout", lambda: None)  # the runner's stdout is no pipe
    with pytest.raises(typer.Exit) as stopped:
        cli._guarded(work)
    assert stopped.value.exit_code == cli.EXIT_BROKEN_PIPE == 141
