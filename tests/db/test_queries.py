from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import CorpusNotFoundError
from db.models import Question
from db.queries import (
    count_questions,
    existing_hashes,
    get_corpus,
    get_or_create_corpus,
    insert_questions,
    set_duplicate_threshold,
    summarize_corpora,
)


def _question(corpus_id: int, text: str, digest: str) -> dict[str, object]:
    return {"corpus_id": corpus_id, "text": text, "text_hash": digest, "meta": {"topic": "t"}}


def test_missing_corpus_names_the_known_ones(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        get_or_create_corpus(session, "support")
    with sessions() as session, pytest.raises(CorpusNotFoundError, match="known corpora: support"):
        get_corpus(session, "suport")


def test_get_or_create_returns_the_same_corpus(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first = get_or_create_corpus(session, "support").id
    with sessions.begin() as session:
        assert get_or_create_corpus(session, "support").id == first


def test_questions_are_unique_per_corpus_by_hash(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        a = get_or_create_corpus(session, "a").id
        b = get_or_create_corpus(session, "b").id
        insert_questions(session, [_question(a, "q1", "h1"), _question(a, "q2", "h2")])
        insert_questions(session, [_question(b, "q1", "h1")])  # another corpus: allowed
    with sessions() as session:
        assert existing_hashes(session, a, ["h1", "h3"]) == {"h1"}
        assert count_questions(session, a) == 2
    with pytest.raises(IntegrityError), sessions.begin() as session:
        insert_questions(session, [_question(a, "q1 again", "h1")])


def test_threshold_is_validated_and_summarised(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        corpus_id = get_or_create_corpus(session, "support").id
        insert_questions(session, [_question(corpus_id, "q", "h")])
        set_duplicate_threshold(session, "support", 0.9)
        with pytest.raises(ValueError, match="cosine in"):
            set_duplicate_threshold(session, "support", 1.5)
    with sessions() as session:
        [summary] = summarize_corpora(session)
    assert (summary.name, summary.questions, summary.duplicate_threshold) == ("support", 1, 0.9)


def test_run_numbers_count_within_each_corpus(sessions: sessionmaker[Session]) -> None:
    from db.cluster_queries import run_number
    from db.models import ClusterRun, Corpus, Encoder, RunStatus

    with sessions.begin() as session:
        encoder = Encoder(model="m", dimension=4)
        first, second = Corpus(name="first"), Corpus(name="second")
        session.add_all([encoder, first, second])
        session.flush()
        runs = [
            ClusterRun(corpus_id=corpus.id, encoder_id=encoder.id, status=RunStatus.DONE, params={})
            for corpus in (first, second, first, second, second)
        ]
        session.add_all(runs)
        session.flush()
        assert [run_number(session, run) for run in runs] == [1, 1, 2, 2, 3]


def test_the_summaries_fingerprint_moves_with_everything_they_count(
    sessions: sessionmaker[Session],
) -> None:
    """The UI recounts the summaries only when this moves: a change it misses is a stale
    count on every page."""
    import numpy as np

    from db.models import Encoder, IngestRun, RunStatus
    from db.queries import summaries_fingerprint
    from db.vectors import write_vectors

    def fingerprint() -> tuple[object, ...]:
        with sessions() as session:
            return summaries_fingerprint(session)

    seen = [fingerprint()]
    with sessions.begin() as session:
        corpus = get_or_create_corpus(session, "support")
        corpus_id = corpus.id
    seen.append(fingerprint())  # a corpus made
    with sessions.begin() as session:
        insert_questions(session, [_question(corpus_id, "How do I pay?", "a" * 64)])
    seen.append(fingerprint())  # a question stored
    with sessions.begin() as session:
        encoder = Encoder(model="synthetic", dimension=2)
        session.add(encoder)
        session.flush()
        session.get_one(type(corpus), corpus_id).encoder_id = encoder.id
        question_id = session.scalars(
            select(Question.id).where(Question.corpus_id == corpus_id)
        ).one()
        write_vectors(
            session, corpus_id, encoder.id, np.array([question_id]),
            np.ones((1, 2), dtype=np.float32), "float32",
        )  # fmt: skip
    seen.append(fingerprint())  # a vector written
    with sessions.begin() as session:
        session.add(IngestRun(corpus_id=corpus_id, source="test", status=RunStatus.RUNNING))
    seen.append(fingerprint())  # an ingest started
    with sessions.begin() as session:
        set_duplicate_threshold(session, "support", 0.9)
    seen.append(fingerprint())  # a threshold set
    assert len(set(seen)) == len(seen)
    assert fingerprint() == seen[-1]  # and it stands still while nothing changes
