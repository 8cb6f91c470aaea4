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


def test_a_reindex_keeps_one_model_to_roll_back_to_and_drops_older_ones(
    corpus: Settings, sessions: sessionmaker[Session], tiny_bert: Path, default_encoder: Encoder
) -> None:
    from db.vectors import encoders_with_vectors

    first = _encoder_id(sessions)
    tiny = Encoder.for_new_corpus(str(tiny_bert), device="cpu")
    reindex("support", str(tiny_bert), settings=corpus, sessions=sessions, encoder=tiny)
    second = _encoder_id(sessions)
    # Back to the first model: its vectors were kept, so nothing is encoded again.
    back = reindex(
        "support", "all-MiniLM-L6-v2", settings=corpus, sessions=sessions, encoder=default_encoder
    )
    assert (back.resumed, back.encoded) == (True, 0)
    assert _encoder_id(sessions) == first
    with sessions() as session:
        corpus_id = get_corpus(session, "support").id
        assert encoders_with_vectors(session, corpus_id) == sorted([first, second])
    truncated = Encoder.for_new_corpus("all-MiniLM-L6-v2", truncate_dim=64, device="cpu")
    reindex("support", "all-MiniLM-L6-v2", settings=corpus, sessions=sessions, encoder=truncated)
    with sessions() as session:  # the tiny model's vectors are two swaps old: gone
        assert encoders_with_vectors(session, corpus_id) == sorted([first, _encoder_id(sessions)])
