"""Re-encoding a corpus with another model: the swap, the resume, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import Corpus
from db.queries import get_corpus
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from indexer.reindex import reindex
from indexer.search import open_searcher
from tests.conftest import write_csv

QUESTIONS = ["reset my password", "forgot password", "cancel subscription", "dark mode app"]


@pytest.fixture
def corpus(
    settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder, tmp_path: Path
) -> Settings:
    csv = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    ingest_file(csv, "support", settings=settings, sessions=sessions, encoder=default_encoder)
    return settings.model_copy(update={"encode_chunk_rows": 2})


def _encoder_id(sessions: sessionmaker[Session]) -> int | None:
    with sessions() as session:
        return get_corpus(session, "support").encoder_id


def test_reindex_swaps_to_the_new_model(
    corpus: Settings, sessions: sessionmaker[Session], tiny_bert: Path
) -> None:
    before = _encoder_id(sessions)
    report = reindex("support", str(tiny_bert), settings=corpus, sessions=sessions)
    assert (report.encoded, report.index_size, report.resumed) == (4, 4, False)
    assert report.old_model == "all-MiniLM-L6-v2"
    assert _encoder_id(sessions) != before
    searcher = open_searcher("support", settings=corpus, sessions=sessions)
    assert searcher.encoder.dimension == 32  # the tiny model's width
    assert searcher.search("forgot password", k=1)[0].text == "forgot password"
    with pytest.raises(QclustError, match="already encoded with"):
        reindex("support", str(tiny_bert), settings=corpus, sessions=sessions)


def test_an_interrupted_reindex_keeps_the_old_model_and_resumes(
    corpus: Settings, sessions: sessionmaker[Session], tiny_bert: Path
) -> None:
    before = _encoder_id(sessions)

    def stop_after_first_chunk(stage: str, done: int, total: int | None) -> None:
        if stage == "encoding" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex(
            "support", str(tiny_bert), settings=corpus, sessions=sessions,
            progress=stop_after_first_chunk,
        )  # fmt: skip
    assert _encoder_id(sessions) == before  # searches still use the old model
    old = open_searcher("support", settings=corpus, sessions=sessions)
    assert old.encoder.dimension == 384

    report = reindex("support", str(tiny_bert), settings=corpus, sessions=sessions)
    assert (report.resumed, report.encoded, report.index_size) == (True, 2, 4)
    with sessions() as session:
        assert session.query(Corpus).one().encoder_id != before
