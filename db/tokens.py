"""API tokens: created once (the secret is shown then and never again), stored as a hash.

A token is 32 random bytes, so a plain SHA-256 of it is as good as a slow password hash and
lets a request find its row by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import QclustError
from db.models import ApiToken, TokenScope, utcnow

TOKEN_PREFIX = "qc_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class TokenError(QclustError):
    """A token that cannot be created or revoked as asked."""


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the secret."""

    name: str
    scope: TokenScope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, scope: TokenScope) -> str:
    """Store a new token; returns its secret, which only its hash outlives."""
    if not _NAME.match(name):
        raise TokenError(
            f"a token name is 1 to 100 letters, digits and . _ @ -, starting with a letter or "
            f"digit; not {name!r}"
        )
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named '{name}' exists; revoke it first or pick another name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, scope=scope, token_hash=hash_token(secret)))
    session.flush()
    return secret


def list_tokens(session: Session) -> list[TokenInfo]:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.name))
    return [
        TokenInfo(row.name, row.scope, row.created_at, row.last_used_at, row.revoked_at)
        for row in rows
    ]


def revoke_token(session: Session, name: str) -> None:
    """Revoke by name; the row stays, so the name is remembered in the list."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"no token named '{name}'")
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def active_token_count(session: Session) -> int:
    active = select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))
    return int(session.scalar(active) or 0)


def authenticate(session: Session, secret: str) -> TokenInfo | None:
    """The active token with this secret, its use recorded; None for a wrong or revoked one."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if row is None or row.revoked_at is not None:
        return None
    now, last = utcnow(), row.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite gives naive UTC back
        last = last.replace(tzinfo=now.tzinfo)
    # Record use at most once a minute: a busy caller must not turn every read into a write.
    if last is None or (now - last).total_seconds() > 60:
        row.last_used_at = now
    return TokenInfo(row.name, row.scope, row.created_at, row.last_used_at, row.revoked_at)
