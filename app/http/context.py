"""What every route is given: the process's one `Service`, the limits and whether tokens are
checked; kept on `app.state` so that tests can build as many apps as they like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from app.http.limits import Limits, run_in_thread
from app.service.core import Service

T = TypeVar("T")


@dataclass(frozen=True)
class AppContext:
    service: Service
    limits: Limits
    auth: bool

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Blocking service work, in the thread pool, under the request time limit."""
        return await run_in_thread(self.limits.request_timeout_s, function, *args)


def app_context(request: Request) -> AppContext:
    context = request.app.state.qclust
    if not isinstance(context, AppContext):
        raise TypeError("the app was not made by app.http.app.create_app")
    return context


Context = Annotated[AppContext, Depends(app_context)]
