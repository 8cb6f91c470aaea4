"""`create_app`: the FastAPI application over one `Service`, with its limits and checks.

Requests pass, outermost first: the URL length (414), the Host allow-list (400), CORS (only
when origins are given), requests in flight (503), the body size (413), then FastAPI: the token
(401, 403), the parameters (422) and the route, whose service call runs in the thread pool under
the request time limit (503). No lock anywhere: the service is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.http.context import AppContext
from app.http.errors import install_error_handlers
from app.http.hosts import LOOPBACK_NAMES, AllowedHostsMiddleware
from app.http.limits import (
    BodyLimitMiddleware,
    InFlightLimitMiddleware,
    Limits,
    UrlLimitMiddleware,
)
from app.http.routes_read import router as read_router
from app.http.routes_write import router as write_router
from app.service.core import Service

API_VERSION = "1"


def _middleware(
    limits: Limits, allowed_hosts: Sequence[str], cors_origins: Sequence[str]
) -> list[Middleware]:
    stack = [
        Middleware(UrlLimitMiddleware, max_bytes=limits.max_url_bytes),
        Middleware(AllowedHostsMiddleware, hosts=allowed_hosts),
    ]
    if cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "PUT"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    stack += [
        Middleware(InFlightLimitMiddleware, max_requests=limits.max_in_flight),
        Middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes),
    ]
    return stack


def create_app(
    service: Service,
    *,
    auth: bool = True,
    allowed_hosts: Sequence[str] = LOOPBACK_NAMES,
    cors_origins: Sequence[str] = (),
    limits: Limits | None = None,
) -> FastAPI:
    """The API; `allowed_hosts` may hold `*.example.com` patterns, or `*` for any host."""
    limits = limits or Limits()
    app = FastAPI(
        title="qclust",
        version=API_VERSION,
        summary="Semantic search and duplicate-question lookup over stored question corpora.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        middleware=_middleware(limits, allowed_hosts, cors_origins),
    )
    app.state.qclust = AppContext(service, limits, auth)
    install_error_handlers(app)
    app.include_router(read_router)
    app.include_router(write_router)
    return app
