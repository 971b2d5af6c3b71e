"""A client killed mid-conversation (a SIGKILLed apply) resets its connection: the
local cloud carries on without printing a traceback for it, but still reports real bugs."""

from __future__ import annotations

import pytest

from declstack_localcloud import LocalCloud
from declstack_localcloud.http import Server


def _report(server: Server, error: BaseException) -> None:
    try:
        raise error
    except BaseException:
        server.handle_error(None, ("127.0.0.1", 1))


@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")])
def test_a_client_hanging_up_is_not_reported(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], error: OSError
) -> None:
    server = cloud._server
    assert isinstance(server, Server)
    _report(server, error)
    assert capsys.readouterr().err == ""


def test_any_other_error_is_still_reported(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    server = cloud._server
    assert isinstance(server, Server)
    _report(server, ValueError("a real bug"))
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: a real bug" in err
