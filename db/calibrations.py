"""Stored threshold calibrations: the newest one sets the corpus's threshold and probabilities."""

from __future__ import annotations

from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.changes import note_change
from db.models import Corpus, PairLabel, PairVerdict, ThresholdCalibration


class FittedCalibration(Protocol):
    """What `indexer.calibration.Calibration` provides (db does not import from indexer)."""

    @property
    def threshold(self) -> float: ...
    @property
    def target_precision(self) -> float | None: ...
    @property
    def positives(self) -> int: ...
    @property
    def negatives(self) -> int: ...
    @property
    def cv_precision(self) -> float: ...
    @property
    def cv_recall(self) -> float: ...
    @property
    def knots_x(self) -> list[float]: ...
    @property
    def knots_y(self) -> list[float]: ...


def save_calibration(
    session: Session, corpus: Corpus, fitted: FittedCalibration, *, source: str
) -> ThresholdCalibration:
    """Store the fit and make its threshold the corpus's duplicate threshold."""
    row = ThresholdCalibration(
        corpus_id=corpus.id,
        threshold=fitted.threshold,
        target_precision=fitted.target_precision,
        source=source,
        positives=fitted.positives,
        negatives=fitted.negatives,
        cv_precision=fitted.cv_precision,
        cv_recall=fitted.cv_recall,
        knots_x=list(fitted.knots_x),
        knots_y=list(fitted.knots_y),
    )
    session.add(row)
    corpus.duplicate_threshold = fitted.threshold
    session.flush()
    note_change(session, corpus.id)
    return row


def latest_calibration(session: Session, corpus_id: int) -> ThresholdCalibration | None:
    return session.scalar(
        select(ThresholdCalibration)
        .where(ThresholdCalibration.corpus_id == corpus_id)
        .order_by(ThresholdCalibration.id.desc())
        .limit(1)
    )


def labelled_scores(session: Session, corpus_id: int) -> tuple[list[float], list[int]]:
    """The analysts' duplicate / not-duplicate labels as (cosine, 1 or 0); skips left out."""
    rows = session.execute(
        select(PairLabel.similarity, PairLabel.verdict).where(
            PairLabel.corpus_id == corpus_id, PairLabel.verdict != PairVerdict.SKIPPED
        )
    ).all()
    return (
        [float(score) for score, _ in rows],
        [int(verdict == PairVerdict.DUPLICATE) for _, verdict in rows],
    )


def threshold_source(
    own: float | None, calibration: ThresholdCalibration | None
) -> Literal["own", "calibrated", "default"]:
    """Where a corpus's threshold comes from: its calibration when the calibrated value is
    still the one set (a later manual value is 'own'), else its own, else the default."""
    if own is None:
        return "default"
    return "calibrated" if calibration is not None and calibration.threshold == own else "own"
