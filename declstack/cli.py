"""The command line: parse options, call the pipeline, map outcomes to exit codes.

Exit codes: 0 success (for `plan --detailed-exitcode`: no changes), 1 error,
2 changes present (`plan --detailed-exitcode` only). Errors are printed as a
message and a hint on stderr, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from declstack import __version__
from declstack.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Interrupted, UserError
from declstack.model import Action, Kind, PlanOptions
from declstack.spec import SpecError, load_spec

if TYPE_CHECKING:
    from declstack.cloud import OpenStackCloud
    from declstack.model import ObservedServer, Plan, Spec
    from declstack.planfile import SavedPlan as PlanFile

T = TypeVar("T")

app = typer.Typer(
    name="declstack",
    help="Declarative provisioner for OpenStack servers, their security groups, key pairs "
    "and floating IPs: validate, plan, apply, destroy.",
    no_args_is_help=True,
    # `declstack --install-completion` (bash, zsh, fish, PowerShell).
    add_completion=True,
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


class ResultFormat(str, Enum):
    text = "text"
    json = "json"


SpecArg = Annotated[Path, typer.Argument(help="The spec file (YAML).", show_default=False)]
SpecOrPlanArg = Annotated[
    Path,
    typer.Argument(
        help="The spec file (YAML), or a plan saved by `declstack plan SPEC --out FILE`: "
        'JSON whose first key is "declstack_saved_plan" (then exactly that plan is '
        "applied, or nothing when the spec or the cloud changed since).",
        show_default=False,
    ),
]
ResultOpt = Annotated[
    ResultFormat,
    typer.Option(
        "--output",
        "-o",
        help="text, or json: one result document on stdout (progress on stderr).",
    ),
]
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
HttpTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--http-timeout",
        min=0.1,
        help="Seconds to wait for the cloud to answer one HTTP request (and at most "
        "--timeout for apply and destroy).",
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option("--connect-timeout", min=0.1, help="Seconds to wait for a TCP connection."),
]
AllowEnvOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-env",
        metavar="NAME",
        help="Let ${NAME} read this OS_* or secret-looking variable (repeatable); "
        "its value is masked in every plan output.",
    ),
]
AllowOutsideOpt = Annotated[
    bool,
    typer.Option(
        "--allow-outside-files",
        help="Let `file:` references read outside the spec's folder.",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each batch to boot or go.")
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="NAME",
        help="Only this server (web-1; web-* for a count group) or address (server.web-1, "
        "security_group.web, keypair.deploy, floating_ip.web-1), with what it needs to "
        "succeed (repeatable).",
    ),
]
MaxDeletionsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-deletions",
        min=0,
        metavar="N",
        help="Refuse a plan that deletes or replaces more than N servers "
        "(overrides the spec's max_deletions).",
    ),
]
DestroyMaxDeletionsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-deletions",
        min=0,
        metavar="N",
        help="Refuse to destroy more than N servers (the spec's max_deletions does not "
        "apply to destroy).",
    ),
]
LockTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        min=0.0,
        help="Seconds to wait for the stack's lock while another run holds it (0: refuse).",
    ),
]
LockLeaseOpt = Annotated[
    float,
    typer.Option(
        "--lock-lease",
        min=3.0,
        max=86400.0,
        help="Seconds the lock outlives this run if it is killed (renewed while it runs).",
    ),
]
NoLockOpt = Annotated[
    bool,
    typer.Option(
        "--no-lock",
        help="Run without the stack's lock (for clouds where images cannot be created).",
    ),
]


@dataclass(frozen=True)
class Locking:
    """How apply and destroy take the stack's lock (see declstack.lock)."""

    enabled: bool = True
    timeout: float = 0.0
    lease: float = 60.0


#: How long retries of one request may go on when no --timeout bounds them (plan, status).
PLAN_RETRY_BUDGET = 300.0


@dataclass(frozen=True)
class Http:
    """HTTP timeouts for one command, and how long retries of one request may take."""

    connect: float = 10.0
    read: float = 60.0
    budget: float = PLAN_RETRY_BUDGET

    @classmethod
    def bounded(cls, connect: float, read: float, timeout: float) -> Http:
        """For apply and destroy: no single request, nor its retries, outlives --timeout."""
        return cls(connect=min(connect, timeout), read=min(read, timeout), budget=timeout)


def _version(value: bool) -> None:
    if value:
        out.print(f"declstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours on any output (NO_COLOR works too).")
    ] = False,
) -> None:
    """Declarative provisioner for OpenStack servers."""
    if no_color:
        out.no_color = err.no_color = True


def _fail(message: str, hint: str | None = None, code: int = EXIT_ERROR) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    if hint:
        err.print(f"  hint: {hint}", markup=False)
    return typer.Exit(code)


