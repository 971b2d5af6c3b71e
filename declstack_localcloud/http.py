"""HTTP plumbing: request/response values, a regex router and a keep-alive threaded server."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

JsonBody = dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; headers are keyed in lower case."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def param(self, name: str) -> str | None:
        """The last value of a query parameter (as WebOb's GET[...] returns), or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """The body decoded as JSON; an undecodable body is the caller's 400."""
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass(frozen=True)
class Response:
    """What a handler returns; `body` is JSON-encoded unless it is already bytes."""

    status: int
    body: JsonBody | bytes = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


class ApiError(Exception):
    """An error response raised from anywhere in a handler, already in the service's shape."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


class DropConnection(Exception):
    """Close the socket without writing any response (a fault a client must survive)."""


C = TypeVar("C")
Handler = Callable[[C, dict[str, str]], Response]


@dataclass(frozen=True)
class Route(Generic[C]):
    method: str
    pattern: re.Pattern[str]
    handler: Handler[C]


class Router(Generic[C]):
    """Maps (method, path regex) to handlers; 404 vs 405 like a real WSGI router."""

    def __init__(self) -> None:
        self._routes: list[Route[C]] = []

    def add(self, method: str, pattern: str, handler: Handler[C]) -> None:
        self._routes.append(Route(method, re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler[C], dict[str, str]] | str:
        """The handler and its path parameters, or "not_found" / "bad_method"."""
        seen_path = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            seen_path = True
            if route.method == method:
                return route.handler, found.groupdict()
        return "bad_method" if seen_path else "not_found"


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the
    # body then waits ~40 ms for the client's delayed ACK on every response.
    disable_nagle_algorithm = True
    server_version = "declstack-localcloud"
    sys_version = ""

    def _handle(self) -> None:
        app: App = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),  # as a WSGI server decodes PATH_INFO
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = app(request)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = b"" if self.command == "HEAD" else response.encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet by default: the cloud is embedded in tests and CLIs."""


class Server(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server bound to one application callable."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request (a killed apply) is normal, not a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, host: str, port: int, app: App) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)
        self.app = app
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_background(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
