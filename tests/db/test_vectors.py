"""Stored vectors: the seeded id sample the labelling queue draws at scale."""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Corpus, Encoder, Question, QuestionVector
from db.vectors import sample_vector_ids, write_vectors


def _corpus_with_gaps(sessions: sessionmaker[Session]) -> tuple[int, int, list[int]]:
    """40 questions, every third without a vector: ids with gaps, as deletions leave them."""
    with sessions.begin() as session:
        encoder = Encoder(model="synthetic", dimension=4)
        session.add(encoder)
        session.flush()
        corpus = Corpus(name="gaps", encoder_id=encoder.id)
        session.add(corpus)
        session.flush()
        ids = session.scalars(
            insert(Question).returning(Question.id, sort_by_parameter_order=True),
            [{"corpus_id": corpus.id, "text": f"q{i}", "text_hash": f"{i:064x}"}
             for i in range(40)],
        ).all()  # fmt: skip
        kept = np.asarray([i for n, i in enumerate(ids) if n % 3], dtype=np.int64)
        vectors = np.ones((len(kept), 4), dtype=np.float32)
        write_vectors(session, corpus.id, encoder.id, kept, vectors, "float32")
        return corpus.id, encoder.id, kept.tolist()


def test_each_seeded_point_gives_the_first_stored_id_at_or_after_it(
    sessions: sessionmaker[Session],
) -> None:
    corpus_id, encoder_id, stored = _corpus_with_gaps(sessions)
    with sessions() as session:
        sampled = sample_vector_ids(session, corpus_id, encoder_id, 12, seed=3)
        assert sampled == sample_vector_ids(session, corpus_id, encoder_id, 12, seed=3)
        every = session.scalars(
            select(QuestionVector.question_id).order_by(QuestionVector.question_id)
        ).all()
    assert every == stored
    points = np.random.default_rng(3).integers(stored[0], stored[-1] + 1, size=12)
    expected = sorted({next(i for i in stored if i >= point) for point in points.tolist()})
    assert sampled == expected


def test_an_empty_corpus_samples_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert sample_vector_ids(session, 999, 999, 10) == []
