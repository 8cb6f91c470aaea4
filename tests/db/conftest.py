"""A clustered sample of the demo corpus, for the edit tests, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from db.models import ClusterRun
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.conftest import DEMO_QUESTIONS

PARAMS = ClusterParams(min_cluster_size=5, random_state=0)
ROWS = 300


@pytest.fixture
def clustered(
    settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder, tmp_path: Path
) -> sessionmaker[Session]:
    """The first 300 demo questions, ingested and clustered once."""
    with DEMO_QUESTIONS.open(encoding="utf-8") as source:
        lines = [next(source) for _ in range(ROWS + 1)]
    csv = tmp_path / "demo.csv"
    csv.write_text("".join(lines), encoding="utf-8")
    ingest_file(
        csv, "demo", settings=settings, sessions=sessions, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    run_clustering("demo", settings=settings, sessions=sessions, params=PARAMS)
    return sessions


def latest(session: Session) -> ClusterRun:
    run = session.scalar(select(ClusterRun).order_by(ClusterRun.id.desc()))
    assert run is not None
    return run