def _guarded(work: Callable[[], int]) -> None:
    """Run a command body; turn every failure into a message and an exit code.

    SIGINT and SIGTERM (how CI systems cancel a job) both stop the work; an
    unexpected exception is a bug: one line says so and where the trace went.
    """
    try:
        with _interruptible():
            code = work()
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise _fail(f"the spec has {len(exc.problems)} problem(s); nothing was changed") from None
    except UserError as exc:
        raise _fail(exc.message, exc.hint, exc.exit_code) from None
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except typer.Exit:
        raise
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        raise _fail("cancelled; nothing was changed") from None
    except BrokenPipeError:
        # The reader went away (`declstack show FILE | head`): stop quietly, as cat does.
        _quiet_stdout()
        _exit_now(EXIT_BROKEN_PIPE)
    except Exception as exc:
        from declstack_localcloud import LocalCloudError

        if isinstance(exc, LocalCloudError):
            raise _fail(exc.message, exc.hint) from None
        crash = _write_crash_file(exc)
        raise _fail(
            f"internal error ({type(exc).__name__}): this is a bug in declstack",
            f"the full trace is in {crash}; please report it with that file",
        ) from None
    raise typer.Exit(code)


#: 128 + SIGPIPE, what a shell reports for a writer whose reader went away.
EXIT_BROKEN_PIPE = 141


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM raises `Interrupted` like Ctrl-C does, so both unwind the same way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signal.Signals(signum).name, 128 + signum)

    previous = {
        signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _interrupted(exc: KeyboardInterrupt) -> NoReturn:
    from declstack.reconciler import ApplyInterrupted

    cause = exc.cause if isinstance(exc, ApplyInterrupted) else exc
    name, code = (
        (cause.signal_name, cause.exit_code) if isinstance(cause, Interrupted) else ("SIGINT", 130)
    )
    if not isinstance(exc, ApplyInterrupted):
        _fail(f"interrupted by {name}; nothing was changed", code=code)
        _exit_now(code)
    err.print(f"[bold red]error:[/] interrupted by {name}", markup=True)
    for label, items in (
        ("requested", exc.requested),
        ("sent but not answered in time", exc.unanswered),
        ("not requested (cancelled)", exc.not_requested),
    ):
        err.print(f"  {label}: {len(items)}{_listing(items)}", markup=False)
    err.print(
        "  hint: every server requested carries the stack's marker; run apply again to converge",
        markup=False,
    )
    _exit_now(code)


def _listing(items: tuple[str, ...], limit: int = 10) -> str:
    if not items:
        return ""
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return " (" + ", ".join(items[:limit]) + more + ")"


def _exit_now(code: int) -> NoReturn:
    """Exit; if a request is still on the wire after the grace period, do not wait for it."""
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def _write_crash_file(exc: BaseException) -> str:
    """Write the traceback (never locals, so no credentials) to a private file."""
    import tempfile
    import time
    import traceback

    base = os.environ.get("DECLSTACK_CRASH_DIR") or os.environ.get("XDG_STATE_HOME")
    folder = Path(base) if base else Path.home() / ".local" / "state"
    if not os.environ.get("DECLSTACK_CRASH_DIR"):
        folder = folder / "declstack"
    text = (
        f"declstack {__version__} crashed at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
        f"command: {' '.join(sys.argv[1:])}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for where in (folder, Path(tempfile.gettempdir())):
        try:
            where.mkdir(parents=True, exist_ok=True)
            path = where / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            return str(path)
        except OSError:
            continue
    return "(nowhere: no writable folder for a crash file)"


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
def _open_cloud(spec: Spec, flag: str | None, debug: bool, http: Http) -> Iterator[OpenStackCloud]:
    """Connect to the chosen cloud; for `local`, run the built-in cloud meanwhile."""
    from declstack import credentials
    from declstack.cloud import OpenStackCloud

    timeouts = credentials.HttpTimeouts(connect=http.connect, read=http.read)

    spec_cloud = spec.cloud
    if debug:
        credentials.enable_debug_logging(spec.sensitive)
    else:
        credentials.quiet_library_logging()
    choice = credentials.choose_cloud(flag, spec_cloud, os.environ)
    if choice.name == LOCAL_CLOUD:
        from declstack_localcloud import LocalCloud

        state = _local_state_path()
        _make_state_folder(state)
        boot = _boot_seconds(os.environ.get("DECLSTACK_LOCAL_BOOT_SECONDS", "1.0"))
        with LocalCloud(state_path=state, boot_seconds=boot) as local:
            conn = credentials.connect_with_config(local.cloud_config(), timeouts)
            yield OpenStackCloud(conn, retry_budget=http.budget)
        return
    region = credentials.load_region(choice, _prompter())
    yield OpenStackCloud(credentials.connect_region(region, timeouts), retry_budget=http.budget)


def _make_state_folder(state: Path) -> None:
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"{state.parent}: cannot create the local cloud's state folder: {exc.strerror}",
            hint="choose another state file (DECLSTACK_LOCAL_STATE, or --state for serve)",
        ) from None


def _boot_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds <= 86400.0:  # also refuses nan and inf
        raise UserError(
            f"DECLSTACK_LOCAL_BOOT_SECONDS={text!r} is not a number of seconds",
            hint="set it to a number from 0 to 86400, e.g. 1.5, or unset it",
        )
    return seconds


@dataclass(frozen=True)
class Reading:
    """What a spec may read beyond itself: secret-looking variables, files elsewhere."""

    allow_env: tuple[str, ...] = ()
    allow_outside_files: bool = False


def _load(spec_path: Path, reading: Reading) -> Spec:
    if not spec_path.exists():
        raise UserError(f"{spec_path}: no such file")
    return load_spec(
        spec_path,
        allow_env=frozenset(reading.allow_env),
        allow_outside_files=reading.allow_outside_files,
    )


def _render(
    plan: Plan, output: OutputFormat, *, show_noop: bool = False, to_stderr: bool = False
) -> None:
    from declstack import render

    stream, console = (sys.stderr, err) if to_stderr else (sys.stdout, out)
    if output is OutputFormat.json:
        stream.write(render.render_json(plan))
    elif output is OutputFormat.markdown:
        stream.write(render.render_markdown(plan))
    else:
        text = render.render_text(plan, color=console.is_terminal, show_noop=show_noop)
        stream.write(text + "\n")
    stream.flush()


#: Plan files are read up to this size (a plan of thousands of servers fits many times).
MAX_PLAN_FILE_BYTES = 64 * 1024 * 1024


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PLAN_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_PLAN_FILE_BYTES:
        raise UserError(f"{path}: larger than {MAX_PLAN_FILE_BYTES} bytes; not a {what}")
    return data


def _is_plan_file(path: Path) -> bool:
    """A saved plan is JSON whose top level has the key "declstack_saved_plan" (written
    first); a spec never has it, so even a truncated plan file is not read as a spec."""
    from declstack.planfile import looks_like_plan_file

    return path.is_file() and looks_like_plan_file(_read_bytes(path, "spec or plan file"))


def _read_plan_file(path: Path) -> PlanFile:
    """Load a plan file and check it whole (checksum, format); it is not trusted."""
    from declstack import planfile

    data = _read_bytes(path, "plan file")
    if not planfile.looks_like_plan_file(data):
        raise UserError(
            f'{path}: not a declstack plan file (no top-level "{planfile.MARKER}" key)',
            hint="plan files are written by: declstack plan SPEC --out FILE",
        )
    return planfile.loads(data, str(path))


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.")],
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
) -> None:
    """Check spec files (schema and structure); no cloud needed."""

    def work() -> int:
        failed = 0
        for path in specs:
            try:
                spec = _load(path, Reading(tuple(allow_env or ()), allow_outside_files))
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
    targets: TargetOpt = None,
    max_deletions: MaxDeletionsOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Also save the plan to FILE, for `declstack apply FILE` (which applies "
            "exactly it) and `declstack show FILE`. It holds no secret.",
        ),
    ] = None,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show what apply would change (a dry run; changes nothing)."""

    def work() -> int:
        from declstack.engine import make_plan

        if _is_plan_file(spec_path):
            raise UserError(
                f"{spec_path} is a saved plan, not a spec",
                hint=f"declstack show {spec_path} shows it; declstack apply {spec_path} applies it",
            )
        reading = Reading(tuple(allow_env or ()), allow_outside_files)
        spec_sha256 = _sha256_of(spec_path) if out_file is not None else ""
        spec = _load(spec_path, reading)
        http = Http(connect=connect_timeout, read=http_timeout)
        options = PlanOptions(tuple(targets or ()), max_deletions)
        with _open_cloud(spec, cloud, debug, http) as port:
            the_plan = make_plan(spec, port, options=options)
            _say_if_locked(port, spec.stack)
        _render(the_plan, output, show_noop=show_noop)
        if out_file is not None:
            where = _SpecSource(spec_path, spec_sha256, _cloud_name(cloud, spec))
            _save_plan(the_plan, out_file, where, options, reading)
        if the_plan.errors:
            return EXIT_ERROR
        if detailed_exitcode and the_plan.pending:
            return EXIT_CHANGES  # servers still in BUILD: apply would wait for them
        return EXIT_OK

    _guarded(work)


@dataclass(frozen=True)
class _SpecSource:
    """The spec a plan is made from (as given, with the sha256 of its bytes when it was
    read) and the cloud chosen for it."""

    path: Path
    sha256: str
    cloud: str | None


def _sha256_of(path: Path) -> str:
    from declstack.planfile import sha256_hex

    return sha256_hex(_read_bytes(path, "spec"))


def _cloud_name(flag: str | None, spec: Spec) -> str | None:
    """The cloud a command uses: --cloud, the spec's `cloud`, OS_CLOUD (None: OS_*)."""
    from declstack.credentials import choose_cloud

    return choose_cloud(flag, spec.cloud, os.environ).name


