"""The command line: parse options, call the pipeline, map outcomes to exit codes.

Exit codes: 0 success (for `plan --detailed-exitcode`: no changes), 1 error,
2 changes present (`plan --detailed-exitcode` only). Errors are printed as a
message and a hint on stderr, never as a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from declstack import __version__
from declstack.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UserError
from declstack.model import Action
from declstack.spec import SpecError, load_spec

if TYPE_CHECKING:
    from declstack.cloud import OpenStackCloud
    from declstack.model import ObservedServer, Plan, Spec

T = TypeVar("T")

app = typer.Typer(
    name="declstack",
    help="Declarative provisioner for OpenStack servers: validate, plan, apply, destroy.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with locals could print credentials: never show them.
    pretty_exceptions_enable=False,
)
local_cloud_app = typer.Typer(
    help="The built-in local OpenStack-compatible cloud.", no_args_is_help=True
)
app.add_typer(local_cloud_app, name="local-cloud")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

LOCAL_CLOUD = "local"


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


SpecArg = Annotated[Path, typer.Argument(help="The spec file (YAML).", show_default=False)]
CloudOpt = Annotated[
    str | None,
    typer.Option(
        "--cloud", help="clouds.yaml cloud name, or 'local' (overrides the spec's `cloud`)."
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Log every HTTP request (secrets masked).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ParallelOpt = Annotated[
    int, typer.Option("--parallelism", min=1, max=200, help="Requests in flight at once.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each batch to boot or go.")
]


def _version(value: bool) -> None:
    if value:
        out.print(f"declstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Declarative provisioner for OpenStack servers."""


def _fail(message: str, hint: str | None = None, code: int = EXIT_ERROR) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    if hint:
        err.print(f"  hint: {hint}", markup=False)
    return typer.Exit(code)


