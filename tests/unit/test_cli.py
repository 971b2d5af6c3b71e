"""The CLI without a cloud: validation, exit codes, clear errors and no tracebacks."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from declstack import __version__
from declstack.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
NO_CLOUD_ENV = {
    "OS_CLIENT_CONFIG_FILE": "/nonexistent/clouds.yaml",
    "OS_CLOUD": "",
    "OS_AUTH_URL": "",
}


def assert_exited(result: Result, code: int) -> None:
    """The command exited on purpose with `code`; a crash fails this.

    CliRunner never prints a traceback: an uncaught exception becomes exit code 1
    with the exception in `result.exception`, so `exit_code == 1` alone passes on a
    crash. A deliberate `typer.Exit(n)` shows as `SystemExit(n)` (None when n == 0).
    """
    detail = f"exit {result.exit_code}, {result.exception!r}\n{result.stdout}\n{result.stderr}"
    assert result.exit_code == code, detail
    if code == 0:
        assert result.exception is None, detail
    else:
        assert isinstance(result.exception, SystemExit), detail
        assert result.exception.code == code, detail


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert_exited(result, 0)
    assert result.stdout == f"declstack {__version__}\n"


def test_validate_demo_and_examples() -> None:
    specs = [REPO / "specs" / "demo.yaml", *sorted((REPO / "specs" / "examples").glob("*.yaml"))]
    result = runner.invoke(app, ["validate", *map(str, specs)])
    assert_exited(result, 0)
    assert result.stdout.count(": valid") == len(specs)


def test_validate_reports_every_problem_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nstack: demo\nservers:\n"
        "  - name: web\n    flavour: m1.tiny\n    image: cirros\n"
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert_exited(result, 1)
    assert f"{bad}:5:5:" in result.stderr and "flavour" in result.stderr
    assert "did you mean 'flavor'" in result.stderr
    assert result.stdout == ""


def test_missing_spec_file_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert_exited(result, 1)
    assert "no such file" in result.stderr


def test_missing_credentials_are_named_without_a_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\nstack: demo\nservers: []\n")
    result = runner.invoke(app, ["plan", str(spec)], env=NO_CLOUD_ENV)
    assert_exited(result, 1)
    assert "missing credentials: auth_url" in result.stderr
    assert "OS_AUTH_URL" in result.stderr


def test_unknown_cloud_lists_known_ones(tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  prod:\n    auth: {auth_url: 'http://127.0.0.1:1/v3'}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\nstack: demo\nservers: []\n")
    env = {**NO_CLOUD_ENV, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    result = runner.invoke(app, ["plan", str(spec), "--cloud", "staging"], env=env)
    assert_exited(result, 1)
    assert "'staging'" in result.stderr and "prod" in result.stderr


def test_messages_are_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    odd = tmp_path / "[bold]d[/x]" / "spec.yaml"
    result = runner.invoke(app, ["plan", str(odd)])
    assert_exited(result, 1)  # a rich MarkupError would be a crash: exit 1, no SystemExit
    assert f"{odd}: no such file" in result.stderr