def _save_plan(
    the_plan: Plan, path: Path, source: _SpecSource, options: PlanOptions, reading: Reading
) -> None:
    """Write the plan file (atomically: a reader never sees half of it)."""
    import tempfile
    import time

    from declstack import planfile

    if the_plan.errors:
        err.print(f"note: the plan has errors, so no plan file was written to {path}", markup=False)
        return
    if path.exists() and path.resolve() == source.path.resolve():
        raise UserError(f"{path}: --out names the spec itself; refusing to overwrite it")
    if _sha256_of(source.path) != source.sha256:
        raise UserError(
            f"{source.path}: the spec changed while the plan was made; no plan file was written",
            hint="run plan again",
        )
    origin = planfile.Origin(
        declstack_version=__version__,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        cloud=source.cloud,
        spec=planfile.SpecRecord(str(source.path), str(source.path.resolve()), source.sha256),
        options=dataclasses.asdict(options),
        allow_env=reading.allow_env,
        allow_outside_files=reading.allow_outside_files,
    )
    text = planfile.dumps(planfile.save(the_plan, origin))
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.resolve().parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise UserError(f"{path}: cannot write the plan file: {exc.strerror or exc}") from None
    changes = len(the_plan.pending)
    err.print(
        f"Saved the plan ({changes} change(s)) to {path}; apply exactly it with: "
        f"declstack apply {path}",
        markup=False,
    )


