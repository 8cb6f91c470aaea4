"""Fitting a corpus's duplicate threshold, and a probability of "duplicate", from labelled pairs.

The threshold is the F1-optimal cosine, or the lowest cosine whose precision reaches what the
user asks for. The probability is an isotonic fit of the labels on the cosine (monotone, so a
higher cosine never means a lower probability), stored as knots and interpolated at query time.
Precision and recall are reported cross-validated: each fold's threshold is fitted on the
other folds, so the figures say what to expect on pairs the fit has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from db.errors import QclustError

MIN_PER_CLASS = 10
FOLDS = 5

Scores = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]


class CalibrationError(QclustError):
    """Labels that cannot support a fit (too few of a class, a precision out of reach)."""


@dataclass(frozen=True)
class Calibration:
    threshold: float
    target_precision: float | None  # None: the F1-optimal threshold
    positives: int
    negatives: int
    cv_precision: float
    cv_recall: float
    knots_x: list[float] = field(repr=False)
    knots_y: list[float] = field(repr=False)

    def probability(self, score: float) -> float:
        return probability(score, self.knots_x, self.knots_y)


def probability(score: float, knots_x: list[float], knots_y: list[float]) -> float:
    """P(duplicate | cosine), by linear interpolation between the isotonic fit's knots."""
    return float(np.interp(score, knots_x, knots_y))


def fit_threshold(scores: Scores, labels: Labels, target_precision: float | None) -> float:
    """The F1-optimal threshold, or the lowest one whose precision is at least the target."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    true_positives = np.cumsum(sorted_labels)
    called = np.arange(1, len(scores) + 1)
    # Only cut between distinct scores: a threshold cannot split tied pairs.
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    precision = true_positives / called
    recall = true_positives / max(int(labels.sum()), 1)
    if target_precision is None:
        f1 = np.where(
            precision + recall > 0, 2 * precision * recall / (precision + recall + 1e-12), 0
        )
        candidates = np.flatnonzero(last_of_tie)
        best = candidates[np.argmax(f1[candidates])]
        return float(sorted_scores[best])
    reaching = np.flatnonzero(last_of_tie & (precision >= target_precision))
    if len(reaching) == 0:
        raise CalibrationError(
            f"no threshold reaches precision {target_precision:.2f} on these labels "
            f"(best: {float(precision.max()):.2f}); label more pairs or ask for less"
        )
    return float(sorted_scores[reaching[-1]])  # the lowest threshold: the most recall


def calibrate(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    target_precision: float | None = None,
    seed: int = 0,
) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        raise CalibrationError(
            f"calibration needs at least {MIN_PER_CLASS} duplicate and {MIN_PER_CLASS} "
            f"non-duplicate labels; there are {positives} and {negatives}"
        )
    if target_precision is not None and not 0.0 < target_precision <= 1.0:
        raise CalibrationError(f"precision must be in (0, 1], not {target_precision}")
    threshold = fit_threshold(x, y, target_precision)
    cv_precision, cv_recall = _cross_validated(x, y, target_precision, seed)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    return Calibration(
        threshold=round(threshold, 6),
        target_precision=target_precision,
        positives=positives,
        negatives=negatives,
        cv_precision=cv_precision,
        cv_recall=cv_recall,
        knots_x=[float(v) for v in isotonic.X_thresholds_],
        knots_y=[float(v) for v in isotonic.y_thresholds_],
    )


def _cross_validated(
    x: Scores, y: Labels, target_precision: float | None, seed: int
) -> tuple[float, float]:
    """Pooled precision and recall over stratified folds, each judged by the others' threshold."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = np.arange(len(rows)) % FOLDS
    called = hits = 0
    for k in range(FOLDS):
        train, test = fold != k, fold == k
        try:
            threshold = fit_threshold(x[train], y[train], target_precision)
        except CalibrationError:
            continue  # this fold's training part cannot reach the precision; it calls nothing
        chosen = x[test] >= threshold
        called += int(chosen.sum())
        hits += int(np.sum(chosen & (y[test] == 1)))
    return hits / max(called, 1), hits / max(int(y.sum()), 1)
