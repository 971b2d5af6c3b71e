"""Error classification: what can be retried, and what the user is told.

Every failure the CLI reports goes through `UserError` (a message, an optional
hint, an exit code); cloud exceptions are classified once, in `classify`.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

#: HTTP statuses after which the same request may succeed later.
RETRYABLE_STATUSES = frozenset({408, 413, 429, 500, 502, 503, 504})
#: Statuses that mean "not processed at all": safe to retry even a create.
NOT_PROCESSED_STATUSES = frozenset({413, 429, 503})
#: Never wait longer than this for one Retry-After, whatever the cloud says.
MAX_RETRY_AFTER = 60.0


class UserError(Exception):
    """A failure to show the user as a message (and hint), never as a traceback."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: stop what is going on, say where it stopped."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


@dataclass(frozen=True)
class Classified:
    """How to treat a failed cloud request."""

    retryable: bool
    not_processed: bool
    status: int | None
    retry_after: float | None
    message: str
    timed_out: bool = False


def _retry_after(headers: object, body: object) -> float | None:
    """Seconds to wait from a Retry-After header or Nova's overLimit retryAfter, capped."""
    value: object = None
    get = getattr(headers, "get", None)
    if callable(get):
        value = get("Retry-After")
    if value is None and isinstance(body, dict):
        for inner in body.values():
            if isinstance(inner, dict) and "retryAfter" in inner:
                value = inner["retryAfter"]
    if value is None:
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(str(value)).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _never_connected(exc: BaseException) -> bool:
    """True only when the TCP connection was never made (so the request was never seen).

    keystoneauth raises ConnectFailure for refused connections *and* for ones
    reset after the request was sent; only the first proves nothing happened.
    """
    for link in _causes(exc):
        if isinstance(link, ConnectionRefusedError) or type(link).__name__ in (
            "NewConnectionError",
            "NameResolutionError",
        ):
            return True
        text = str(link)
        if "NewConnectionError" in text or "Connection refused" in text:
            return True
    return False


def error_message(body: object) -> str | None:
    """The message out of Nova/Keystone/Neutron error bodies ({"itemNotFound": {...}})."""
    if not isinstance(body, dict):
        return None
    for key in ("NeutronError", "error"):
        inner = body.get(key)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    for inner in body.values():
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return None


_UNABLE = re.compile(r"^Unable to establish connection to (?P<url>\S+?):? ")
_REASONS = (
    ("Connection refused", "connection refused: nothing listens there"),
    ("Name or service not known", "the host name does not resolve"),
    ("Temporary failure in name resolution", "the host name does not resolve"),
    ("No route to host", "no route to the host"),
    ("Network is unreachable", "the network is unreachable"),
    ("Connection reset", "the connection was reset"),
    ("RemoteDisconnected", "the connection was closed without an answer"),
)


def _connection_message(message: str) -> str:
    """keystoneauth's 'Unable to establish connection to URL: <urllib3 repr>' as
    'cannot connect to URL (connection refused: ...)': the URL and the reason only."""
    found = _UNABLE.match(message)
    if found is None:
        return message
    reason = next((said for raw, said in _REASONS if raw in message), "connection failed")
    return f"cannot connect to {found.group('url')} ({reason})"


def classify(exc: BaseException) -> Classified:
    """Classify an exception raised by openstacksdk / keystoneauth / requests."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    body: object = None
    if response is not None:
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError, AttributeError):
            body = None
    message = error_message(body) or str(getattr(exc, "details", None) or exc) or type(exc).__name__
    if isinstance(status, int):
        retry_after = _retry_after(getattr(response, "headers", None), body)
        # A 413 without retryAfter is a size or (old Nova) quota limit, not a rate limit;
        # nor is Cinder's quota 413, though it says Retry-After: 0: waiting frees no quota.
        over_quota = status == 413 and "quota" in message.lower()
        rate_limited = (status != 413 or retry_after is not None) and not over_quota
        return Classified(
            retryable=status in RETRYABLE_STATUSES and rate_limited,
            not_processed=status in NOT_PROCESSED_STATUSES and rate_limited,
            status=status,
            retry_after=retry_after,
            message=message,
        )
    never_connected = _never_connected(exc)
    names = " ".join(type(link).__name__ for link in _causes(exc))
    message = _connection_message(message)
    transient = never_connected or any(
        word in names
        for word in ("ConnectFailure", "ConnectionError", "ConnectTimeout", "RemoteDisconnected")
    )
    return Classified(
        retryable=transient,
        not_processed=never_connected,
        status=None,
        retry_after=None,
        message=message,
        timed_out="Timeout" in names,
    )
