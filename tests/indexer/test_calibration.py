"""Threshold fitting, the isotonic probability and the cross-validated figures, on known data."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.calibration import (
    MIN_PER_CLASS,
    CalibrationError,
    calibrate,
    fit_threshold,
)


def overlapping(seed: int = 0, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Duplicates around cosine 0.85, others around 0.65: some overlap, as in real data."""
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(0.85, 0.06, n), rng.normal(0.65, 0.06, n)]
    labels = np.r_[np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)]
    return scores, labels


def test_separable_labels_put_the_threshold_between_the_classes() -> None:
    scores = np.array([0.95, 0.9, 0.88, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 1, 0, 0, 0])
    assert fit_threshold(scores, labels, None) == pytest.approx(0.88)


def test_a_precision_target_gives_the_lowest_threshold_that_reaches_it() -> None:
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7])
    labels = np.array([1, 1, 0, 1, 0, 0])
    # At 0.8: 3 of 4 called are duplicates (0.75); at 0.9: 2 of 2 (1.0).
    assert fit_threshold(scores, labels, 0.75) == pytest.approx(0.8)
    assert fit_threshold(scores, labels, 0.9) == pytest.approx(0.9)
    with pytest.raises(CalibrationError, match="no threshold reaches precision"):
        fit_threshold(np.array([0.9, 0.8]), np.array([0, 1]), 0.9)


def test_ties_are_never_split() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.7])
    labels = np.array([1, 1, 0, 0])
    assert fit_threshold(scores, labels, 0.99) == pytest.approx(0.9)


def test_calibration_on_overlapping_classes() -> None:
    scores, labels = overlapping()
    fitted = calibrate(scores, labels)
    assert 0.70 < fitted.threshold < 0.80  # the classes cross near 0.75
    assert fitted.cv_precision > 0.85
    assert fitted.cv_recall > 0.85
    assert (fitted.positives, fitted.negatives) == (200, 200)
    probabilities = [fitted.probability(s) for s in np.linspace(0.4, 1.0, 25)]
    assert probabilities == sorted(probabilities)  # monotone
    assert fitted.probability(0.5) < 0.05
    assert fitted.probability(0.98) > 0.95

    strict = calibrate(scores, labels, target_precision=0.99)
    assert strict.threshold > fitted.threshold
    assert strict.cv_precision > 0.95
    assert strict.cv_recall < fitted.cv_recall


def test_too_few_labels_of_a_class_are_refused() -> None:
    scores = np.linspace(0.5, 1.0, MIN_PER_CLASS + 5)
    labels = np.r_[np.zeros(MIN_PER_CLASS + 1), np.ones(4)].astype(np.int64)
    with pytest.raises(CalibrationError, match="at least 10 duplicate and 10 non-duplicate"):
        calibrate(scores, labels)
    with pytest.raises(CalibrationError, match="there are 4 and 11"):
        calibrate(scores, labels)
