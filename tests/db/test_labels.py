"""Pair labels: stored once per pair, replaced on relabelling, and scored against a threshold."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.labels import (
    LabelError,
    label_counts,
    labelled_pairs,
    ordered,
    record_label,
    threshold_quality,
)
from db.models import PairLabel, PairVerdict, Question
from db.queries import get_or_create_corpus, insert_questions


def _corpus_with_questions(session: Session, count: int) -> tuple[int, list[int]]:
    corpus_id = get_or_create_corpus(session, "support").id
    insert_questions(
        session,
        [
            {"corpus_id": corpus_id, "text": f"question {i}", "text_hash": f"h{i}"}
            for i in range(count)
        ],
    )
    return corpus_id, list(session.scalars(select(Question.id).order_by(Question.id)))


def test_a_pair_is_one_pair_whichever_way_round(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        corpus_id, (a, b, *_) = _corpus_with_questions(session, 3)
        record_label(session, corpus_id, (b, a), PairVerdict.DUPLICATE, similarity=0.9, by="ana")
        record_label(session, corpus_id, (a, b), PairVerdict.NOT_DUPLICATE, similarity=0.9, by="bo")
    with sessions() as session:
        label = session.scalars(select(PairLabel)).one()
        assert (label.first_id, label.second_id) == (a, b)
        assert (label.verdict, label.labelled_by) == (PairVerdict.NOT_DUPLICATE, "bo")
        assert label.labelled_at is not None
        assert labelled_pairs(session, corpus_id) == {(a, b)}
        assert session.scalar(select(func.count()).select_from(PairLabel)) == 1


def test_a_question_cannot_pair_with_itself() -> None:
    with pytest.raises(LabelError, match="itself"):
        ordered(4, 4)
    assert ordered(9, 2) == (2, 9)


def test_threshold_quality_counts_hits_and_false_alarms(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        corpus_id, ids = _corpus_with_questions(session, 8)
        labels = [
            ((ids[0], ids[1]), PairVerdict.DUPLICATE, 0.95),  # found
            ((ids[2], ids[3]), PairVerdict.DUPLICATE, 0.70),  # missed
            ((ids[4], ids[5]), PairVerdict.NOT_DUPLICATE, 0.85),  # false alarm
            ((ids[6], ids[7]), PairVerdict.NOT_DUPLICATE, 0.40),  # rightly left
            ((ids[0], ids[7]), PairVerdict.SKIPPED, 0.99),  # does not count
        ]
        for pair, verdict, score in labels:
            record_label(session, corpus_id, pair, verdict, similarity=score, by="ana")
    with sessions() as session:
        quality = threshold_quality(session, corpus_id, 0.80)
        counts = label_counts(session, corpus_id)
    assert (quality.positives, quality.negatives) == (2, 2)
    assert (quality.true_positives, quality.false_positives) == (1, 1)
    assert quality.precision == pytest.approx(0.5)
    assert quality.recall == pytest.approx(0.5)
    assert counts == {
        PairVerdict.DUPLICATE: 2,
        PairVerdict.NOT_DUPLICATE: 2,
        PairVerdict.SKIPPED: 1,
    }


def test_no_labels_means_no_precision_or_recall(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        corpus_id, _ = _corpus_with_questions(session, 2)
    with sessions() as session:
        quality = threshold_quality(session, corpus_id, 0.8)
    assert quality.precision is None
    assert quality.recall is None
