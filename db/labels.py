"""Analysts' duplicate / not-duplicate labels on pairs, and what they say of a threshold."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import QclustError
from db.models import PairLabel, PairVerdict, utcnow


class LabelError(QclustError):
    """A label that cannot be stored as asked."""


def ordered(first_id: int, second_id: int) -> tuple[int, int]:
    """A pair's stored order: the smaller id first, so (a, b) and (b, a) are one pair."""
    if first_id == second_id:
        raise LabelError("a question cannot be paired with itself")
    return (first_id, second_id) if first_id < second_id else (second_id, first_id)


def record_label(
    session: Session,
    corpus_id: int,
    pair: tuple[int, int],
    verdict: PairVerdict,
    *,
    similarity: float,
    by: str,
) -> PairLabel:
    """Store a verdict; labelling a pair again replaces the earlier verdict."""
    first_id, second_id = ordered(*pair)
    label = session.scalar(
        select(PairLabel).where(
            PairLabel.corpus_id == corpus_id,
            PairLabel.first_id == first_id,
            PairLabel.second_id == second_id,
        )
    )
    if label is None:
        label = PairLabel(corpus_id=corpus_id, first_id=first_id, second_id=second_id)
        session.add(label)
    label.verdict, label.similarity = verdict, similarity
    label.labelled_by, label.labelled_at = by, utcnow()
    session.flush()
    return label


def labelled_pairs(session: Session, corpus_id: int) -> set[tuple[int, int]]:
    """Every pair with a verdict, skipped ones included (they leave the queue too)."""
    rows = session.execute(
        select(PairLabel.first_id, PairLabel.second_id).where(PairLabel.corpus_id == corpus_id)
    ).all()
    return {(int(first), int(second)) for first, second in rows}


def label_counts(session: Session, corpus_id: int) -> dict[PairVerdict, int]:
    rows = session.execute(
        select(PairLabel.verdict, func.count())
        .where(PairLabel.corpus_id == corpus_id)
        .group_by(PairLabel.verdict)
    ).all()
    counts = dict.fromkeys(PairVerdict, 0)
    counts.update({PairVerdict(verdict): int(count) for verdict, count in rows})
    return counts


@dataclass(frozen=True)
class ThresholdQuality:
    """How a threshold does on the labels: precision and recall of 'duplicate'."""

    threshold: float
    positives: int
    negatives: int
    true_positives: int
    false_positives: int

    @property
    def precision(self) -> float | None:
        called = self.true_positives + self.false_positives
        return self.true_positives / called if called else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.positives if self.positives else None


def threshold_quality(session: Session, corpus_id: int, threshold: float) -> ThresholdQuality:
    """Score the threshold against every duplicate / not-duplicate label (skips don't count)."""
    rows = session.execute(
        select(PairLabel.verdict, PairLabel.similarity).where(
            PairLabel.corpus_id == corpus_id, PairLabel.verdict != PairVerdict.SKIPPED
        )
    ).all()
    positives = sum(1 for verdict, _ in rows if verdict == PairVerdict.DUPLICATE)
    true_positives = sum(
        1 for verdict, score in rows if verdict == PairVerdict.DUPLICATE and score >= threshold
    )
    false_positives = sum(
        1 for verdict, score in rows if verdict == PairVerdict.NOT_DUPLICATE and score >= threshold
    )
    return ThresholdQuality(
        threshold, positives, len(rows) - positives, true_positives, false_positives
    )


def labelled_texts(session: Session, corpus_id: int) -> list[tuple[str, str, int]]:
    """(first text, second text, 1 or 0) for every duplicate / not-duplicate label."""
    from sqlalchemy.orm import aliased

    from db.models import Question

    first, second = aliased(Question), aliased(Question)
    rows = session.execute(
        select(first.text, second.text, PairLabel.verdict)
        .join(first, PairLabel.first_id == first.id)
        .join(second, PairLabel.second_id == second.id)
        .where(PairLabel.corpus_id == corpus_id, PairLabel.verdict != PairVerdict.SKIPPED)
        .order_by(PairLabel.id)
    ).all()
    return [(a, b, int(verdict == PairVerdict.DUPLICATE)) for a, b, verdict in rows]


def remove_last_label(session: Session, corpus_id: int, *, by: str) -> PairLabel | None:
    """Take back `by`'s most recent label in the corpus (the pair returns to the queue)."""
    label = session.scalar(
        select(PairLabel)
        .where(PairLabel.corpus_id == corpus_id, PairLabel.labelled_by == by)
        .order_by(PairLabel.labelled_at.desc(), PairLabel.id.desc())
        .limit(1)
    )
    if label is not None:
        session.delete(label)
        session.flush()
    return label