@contextmanager
def _stack_lock(
    port: OpenStackCloud, stack: str, locking: Locking, operation: str
) -> Iterator[None]:
    """Hold the stack's lock in the cloud for the body (unless --no-lock)."""
    if not locking.enabled:
        err.print(f"warning: running without the lock of stack {stack!r} (--no-lock)")
        yield
        return
    from declstack import lock

    def on_wait(record: lock.LockRecord) -> None:
        err.print(
            f"waiting for the lock of stack {stack!r}, held by {record.holder.describe()}",
            markup=False,
        )

    with lock.holding(
        port.locks(),
        stack,
        lock.Holder.here(operation),
        lease=locking.lease,
        wait=locking.timeout,
        on_wait=_once(on_wait),
    ):
        yield


def _once(report: Callable[[T], None]) -> Callable[[T], None]:
    """`report` the first time only (a wait for the lock is said once, not every poll)."""
    said = False

    def once(value: T) -> None:
        nonlocal said
        if not said:
            said = True
            report(value)

    return once


def _say_if_locked(port: OpenStackCloud, stack: str) -> None:
    """`plan` never takes the lock, but says on stderr when a run holds it now."""
    from declstack import lock

    try:
        held = lock.current_holder(port.locks(), stack)
    except UserError:
        return  # the lock cannot be read (no image service rights): plan goes on
    if held is not None:
        record, now = held
        seconds = int((now - record.since).total_seconds())
        err.print(
            f"note: a run holds the lock of stack {stack!r} now: {record.holder.describe()}, "
            f"for {seconds}s; the cloud may change under this plan",
            markup=False,
        )


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "refusing to change the cloud without confirmation",
            hint="pass --yes when not on a terminal",
        )
    answer = typer.prompt(
        f"{question} Only 'yes' will be accepted", default="", show_default=False, err=True
    )
    if answer.strip() != "yes":
        raise UserError("cancelled; nothing was changed")


