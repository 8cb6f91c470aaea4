"""Running the app on uvicorn: a socket bound first (so port 0 gives a real port to print and
clients can connect at once), an idle timeout for keep-alive connections, a cap on connections,
and JSON for the one answer uvicorn writes itself (400 for a request it cannot parse)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.http.errors import error_body


@dataclass(frozen=True)
class ServerOptions:
    idle_timeout_s: int = 5  # a keep-alive connection with no request for this long is closed
    max_connections: int = 256  # uvicorn's `limit_concurrency`: beyond it, a plain 503
    max_head_bytes: int = 64 * 1024  # request line and headers; longer URLs get a 414 first
    graceful_shutdown_s: int = 10


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering an unparseable request (a negative Content-Length, a
    head over the limit, bad framing) with the API's JSON error instead of plain text."""

    def send_400_response(self, msg: str) -> None:
        message = "invalid HTTP request (malformed head, framing or Content-Length)"
        data = json.dumps(error_body(400, message), separators=(",", ":")).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode("ascii")),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=data),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one; read it from `getsockname`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(
    app: ASGIApp, options: ServerOptions | None = None, *, log_level: str = "warning"
) -> uvicorn.Server:
    options = options or ServerOptions()
    config = uvicorn.Config(
        app,
        http=JsonErrorH11Protocol,
        lifespan="off",
        timeout_keep_alive=options.idle_timeout_s,
        limit_concurrency=options.max_connections,
        h11_max_incomplete_event_size=options.max_head_bytes,
        timeout_graceful_shutdown=options.graceful_shutdown_s,
        server_header=False,
        proxy_headers=False,
        log_level=log_level,
        access_log=log_level in ("info", "debug", "trace"),
    )
    return uvicorn.Server(config)