def _guarded(work: Callable[[], int]) -> None:
    """Run a command body; turn known failures into messages and exit codes."""
    try:
        code = work()
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise _fail(f"the spec has {len(exc.problems)} problem(s); nothing was changed") from None
    except UserError as exc:
        raise _fail(exc.message, exc.hint, exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail(
            "interrupted",
            "servers already requested carry the stack marker; run apply again to converge",
            130,
        ) from None
    raise typer.Exit(code)


def _prompter() -> Callable[[str, bool], str] | None:
    if not sys.stdin.isatty():
        return None
    return lambda label, secret: str(typer.prompt(label, hide_input=secret, err=True))


def _local_state_path() -> Path:
    override = os.environ.get("DECLSTACK_LOCAL_STATE")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "declstack" / "local-cloud.sqlite"


@contextmanager
def _open_cloud(spec_cloud: str | None, flag: str | None, debug: bool) -> Iterator[OpenStackCloud]:
    """Connect to the chosen cloud; for `local`, run the built-in cloud meanwhile."""
    from declstack import credentials
    from declstack.cloud import OpenStackCloud

    if debug:
        credentials.enable_debug_logging()
    else:
        credentials.quiet_library_logging()
    choice = credentials.choose_cloud(flag, spec_cloud, os.environ)
    if choice.name == LOCAL_CLOUD:
        from declstack_localcloud import LocalCloud

        state = _local_state_path()
        state.parent.mkdir(parents=True, exist_ok=True)
        boot = float(os.environ.get("DECLSTACK_LOCAL_BOOT_SECONDS", "1.0"))
        with LocalCloud(state_path=state, boot_seconds=boot) as local:
            yield OpenStackCloud(credentials.connect_with_config(local.cloud_config()))
        return
    region = credentials.load_region(choice, _prompter())
    yield OpenStackCloud(credentials.connect_region(region))


def _load(spec_path: Path) -> Spec:
    if not spec_path.exists():
        raise UserError(f"{spec_path}: no such file")
    return load_spec(spec_path)


def _render(plan: Plan, output: OutputFormat, *, show_noop: bool = False) -> None:
    from declstack import render

    if output is OutputFormat.json:
        sys.stdout.write(render.render_json(plan))
    elif output is OutputFormat.markdown:
        sys.stdout.write(render.render_markdown(plan))
    else:
        sys.stdout.write(
            render.render_text(plan, color=out.is_terminal, show_noop=show_noop) + "\n"
        )
    sys.stdout.flush()


@app.command()
def validate(specs: Annotated[list[Path], typer.Argument(help="Spec files to check.")]) -> None:
    """Check spec files (schema and structure); no cloud needed."""

    def work() -> int:
        failed = 0
        for path in specs:
            try:
                spec = _load(path)
            except SpecError as exc:
                failed += 1
                for problem in exc.problems:
                    err.print(str(problem), markup=False)
                continue
            except UserError as exc:
                failed += 1
                err.print(f"error: {exc.message}", markup=False)
                continue
            out.print(
                f"{path}: valid (stack {spec.stack!r}, {len(spec.servers)} server(s))",
                markup=False,
            )
        if failed:
            raise UserError(f"{failed} of {len(specs)} spec file(s) are invalid")
        return EXIT_OK

    _guarded(work)


@app.command()
def plan(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Plan format.")
    ] = OutputFormat.text,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0: no changes, 1: error, 2: changes.")
    ] = False,
    show_noop: Annotated[
        bool, typer.Option("--show-unchanged", help="List unchanged servers too.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Show what apply would change (a dry run; changes nothing)."""

    def work() -> int:
        from declstack.engine import make_plan

        spec = _load(spec_path)
        with _open_cloud(spec.cloud, cloud, debug) as port:
            the_plan = make_plan(spec, port)
        _render(the_plan, output, show_noop=show_noop)
        if the_plan.errors:
            return EXIT_ERROR
        if detailed_exitcode and the_plan.has_changes:
            return EXIT_CHANGES
        return EXIT_OK

    _guarded(work)


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "refusing to change the cloud without confirmation",
            hint="pass --yes when not on a terminal",
        )
    answer = typer.prompt(f"{question} Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise UserError("cancelled; nothing was changed")


def _execute(the_plan: Plan, port: OpenStackCloud, parallelism: int, timeout: float) -> int:
    from declstack.progress import ApplyDisplay
    from declstack.reconciler import Reconciler, Settings

    total = len(the_plan.pending)
    settings = Settings(parallelism=parallelism, create_timeout=timeout, delete_timeout=timeout)
    with ApplyDisplay(out, err, total) as display:
        report = Reconciler(port, settings, on_event=display.on_event).apply(the_plan)
    display.finish(report)
    return EXIT_OK if report.converged else EXIT_ERROR


def _converge(
    spec_path: Path,
    cloud: str | None,
    debug: bool,
    make: Callable[[Spec, OpenStackCloud], Plan],
    question: Callable[[Spec, Plan], str],
    yes: bool,
    settings: tuple[int, float],
) -> int:
    """Plan, show, confirm and execute: the shared body of apply and destroy."""
    spec = _load(spec_path)
    with _open_cloud(spec.cloud, cloud, debug) as port:
        the_plan = make(spec, port)
        _render(the_plan, OutputFormat.text)
        if the_plan.errors:
            raise UserError("the plan has errors; nothing was changed")
        if not the_plan.pending:
            return EXIT_OK
        _confirm(question(spec, the_plan), yes)
        return _execute(the_plan, port, *settings)


@app.command()
def apply(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    parallelism: ParallelOpt = 10,
    timeout: TimeoutOpt = 900.0,
    debug: DebugOpt = False,
) -> None:
    """Converge the cloud to the spec: create, update, replace and delete servers."""
    from declstack.engine import make_plan

    _guarded(
        lambda: _converge(
            spec_path,
            cloud,
            debug,
            make_plan,
            lambda spec, _: f"Apply these changes to stack {spec.stack!r}?",
            yes,
            (parallelism, timeout),
        )
    )


@app.command()
def destroy(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    parallelism: ParallelOpt = 10,
    timeout: TimeoutOpt = 600.0,
    debug: DebugOpt = False,
) -> None:
    """Delete every server the stack owns (servers it does not own are never touched)."""
    from declstack.engine import make_destroy_plan

    _guarded(
        lambda: _converge(
            spec_path,
            cloud,
            debug,
            make_destroy_plan,
            lambda spec, plan: (
                f"Destroy {plan.count(Action.DELETE)} server(s) of stack {spec.stack!r}?"
            ),
            yes,
            (parallelism, timeout),
        )
    )


@app.command()
def status(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    all_servers: Annotated[
        bool, typer.Option("--all", help="Also list the project's servers this stack does not own.")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="text or json.")
    ] = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    """Show the stack's servers: name, id, status, addresses, and drift from the spec."""

    def work() -> int:
        from declstack.engine import make_plan
        from declstack.ownership import owner_of

        spec = _load(spec_path)
        with _open_cloud(spec.cloud, cloud, debug) as port:
            the_plan = make_plan(spec, port)
            others = port.list_all_servers() if all_servers else []
        rows = [
            _status_row(c.address, c.before, c.action.value, c.reason) for c in the_plan.changes
        ]
        mine = {row["id"] for row in rows if row["id"]}
        for server in sorted(others, key=lambda s: (s.name, s.id)):
            if server.id not in mine and not server.is_gone:
                owner = owner_of(server)
                note = f"owned by stack {owner!r}" if owner else "not managed by declstack"
                rows.append(_status_row(server.name, server, "unmanaged", note))
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps({"stack": spec.stack, "servers": rows}, indent=2) + "\n")
            return EXIT_OK
        _status_table(spec.stack, rows)
        return EXIT_OK

    _guarded(work)


def _status_row(
    name: str, server: ObservedServer | None, drift: str, reason: str
) -> dict[str, Any]:
    return {
        "name": name,
        "id": server.id if server else None,
        "status": server.status if server else "absent",
        "addresses": [f"{net}={ip}" for net, ip in server.addresses] if server else [],
        "drift": drift,
        "reason": reason,
    }


def _status_table(stack: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"stack {stack}", title_justify="left")
    for column in ("name", "id", "status", "addresses", "drift"):
        table.add_column(column)
    for row in rows:
        if row["drift"] == "no-op":
            drift = "in sync"
        elif row["drift"] == "unmanaged":
            drift = row["reason"]
        else:
            drift = f"{row['drift']}: {row['reason']}"
        cells = (row["name"], row["id"] or "-", row["status"], ", ".join(row["addresses"]), drift)
        table.add_row(*(Text(cell) for cell in cells))  # plain text: names may hold [brackets]
    out.print(table)


@local_cloud_app.command("serve")
def local_cloud_serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 0,
    state: Annotated[Path | None, typer.Option(help="SQLite state file.")] = None,
    clouds_yaml: Annotated[
        Path,
        typer.Option(
            "--clouds-yaml", help="Add its entry to this clouds.yaml (other clouds are kept)."
        ),
    ] = Path("clouds.yaml"),
    cloud_name: Annotated[
        str, typer.Option("--cloud-name", help="Name of that entry.")
    ] = "declstack-local",
    boot_seconds: Annotated[
        float, typer.Option("--boot-seconds", min=0.0, help="BUILD -> ACTIVE time.")
    ] = 1.0,
) -> None:
    """Serve the local cloud in the foreground until interrupted."""

    def work() -> int:
        from declstack_localcloud import serve

        state_path = state or _local_state_path()
        state_path.parent.mkdir(parents=True, exist_ok=True)
        serve.run(host, port, state_path, clouds_yaml, cloud_name, boot_seconds)
        return EXIT_OK

    _guarded(work)


def main() -> None:
    """Console entry point."""
    app()
