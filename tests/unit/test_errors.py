"""Classifying cloud failures: what may be retried, and when a create may be resent."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import requests
import urllib3
from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc

from declstack.errors import MAX_RETRY_AFTER, classify

pytestmark = pytest.mark.unit


def chained(*layers: BaseException) -> BaseException:
    """Each layer raised while handling the previous one, as the libraries do."""
    previous: BaseException | None = None
    for layer in layers:
        layer.__context__ = previous
        previous = layer
    assert previous is not None
    return previous


def http_error(status: int, body: dict[str, Any] | None = None, **headers: str) -> Exception:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = json.dumps(body or {}).encode()
    return sdk_exc.HttpException(message="boom", response=response)


def test_refused_connection_was_never_processed() -> None:
    refused = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    exc = chained(refused, requests.ConnectionError("pool"), ksa_exc.ConnectFailure("unable"))
    info = classify(exc)
    assert info.retryable and info.not_processed


def test_reset_after_sending_may_have_been_processed() -> None:
    reset = http.client.RemoteDisconnected("Remote end closed connection without response")
    exc = chained(reset, requests.ConnectionError("aborted"), ksa_exc.ConnectFailure("unable"))
    info = classify(exc)
    assert info.retryable, "a read may be retried"
    assert not info.not_processed, "a create must not be resent: it may exist already"


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "not_processed", "retry_after"),
    [
        (429, {}, {"Retry-After": "3"}, True, True, 3.0),
        (429, {}, {"Retry-After": "86400"}, True, True, MAX_RETRY_AFTER),
        (429, {}, {"Retry-After": "not a date"}, True, True, None),
        (413, {"overLimit": {"code": 413, "retryAfter": "2"}}, {}, True, True, 2.0),
        (413, {"overLimit": {"code": 413, "message": "too big"}}, {}, False, False, None),
        (503, {}, {}, True, True, None),
        (500, {}, {}, True, False, None),
        (409, {"conflictingRequest": {"code": 409, "message": "locked"}}, {}, False, False, None),
        (403, {"forbidden": {"code": 403, "message": "Quota exceeded"}}, {}, False, False, None),
    ],
)
def test_http_statuses(
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    retryable: bool,
    not_processed: bool,
    retry_after: float | None,
) -> None:
    info = classify(http_error(status, body, **headers))
    assert (info.retryable, info.not_processed, info.retry_after) == (
        retryable,
        not_processed,
        retry_after,
    )
    assert info.status == status


def test_nova_message_is_taken_from_the_body() -> None:
    info = classify(http_error(403, {"forbidden": {"code": 403, "message": "Quota exceeded"}}))
    assert info.message == "Quota exceeded"