def _execute(
    the_plan: Plan,
    port: OpenStackCloud,
    parallelism: int,
    timeout: float,
    verb: str = "Apply",
    output: ResultFormat = ResultFormat.text,
) -> int:
    from declstack.interpolate import mask_text
    from declstack.progress import ApplyDisplay, result_document
    from declstack.reconciler import ApplyInterrupted, ApplyReport, Event, Reconciler, Settings

    def mask(text: str) -> str:
        return mask_text(text, the_plan.sensitive)

    def masked(labels: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(map(mask, labels))

    total = len(the_plan.pending)
    settings = Settings(parallelism=parallelism, create_timeout=timeout, delete_timeout=timeout)
    machine = output is ResultFormat.json
    with ApplyDisplay(err if machine else out, err, total) as display:

        def on_event(event: Event) -> None:
            display.on_event(
                dataclasses.replace(event, address=mask(event.address), message=mask(event.message))
            )

        try:
            report = Reconciler(port, settings, on_event=on_event).apply(the_plan)
        except ApplyInterrupted as stop:
            raise ApplyInterrupted(
                stop.cause,
                masked(stop.requested),
                masked(stop.unanswered),
                masked(stop.not_requested),
            ) from None
    shown = ApplyReport(
        tuple(
            dataclasses.replace(
                r,
                address=mask(r.address),
                message=mask(r.message),
                addresses=tuple((mask(net), mask(ip)) for net, ip in r.addresses),
            )
            for r in report.results
        )
    )
    display.finish(verb=verb, report=shown)
    if machine:
        stack = mask(the_plan.stack)
        _write_result(result_document(verb.lower(), stack, shown.results, seconds=display.seconds))
    return EXIT_OK if report.converged else EXIT_ERROR


def _write_result(document: dict[str, Any]) -> None:
    from declstack.progress import render_result_json

    sys.stdout.write(render_result_json(document))
    sys.stdout.flush()


def _reported(work: Callable[[], int], command: str, output: ResultFormat) -> Callable[[], int]:
    """With `--output json`, a run that stops before or while executing still writes its
    one result document on stdout (outcome `error` or `interrupted`), then fails as
    it would have."""
    if output is not ResultFormat.json:
        return work

    def reported() -> int:
        from declstack.progress import result_document
        from declstack.reconciler import ApplyInterrupted

        def stopped(outcome: str, **detail: Any) -> None:
            _write_result(result_document(command, None, outcome=outcome, **detail))

        try:
            return work()
        except SpecError as exc:
            problems = [str(problem) for problem in exc.problems]
            message = f"the spec has {len(problems)} problem(s); nothing was changed"
            stopped("error", error={"message": message, "hint": None, "problems": problems})
            raise
        except UserError as exc:
            stopped("error", error={"message": exc.message, "hint": exc.hint, "problems": []})
            raise
        except KeyboardInterrupt as exc:
            cause = exc.cause if isinstance(exc, ApplyInterrupted) else exc
            name = cause.signal_name if isinstance(cause, Interrupted) else "SIGINT"
            sent = exc if isinstance(exc, ApplyInterrupted) else None
            stopped(
                "interrupted",
                interrupted={
                    "signal": name,
                    "requested": list(sent.requested) if sent else [],
                    "unanswered": list(sent.unanswered) if sent else [],
                    "not_requested": list(sent.not_requested) if sent else [],
                },
            )
            raise

    return reported


def _converge(
    spec_path: Path,
    cloud: str | None,
    debug: bool,
    make: Callable[[Spec, OpenStackCloud], Plan],
    question: Callable[[Spec, Plan], str],
    yes: bool,
    settings: tuple[int, float],
    http: Http,
    reading: Reading,
    verb: str = "Apply",
    locking: Locking | None = None,
    output: ResultFormat = ResultFormat.text,
) -> int:
    """Lock, plan, show, confirm and execute: the shared body of apply (of a spec or of
    a saved plan) and destroy. With `output` json the plan and progress go to stderr."""
    spec = _load(spec_path, reading)
    with (
        _open_cloud(spec, cloud, debug, http) as port,
        _stack_lock(port, spec.stack, locking or Locking(), verb.lower()),
    ):
        the_plan = make(spec, port)
        _render(the_plan, OutputFormat.text, to_stderr=output is ResultFormat.json)
        if the_plan.errors:
            raise UserError("the plan has errors; nothing was changed")
        if not the_plan.pending:
            if output is ResultFormat.json:
                from declstack.interpolate import mask_text
                from declstack.progress import result_document

                stack = mask_text(spec.stack, spec.sensitive)
                _write_result(result_document(verb.lower(), stack))
            return EXIT_OK
        _confirm(question(spec, the_plan), yes)
        return _execute(the_plan, port, *settings, verb=verb, output=output)


@app.command()
def apply(
    spec_path: SpecOrPlanArg,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    parallelism: ParallelOpt = 10,
    timeout: TimeoutOpt = 900.0,
    targets: TargetOpt = None,
    max_deletions: MaxDeletionsOpt = None,
    output: ResultOpt = ResultFormat.text,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    lock_timeout: LockTimeoutOpt = 0.0,
    lock_lease: LockLeaseOpt = 60.0,
    no_lock: NoLockOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Converge the cloud to the spec, or apply a saved plan exactly (refused if stale)."""
    from declstack.engine import make_plan

    options = PlanOptions(tuple(targets or ()), max_deletions)
    reading = Reading(tuple(allow_env or ()), allow_outside_files)
    http = Http.bounded(connect_timeout, http_timeout, timeout)
    locking = Locking(not no_lock, lock_timeout, lock_lease)

    def work() -> int:
        if _is_plan_file(spec_path):
            given = _Given(cloud, options, reading)
            saved = _Saved(spec_path, _read_plan_file(spec_path))
            return _apply_saved(
                saved, given, debug, yes, (parallelism, timeout), http, locking, output
            )
        return _converge(
            spec_path,
            cloud,
            debug,
            lambda spec, port: make_plan(spec, port, options=options),
            lambda spec, _: f"Apply these changes to stack {spec.stack!r}?",
            yes,
            (parallelism, timeout),
            http,
            reading,
            locking=locking,
            output=output,
        )

    _guarded(_reported(work, "apply", output))


@dataclass(frozen=True)
class _Given:
    """The planning options given on the command line beside a plan file."""

    cloud: str | None
    options: PlanOptions
    reading: Reading


@dataclass(frozen=True)
class _Saved:
    """A plan file, read and checked, and where it was read from."""

    path: Path
    plan: PlanFile


def _apply_saved(
    saved: _Saved,
    given: _Given,
    debug: bool,
    yes: bool,
    settings: tuple[int, float],
    http: Http,
    locking: Locking,
    output: ResultFormat,
) -> int:
    """`apply FILE`: the same path as `apply SPEC` (cloud, lock, plan, show, confirm,
    execute), planning with the file's options and refusing unless the fresh plan is
    the plan the file holds."""
    from declstack import planfile
    from declstack.engine import make_plan

    kept = saved.plan
    planfile.check_usable(kept, __version__, [f.name for f in dataclasses.fields(PlanOptions)])
    options = PlanOptions(**kept.options)
    reading = Reading(kept.allow_env, kept.allow_outside_files)
    _refuse_other_options(saved, given, options, reading)
    spec_path = _saved_spec(kept)

    def make(spec: Spec, port: OpenStackCloud) -> Plan:
        if _cloud_name(kept.cloud, spec) != kept.cloud:  # OS_CLOUD set since an OS_* plan
            raise UserError(
                f"{saved.path} was planned for the cloud of the OS_* variables, not "
                f"{_cloud_name(None, spec)!r}; nothing was changed",
                hint="make a new plan for that cloud",
            )
        fresh = make_plan(spec, port, options=options)
        _saved_spec(kept)  # and not edited while planning
        found = planfile.differences(kept, fresh)
        if found:
            listing = "".join(f"\n  {line}" for line in found)
            raise UserError(
                f"{saved.path}: the spec or the cloud changed since the plan was made "
                f"({kept.created_at}); nothing was changed:{listing}",
                hint=f"review a new plan: declstack plan {kept.spec.path} --out {saved.path}",
            )
        err.print(f"The saved plan {saved.path} still holds.", markup=False)
        return fresh

    return _converge(
        spec_path,
        kept.cloud,
        debug,
        make,
        lambda spec, _: f"Apply the saved plan {saved.path} to stack {spec.stack!r}?",
        yes,
        settings,
        http,
        reading,
        locking=locking,
        output=output,
    )


def _refuse_other_options(
    saved: _Saved, given: _Given, options: PlanOptions, reading: Reading
) -> None:
    """A plan file carries its cloud and options; others given beside it are refused."""
    kept = saved.plan
    if given.cloud is not None and given.cloud != kept.cloud:
        planned = repr(kept.cloud) if kept.cloud else "the cloud of the OS_* variables"
        raise UserError(
            f"{saved.path} was planned for cloud {planned}, not {given.cloud!r}; "
            "nothing was changed",
            hint="apply it without --cloud (it uses the plan's cloud), or make a new plan "
            f"with --cloud {given.cloud}",
        )
    if given.options not in (PlanOptions(), options):
        raise UserError(
            f"--target and --max-deletions come from the plan file {saved.path}; "
            "nothing was changed",
            hint="apply it without them, or make a new plan with them",
        )
    if given.reading not in (Reading(), reading):
        raise UserError(
            f"--allow-env and --allow-outside-files come from the plan file {saved.path}; "
            "nothing was changed",
            hint="apply it without them, or make a new plan with them",
        )


def _saved_spec(kept: PlanFile) -> Path:
    """The spec a plan was made from: at its path as given (from the folder the plan was
    made in, as CI runs it), or at its absolute path only when nothing is at the path as
    given; its bytes must be the ones planned. A changed spec at the path as given is
    refused even when the old one still sits at the absolute path."""
    from declstack.planfile import sha256_hex

    given = Path(kept.spec.path)
    path = given if given.is_file() else Path(kept.spec.absolute_path)
    if not path.is_file():
        raise UserError(
            f"the spec the plan was made from is not here: {kept.spec.path} "
            f"(absolute {kept.spec.absolute_path}); nothing was changed",
            hint="run apply from the folder plan ran in, with the same checkout",
        )
    if sha256_hex(_read_bytes(path, "spec")) != kept.spec.sha256:
        raise UserError(
            f"the spec {path} changed since the plan was made (its sha256 differs); "
            "nothing was changed",
            hint=f"review a new plan: declstack plan {kept.spec.path} --out FILE",
        )
    return path


@app.command()
def destroy(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    parallelism: ParallelOpt = 10,
    timeout: TimeoutOpt = 600.0,
    targets: TargetOpt = None,
    max_deletions: DestroyMaxDeletionsOpt = None,
    output: ResultOpt = ResultFormat.text,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    lock_timeout: LockTimeoutOpt = 0.0,
    lock_lease: LockLeaseOpt = 60.0,
    no_lock: NoLockOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Delete everything the stack owns (what it does not own is never touched)."""
    from declstack.engine import make_destroy_plan

    options = PlanOptions(tuple(targets or ()), max_deletions)

    def work() -> int:
        if _is_plan_file(spec_path):
            raise UserError(
                f"{spec_path} is a saved plan; destroy takes the spec",
                hint="declstack destroy SPEC (saved plans are applied with declstack apply FILE)",
            )
        return _converge(
            spec_path,
            cloud,
            debug,
            lambda spec, port: make_destroy_plan(spec, port, options=options),
            lambda spec, plan: f"Destroy {_deletes(plan)} of stack {spec.stack!r}?",
            yes,
            (parallelism, timeout),
            Http.bounded(connect_timeout, http_timeout, timeout),
            Reading(tuple(allow_env or ()), allow_outside_files),
            verb="Destroy",
            locking=Locking(not no_lock, lock_timeout, lock_lease),
            output=output,
        )

    _guarded(_reported(work, "destroy", output))


@app.command()
def show(
    plan_file: Annotated[
        Path,
        typer.Argument(
            help="A plan file written by `declstack plan SPEC --out FILE`.", show_default=False
        ),
    ],
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output",
            "-o",
            help="text, json (the plan as `plan --output json` prints it) or markdown.",
        ),
    ] = OutputFormat.text,
) -> None:
    """Show a saved plan; no cloud needed. The file is checked whole before it is shown."""

    def work() -> int:
        kept = _read_plan_file(plan_file)
        if output is OutputFormat.json:
            sys.stdout.write(json.dumps(kept.plan, indent=2, sort_keys=True, ensure_ascii=False))
            sys.stdout.write("\n")
        elif output is OutputFormat.markdown:
            sys.stdout.write(kept.markdown)
        else:
            cloud = repr(kept.cloud) if kept.cloud else "of the OS_* variables"
            options = [f"--target {t}" for t in kept.options.get("targets", ())]
            if kept.options.get("max_deletions") is not None:
                options.append(f"--max-deletions {kept.options['max_deletions']}")
            out.print(
                f"Saved plan of stack {kept.stack!r} for cloud {cloud}, made {kept.created_at} "
                f"by declstack {kept.declstack_version} from {kept.spec.path} "
                f"(sha256 {kept.spec.sha256[:12]}){''.join(' ' + o for o in options)}",
                markup=False,
            )
            sys.stdout.write("\n" + kept.text)
        sys.stdout.flush()
        return EXIT_OK

    _guarded(work)


