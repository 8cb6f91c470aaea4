from __future__ import annotations

from clustering.tracking import track_clusters


def test_a_stable_cluster_keeps_its_key() -> None:
    tracking = track_clusters({0: {1, 2, 3, 4}}, {7: {1, 2, 3, 4, 5}}, next_key=8)
    assert (tracking.clusters[0].key, tracking.clusters[0].change) == (7, "kept")
    assert tracking.gone == []


def test_merge_keeps_the_biggest_sources_key() -> None:
    tracking = track_clusters({0: set(range(10))}, {1: set(range(7)), 2: {7, 8, 9}}, next_key=3)
    merged = tracking.clusters[0]
    assert (merged.key, merged.change, merged.sources) == (1, "merged", [1, 2])
    assert tracking.merged_into == {2: 1}


def test_split_hands_the_key_to_the_bigger_part() -> None:
    tracking = track_clusters({0: set(range(6)), 1: set(range(6, 10))}, {5: set(range(10))}, 6)
    assert (tracking.clusters[0].key, tracking.clusters[0].change) == (5, "split")
    assert (tracking.clusters[1].key, tracking.clusters[1].change) == (6, "split")
    assert tracking.clusters[1].sources == [5]


def test_new_and_gone() -> None:
    tracking = track_clusters({0: {100, 101, 102}}, {4: {1, 2, 3}}, next_key=5)
    assert (tracking.clusters[0].key, tracking.clusters[0].change) == (5, "new")
    assert tracking.gone == [4]


def test_first_run_numbers_from_next_key() -> None:
    tracking = track_clusters({0: {1, 2}, 1: {3, 4, 5}}, {}, next_key=0)
    assert sorted(c.key for c in tracking.clusters.values()) == [0, 1]
    assert tracking.clusters[1].key == 0  # the largest cluster is numbered first
