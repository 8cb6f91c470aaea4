"""The Host allow-list: a request naming any other host is refused (JSON 400), which keeps a
server on localhost out of reach of DNS-rebinding pages in a browser.

Starlette's `TrustedHostMiddleware` does the same with a plain-text answer; this one answers
with the API's JSON error and understands bracketed IPv6 hosts (`[::1]:8600`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import send_error

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets, lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, port = header.rpartition(":")
    return name if name and port.isdigit() else header


def default_hosts(bound: str, extra: Iterable[str] = ()) -> list[str]:
    """The bound host, the loopback names, and the ones given: what `qclust serve` allows."""
    names = [bound.strip("[]").lower(), *LOOPBACK_NAMES, *(h.lower() for h in extra)]
    return list(dict.fromkeys(name for name in names if name))


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, *, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {host.strip("[]").lower() for host in hosts}
        self.suffixes = tuple(host[1:] for host in self.hosts if host.startswith("*."))
        self.any = ANY_HOST in self.hosts

    def allows(self, name: str) -> bool:
        return self.any or name in self.hosts or (bool(name) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.any:
            header = next((v for k, v in scope["headers"] if k == b"host"), b"")
            name = host_name(header.decode("latin-1"))
            if not self.allows(name):
                shown = name or "(none)"
                await send_error(send, 400, f"host {shown!r} is not allowed", code="bad_host")
                return
        await self.app(scope, receive, send)
