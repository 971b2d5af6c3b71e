"""Error classification: what can be retried, and what the user is told.

Every failure the CLI reports goes through `UserError` (a message, an optional
hint, an exit code); cloud exceptions are classified once, in `classify`.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

#: HTTP statuses after which the same request may succeed later.
RETRYABLE_STATUSES = frozenset({408, 413, 429, 500, 502, 503, 504})
#: Statuses that mean "not processed at all": safe to retry even a create.
NOT_PROCESSED_STATUSES = frozenset({413, 429, 503})


class UserError(Exception):
    """A failure to show the user as a message (and hint), never as a traceback."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


@dataclass(frozen=True)
class Classified:
    """How to treat a failed cloud request."""

    retryable: bool
    not_processed: bool
    status: int | None
    retry_after: float | None
    message: str


def _retry_after(headers: object, body: object) -> float | None:
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
        return max(0.0, float(str(value)))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(str(value))
        return max(0.0, parsed.timestamp() - time.time())


def _nova_message(body: object) -> str | None:
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
    message = _nova_message(body) or str(getattr(exc, "details", None) or exc) or type(exc).__name__
    if isinstance(status, int):
        headers = getattr(response, "headers", None)
        return Classified(
            retryable=status in RETRYABLE_STATUSES,
            not_processed=status in NOT_PROCESSED_STATUSES,
            status=status,
            retry_after=_retry_after(headers, body),
            message=message,
        )
    name = type(exc).__name__
    refused = "ConnectFailure" in name or "ConnectionRefused" in name
    transient = refused or any(
        word in name for word in ("ConnectionError", "ConnectTimeout", "RetriableConnection")
    )
    return Classified(
        retryable=transient,
        not_processed=refused,
        status=None,
        retry_after=None,
        message=message,
    )
