"""Alembic environment: runs on the engine from `db.migrate`, else on `QCLUST_*` settings."""

from __future__ import annotations

from alembic import context

from db.base import Base
from db.models import Corpus  # noqa: F401  (registers the tables on Base.metadata)
from db.session import make_engine
from db.settings import get_settings

config = context.config
engine = config.attributes.get("engine") or make_engine(get_settings().resolved_database_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
