"""The demo corpus ingested (not clustered) on both databases, for the pipeline's tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.conftest import DEMO_QUESTIONS


@pytest.fixture
def demo(
    settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder
) -> sessionmaker[Session]:
    ingest_file(
        DEMO_QUESTIONS, "demo", settings=settings, sessions=sessions, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    return sessions
