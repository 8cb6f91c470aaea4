"""Who is calling: `Authorization: Bearer <token>`, checked against the hashed tokens in the
database on every request (so a revoked token stops working at once, on every server).

Read scope: search, duplicate checks, corpora, thresholds. Write scope: all of that, and adding
questions, labels, edits and thresholds. An edit is recorded as made by the token's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from app.http.context import AppContext, app_context
from db.models import TokenScope
from db.tokens import authenticate

ANONYMOUS = "http"  # who edits when the server runs with --no-auth

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `qclust tokens create --name NAME --scope read|write`",
)


@dataclass(frozen=True)
class Caller:
    name: str
    scope: TokenScope


def _refuse(message: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def caller(
    request: Request,
    context: Annotated[AppContext, Depends(app_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    if not context.auth:
        return Caller(ANONYMOUS, TokenScope.WRITE)
    if credentials is None:
        if "authorization" in request.headers:
            raise _refuse("the Authorization header must be 'Bearer <token>'", "invalid_request")
        raise _refuse("this needs a token: send 'Authorization: Bearer <token>'")
    with context.service.sessions.begin() as session:
        token = authenticate(session, credentials.credentials)
    if token is None:
        raise _refuse("the token is wrong or revoked", "invalid_token")
    return Caller(token.name, token.scope)


def reader(who: Annotated[Caller, Depends(caller)]) -> Caller:
    return who


def writer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.scope != TokenScope.WRITE:
        raise HTTPException(
            403,
            f"token '{who.name}' may only read; this needs a write token",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    return who


Reader = Annotated[Caller, Depends(reader)]
Writer = Annotated[Caller, Depends(writer)]
