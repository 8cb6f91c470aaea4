from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db.base import Base
from db.migrate import current_revision, head_revision, upgrade
from db.session import make_engine


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # the second run is a no-op, not an error
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"corpus", "question", "encoder", "index_build", "ingest_run"} <= tables


def test_migrations_match_the_models(database_url: str) -> None:
    """A model change without a migration fails here, on both databases."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