@app.command()
def unlock(
    spec_path: SpecArg,
    lock_id: Annotated[
        str,
        typer.Argument(help="The lock's id, as the refused run printed it.", show_default=False),
    ],
    cloud: CloudOpt = None,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Break the stack's lock on purpose (when the run holding it is dead)."""

    def work() -> int:
        from declstack import lock

        spec = _load(spec_path, Reading(tuple(allow_env or ()), allow_outside_files))
        http = Http(connect=connect_timeout, read=http_timeout)
        with _open_cloud(spec, cloud, debug, http) as port:
            broken = lock.break_lock(port.locks(), spec.stack, lock_id, lock.Holder.here("unlock"))
        out.print(
            f"Broke the lock of stack {spec.stack!r} held by {broken.holder.describe()} "
            f"since {broken.since:%Y-%m-%d %H:%M:%S} UTC.",
            markup=False,
        )
        return EXIT_OK

    _guarded(work)


def _deletes(plan: Plan) -> str:
    """`3 server(s), 2 security group(s) and 3 floating IP(s)`: what a destroy removes."""
    words = {
        Kind.SERVER: "server(s)",
        Kind.SECURITY_GROUP: "security group(s)",
        Kind.KEYPAIR: "key pair(s)",
        Kind.FLOATING_IP: "floating IP(s)",
        Kind.SERVER_GROUP: "server group(s)",
        Kind.VOLUME: "volume(s)",
    }
    counts = [
        f"{n} {words[kind]}"
        for kind in Kind
        if (n := sum(1 for c in plan.of_kind(kind) if c.action is Action.DELETE))
    ]
    if len(counts) > 1:
        return ", ".join(counts[:-1]) + " and " + counts[-1]
    return counts[0] if counts else "nothing"


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
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0: in sync, 1: error, 2: drift (apply would act)."
        ),
    ] = False,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the stack's servers: name, id, status, addresses, and drift from the spec."""

    def work() -> int:
        from declstack import inventory
        from declstack.engine import make_plan
        from declstack.ownership import owner_of

        spec = _load(spec_path, Reading(tuple(allow_env or ()), allow_outside_files))
        http = Http(connect=connect_timeout, read=http_timeout)
        with _open_cloud(spec, cloud, debug, http) as port:
            # Drift is drift: the spec's max_deletions guards apply, not a status check.
            the_plan = make_plan(dataclasses.replace(spec, max_deletions=None), port)
            others = port.list_all_servers() if all_servers else []
        rows = [
            _status_row(c.name, c.before, c.action.value, c.reason)
            for c in the_plan.of_kind(Kind.SERVER)
        ]
        mine = {row["id"] for row in rows if row["id"]}
        for server in sorted(others, key=lambda s: (s.name, s.id)):
            if server.id not in mine and not server.is_gone:
                owner = owner_of(server)
                note = f"owned by stack {owner!r}" if owner else "not managed by declstack"
                rows.append(_status_row(server.name, server, "unmanaged", note))
        rows = [_masked_row(row, spec.sensitive) for row in rows]
        if output is OutputFormat.json:
            # The same host facts `declstack inventory` prints (None: not in it).
            hosts = inventory.from_plan(the_plan, spec).by_id()
            for row in rows:
                host = hosts.get(row["id"])
                row["inventory"] = (
                    {"groups": list(host.groups), "host_vars": dict(host.variables)}
                    if host
                    else None
                )
            sys.stdout.write(json.dumps({"stack": spec.stack, "servers": rows}, indent=2) + "\n")
        else:
            _status_table(spec.stack, rows)
        if the_plan.errors:
            return EXIT_ERROR if detailed_exitcode else EXIT_OK
        if detailed_exitcode and the_plan.pending:
            return EXIT_CHANGES  # drift of any kind: apply would change or wait for something
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


