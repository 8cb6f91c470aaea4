"""What one request may cost: body size (enforced while reading), URL length, requests in
flight, and time. Each limit answers with the API's JSON error, before the route runs where it
can.

The body limit never buffers more than the limit: a `Content-Length` over it is refused before
a byte is read, and a chunked body is counted as it arrives and refused the moment it passes
the limit (uvicorn itself holds at most 64 KiB unread before it stops reading the socket).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import RETRY_AFTER_S, send_error

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    # 1,000 questions of 2,000 characters, each written as 6-byte JSON escapes at worst, fit.
    max_body_bytes: int = 16 * 1024 * 1024
    max_url_bytes: int = 8 * 1024
    max_in_flight: int = 64  # requests being answered at once; more get 503 at once
    request_timeout_s: float = 300.0  # a 1,000-question batch of long texts on 2 CPU cores: ~2 min


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over the limit of {limit} bytes")


class RequestTimeoutError(HTTPException):
    code = "timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            503,
            f"the request ran past its limit of {seconds:g} s; the server finishes the work "
            "anyway, and sending the same request again is safe",
            headers={"Retry-After": RETRY_AFTER_S},
        )


async def run_in_thread(seconds: float, function: Callable[..., T], *args: object) -> T:
    """Run blocking service work in the thread pool (so requests run side by side), answering
    503 when it runs past `seconds`; the thread is left to finish, since Python threads cannot
    be stopped, and every write of the service is safe to repeat."""
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(
                functools.partial(function, *args), abandon_on_cancel=True
            )
    except TimeoutError:
        raise RequestTimeoutError(seconds) from None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            text = length.strip()
            if not text.isdigit():
                await send_error(send, 400, "Content-Length must be a whole number of bytes")
                return
            if len(text) > 20 or int(text) > self.max_bytes:
                await send_error(send, 413, f"the body is over the limit of {self.max_bytes} bytes")
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLargeError as exc:  # read outside a route, where no handler answers it
            if started:
                raise
            await send_error(send, 413, str(exc.detail))


class UrlLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("raw_path") or scope["path"].encode("utf-8")
            if len(path) + len(scope.get("query_string", b"")) > self.max_bytes:
                await send_error(send, 414, f"the URL is over the limit of {self.max_bytes} bytes")
                return
        await self.app(scope, receive, send)


class InFlightLimitMiddleware:
    """At most `max_requests` answered at once: the rest get 503 at once rather than queueing
    behind them (uvicorn's own `limit_concurrency`, which counts idle connections too, is the
    backstop above this)."""

    def __init__(self, app: ASGIApp, *, max_requests: int) -> None:
        self.app, self.max_requests = app, max_requests
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_requests:
            retry = [(b"retry-after", RETRY_AFTER_S.encode("ascii"))]
            message = "the server is answering too many requests"
            await send_error(send, 503, message, retry, code="busy")
            return
        self.in_flight += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
