"""What must hold after any crash, race or cache fault once the next command has run:
questions = vectors = index entries, each vector the encoding of its own text, nothing left
running, locked or half-written."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import ClusterRun, CorpusLock, IngestRun, Question, RunStatus
from db.settings import Settings
from db.vectors import vector_ids
from indexer.corpus_index import locate_corpus
from indexer.encoder import Encoder
from indexer.index_cache import read_cache
from indexer.search import open_searcher


def assert_consistent(
    settings: Settings,
    sessions: sessionmaker[Session],
    encoder: Encoder,
    corpus: str,
    *,
    sample: int = 24,
) -> None:
    location = locate_corpus(sessions, settings, corpus)
    with sessions() as session:
        rows = session.execute(
            select(Question.id, Question.text)
            .where(Question.corpus_id == location.corpus_id)
            .order_by(Question.id)
        ).all()
        encoded = vector_ids(session, location.corpus_id, location.encoder_id)
        running = sum(
            session.scalar(
                select(func.count()).where(model.status == RunStatus.RUNNING)
            ) or 0
            for model in (IngestRun, ClusterRun)
        )  # fmt: skip
        locks = session.scalar(select(func.count()).select_from(CorpusLock))
    question_ids = [int(row[0]) for row in rows]
    assert encoded.tolist() == question_ids, "every question has exactly one vector"
    searcher = open_searcher(corpus, settings=settings, sessions=sessions, encoder=encoder)
    assert searcher.size == len(question_ids), "every vector is in the index"
    assert searcher.not_encoded == 0
    cached = read_cache(
        location.cache_folder, encoder_id=location.encoder_id, dimension=location.dimension
    )
    assert cached.ids.tolist() == question_ids
    picks = np.random.default_rng(0).choice(len(rows), size=min(sample, len(rows)), replace=False)
    ids, stored = searcher.vectors_of([question_ids[i] for i in picks])
    texts = {int(i): t for i, t in rows}
    fresh = encoder.encode([texts[int(i)] for i in ids])
    cosines = np.sum(stored * fresh, axis=1)
    assert cosines.min() >= 0.999, f"a stored vector is not its text's: cosine {cosines.min()}"
    assert running == 0, "no run is left 'running'"
    assert locks == 0, "no write lock is left behind"
    assert not list(settings.data_dir.rglob("*.tmp")), "no temporary file is left behind"