def _masked_row(row: dict[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
    from declstack.interpolate import mask_text

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return mask_text(value, sensitive)
        if isinstance(value, list):
            return [mask(item) for item in value]
        return value

    return {key: mask(value) for key, value in row.items()}


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


class InventoryFormat(str, Enum):
    yaml = "yaml"
    json = "json"
    ini = "ini"


@app.command("inventory")
def inventory_command(
    spec_path: SpecArg,
    cloud: CloudOpt = None,
    output: Annotated[
        InventoryFormat,
        typer.Option("--output", "-o", help="yaml (Ansible's yaml plugin), json (script), ini."),
    ] = InventoryFormat.yaml,
    address_network: Annotated[
        str | None,
        typer.Option(
            "--address-network",
            metavar="NETWORK",
            help="ansible_host is the first fixed address on this network "
            "(default: the floating address, else the first fixed one).",
        ),
    ] = None,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print an Ansible inventory of the stack's servers (groups per entry and per tag)."""

    def work() -> int:
        from declstack import inventory

        spec = _load(spec_path, Reading(tuple(allow_env or ()), allow_outside_files))
        http = Http(connect=connect_timeout, read=http_timeout)
        with _open_cloud(spec, cloud, debug, http) as port:
            observed = port.list_stack_servers(spec.stack)
        inv = inventory.build(spec, observed, address_network)
        render = {
            InventoryFormat.yaml: inventory.render_yaml,
            InventoryFormat.json: inventory.render_json,
            InventoryFormat.ini: inventory.render_ini,
        }[output]
        sys.stdout.write(render(inv))
        sys.stdout.flush()
        if inv.left_out:
            err.print(
                f"note: left out {len(inv.left_out)} server(s) the spec no longer has "
                f"(apply deletes them){_listing(inv.left_out)}",
                markup=False,
            )
        return EXIT_OK

    _guarded(work)


@app.command("import")
def import_command(
    spec_path: SpecArg,
    servers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME=SERVER_ID",
            help="A server's name in the spec (web-2 for the second of `web`) and the id of "
            "the existing server to take in under it.",
            show_default=False,
        ),
    ] = None,
    match_names: Annotated[
        bool,
        typer.Option(
            "--match-names",
            help="Also take in every server no stack owns whose name the spec has "
            "(one per name; two of one name are refused).",
        ),
    ] = False,
    steal: Annotated[
        bool, typer.Option("--steal", help="Take named servers even from another stack.")
    ] = False,
    cloud: CloudOpt = None,
    yes: YesOpt = False,
    http_timeout: HttpTimeoutOpt = 60.0,
    connect_timeout: ConnectTimeoutOpt = 10.0,
    allow_env: AllowEnvOpt = None,
    allow_outside_files: AllowOutsideOpt = False,
    lock_timeout: LockTimeoutOpt = 0.0,
    lock_lease: LockLeaseOpt = 60.0,
    no_lock: NoLockOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Take existing servers into the stack: add its marker and fingerprint, change nothing
    else (docs/import.md). The next plan replaces those built otherwise than the spec asks."""

    def work() -> int:
        from declstack import importing

        pairs = importing.parse_pairs(servers or ())
        spec = _load(spec_path, Reading(tuple(allow_env or ()), allow_outside_files))
        http = Http(connect=connect_timeout, read=http_timeout)
        locking = Locking(not no_lock, lock_timeout, lock_lease)
        with (
            _open_cloud(spec, cloud, debug, http) as port,
            _stack_lock(port, spec.stack, locking, "import"),
        ):
            the_plan = importing.prepare(spec, pairs, port, match_names=match_names, steal=steal)
            sys.stdout.write(importing.render_text(the_plan) + "\n")
            sys.stdout.flush()
            if not the_plan.adoptions:
                return EXIT_OK
            count = len(the_plan.adoptions)
            _confirm(f"Import these {count} server(s) into stack {spec.stack!r}?", yes)
            importing.carry_out(
                the_plan,
                port,
                done=lambda adoption: out.print(
                    importing.outcome_line(the_plan, adoption), markup=False
                ),
            )
        return EXIT_OK

    _guarded(work)


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
    hosts: Annotated[
        int, typer.Option("--hosts", min=1, help="Simulated compute hosts to schedule on.")
    ] = 3,
) -> None:
    """Serve the local cloud in the foreground until interrupted."""

    def work() -> int:
        from declstack_localcloud import serve

        state_path = state or _local_state_path()
        _make_state_folder(state_path)
        serve.run(host, port, state_path, clouds_yaml, cloud_name, boot_seconds, hosts=hosts)
        return EXIT_OK

    _guarded(work)


def _usage_errors_are_errors() -> None:
    """Click exits 2 on a usage error, the code `--detailed-exitcode` gives to "changes
    present": a mistyped flag in CI would read as a plan with changes. Make it 1."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "UsageError":
            cls.exit_code = EXIT_ERROR  # type: ignore[attr-defined]


_usage_errors_are_errors()


def main() -> None:
    """Console entry point."""
    app()
