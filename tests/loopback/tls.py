"""A reusable HTTPS server on 127.0.0.1 with a throwaway trustme CA.

The Azure SDKs refuse bearer tokens over plain http, so every stand-in speaks TLS. Clients trust the server by
passing ``connection_verify=server.ca_path``. Subclasses implement :meth:`LoopbackHttpsServer.handle`.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import tempfile
import threading
import traceback
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme

_CA_LOCK = threading.Lock()
_CA: trustme.CA | None = None


def _shared_ca() -> trustme.CA:
    """One CA per test process: issuing a leaf is cheap, making a CA less so."""
    global _CA
    with _CA_LOCK:
        if _CA is None:
            _CA = trustme.CA()
        return _CA


class Headers:
    """Case-insensitive, read-only view of request headers (last value wins, as the stand-ins need)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._map = {k.lower(): v for k, v in items}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._map.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class Request:
    """One request as the stand-in saw it. ``target`` is the raw request target (path + query, still encoded)."""

    method: str
    target: str
    headers: Headers
    body: bytes

    @property
    def path(self) -> str:
        """The decoded path, without the query."""
        return urllib.parse.unquote(urllib.parse.urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, decoded; keys as sent (``$skipToken`` and ``$skiptoken`` stay distinct)."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query, keep_blank_values=True)

    def param(self, name: str, *, case_insensitive: bool = False) -> str | None:
        """The single value of a query parameter, or None."""
        for key, values in self.query.items():
            if key == name or (case_insensitive and key.lower() == name.lower()):
                return values[-1]
        return None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What a route answers. ``body`` may be bytes, str, or anything JSON-serialisable."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode("utf-8"), headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode("utf-8"), headers


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, body, dict(headers or {}))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real services; every answer has a Content-Length
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, Headers(list(self.headers.items())), body)
        owner = self.server.owner
        try:
            response = owner._record_and_handle(request)
        except Exception:  # a bug in the stand-in: answer 500 and keep it for the test to see
            owner._errors.append(traceback.format_exc())
            response = Response(500, {"error": {"code": "StandInBug", "message": traceback.format_exc()}})
        payload, headers = response.encoded()
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the request log is ``LoopbackHttpsServer.requests``."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackHttpsServer


class LoopbackHttpsServer:
    """Context manager: an HTTPS server on ``127.0.0.1:<free port>`` in a daemon thread.

    ``url`` is ``https://127.0.0.1:PORT``; ``ca_path`` is the CA's PEM for ``connection_verify``; ``requests`` logs
    every request in arrival order; ``errors`` holds tracebacks of stand-in bugs (tests should assert it is empty).
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self.ca_path = ""
        self.url = ""

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as clients put it in the Host header."""
        return f"127.0.0.1:{self.port}"

    def handle(self, request: Request) -> Response:
        """Answer one request; subclasses implement their routes here. Runs on a server thread."""
        return Response(404, {"error": {"code": "NotFound", "message": f"no route for {request.method} {request.path}"}})

    def _record_and_handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        return self.handle(request)

    def start(self) -> Self:
        ca = _shared_ca()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        self._tmp = Path(tempfile.mkdtemp(prefix="loopback-tls-"))
        ca_file = self._tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)

        server = _Server(("127.0.0.1", 0), _Handler)
        # The handler writes headers and body separately; with Nagle on, every response waits ~40 ms for the
        # client's delayed ACK, which no real Azure endpoint costs. Accepted sockets inherit this on Linux.
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Handshake lazily, on the handler's thread: a client that never finishes TLS must not block accept().
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.owner = self
        self._server = server
        self.url = f"https://127.0.0.1:{self.port}"
        # A short poll interval: shutdown() waits for the serving loop to notice (0.5 s by default, per test).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
