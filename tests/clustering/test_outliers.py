"""Outliers as close to a topic's centre as its members are (or at cosine 0.5) join it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from clustering import outliers
from clustering.outliers import attach_to_centres, topic_centres, unit_rows

DIM = 40
AXES = np.eye(DIM, dtype=np.float32)


def toward(axis: int, cosine: float, elsewhere: int) -> npt.NDArray[np.float32]:
    """A unit vector at `cosine` to `axis`, the rest along an axis no other vector uses."""
    return cosine * AXES[axis] + np.sqrt(1 - cosine**2) * AXES[elsewhere]


def two_topics() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    # Topic 0 is tight (members at 0.98 to its centre), topic 1 loose (0.34 to 0.85; its
    # tenth-percentile member at 0.40). Then four outliers: 0.45 to topic 1's centre, 0.45 to
    # topic 0's, 0.60 to topic 0's, and one like nothing.
    tight = [toward(0, 0.98, 10 + i) for i in range(6)]
    loose = [toward(1, float(c), 20 + i) for i, c in enumerate(np.linspace(0.2, 0.9, 10))]
    alone = [toward(1, 0.5, 35), toward(0, 0.45, 36), toward(0, 0.6, 37), AXES[38]]
    labels = np.array([0] * 6 + [1] * 10 + [-1] * 4, dtype=np.int64)
    return np.stack(tight + loose + alone).astype(np.float32), labels


def test_an_outlier_joins_a_loose_topic_its_members_are_no_closer_to_but_not_a_tight_one() -> None:
    vectors, labels = two_topics()
    strengths = np.linspace(0.1, 1.0, len(labels), dtype=np.float32)
    attached, attached_strengths = attach_to_centres(vectors, labels, strengths)
    assert attached[:16].tolist() == labels[:16].tolist()  # members stay where they were
    assert attached[16:].tolist() == [1, -1, 0, -1]
    centres = topic_centres(vectors, labels)
    assert attached_strengths[16] == pytest.approx(float(unit_rows(vectors)[16] @ centres[1]))
    assert attached_strengths[18] == pytest.approx(float(unit_rows(vectors)[18] @ centres[0]))
    assert attached_strengths[[17, 19]].tolist() == strengths[[17, 19]].tolist()
    assert labels[16:].tolist() == [-1] * 4  # the input is left as it was


def test_the_member_quantile_and_the_fixed_cosine_are_the_two_ways_in() -> None:
    vectors, labels = two_topics()
    strengths = np.zeros(len(labels), dtype=np.float32)
    only_quantile, _ = attach_to_centres(vectors, labels, strengths, close_enough=1.0)
    assert only_quantile[16:].tolist() == [1, -1, -1, -1]
    only_cosine, _ = attach_to_centres(vectors, labels, strengths, member_quantile=1.0)
    assert only_cosine[16:].tolist() == [-1, -1, 0, -1]


def test_results_do_not_depend_on_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    labels = rng.integers(-1, 5, size=300).astype(np.int64)
    strengths = rng.random(300).astype(np.float32)
    whole = attach_to_centres(vectors, labels, strengths)
    monkeypatch.setattr(outliers, "CHUNK", 7)
    chunked = attach_to_centres(vectors, labels, strengths)
    assert whole[0].tolist() == chunked[0].tolist()
    np.testing.assert_allclose(whole[1], chunked[1], rtol=1e-5)


def test_nothing_to_attach_to_or_nothing_to_attach() -> None:
    vectors, _ = two_topics()
    strengths = np.zeros(len(vectors), dtype=np.float32)
    none_clustered = np.full(len(vectors), -1, dtype=np.int64)
    assert attach_to_centres(vectors, none_clustered, strengths)[0].tolist() == [-1] * 20
    all_clustered = np.zeros(len(vectors), dtype=np.int64)
    assert attach_to_centres(vectors, all_clustered, strengths)[0].tolist() == [0] * 20


def test_a_label_without_members_takes_no_one() -> None:
    vectors, labels = two_topics()
    labels = np.where(labels == 0, 2, labels)  # labels 1 and 2; label 0 has no member
    attached, _ = attach_to_centres(vectors, labels, np.zeros(len(labels), dtype=np.float32))
    assert 0 not in attached.tolist()
    assert attached[16:].tolist() == [1, -1, 2, -1]
