"""Stable cluster identities across runs, matched by member overlap.

A previous cluster's successor is the new cluster that holds most of its members (at least
half of those still in the corpus). A new cluster with one predecessor keeps its key ("kept");
with several, it keeps the largest one's key ("merged"). A previous cluster whose members are
spread over several new clusters hands its key to its successor, and the other parts get new
keys ("split"). Whatever matches nothing is "new"; previous keys left unused are "gone".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Change = Literal["new", "kept", "merged", "split"]
SUCCESSOR_SHARE = 0.5  # a successor holds at least this share of a previous cluster
SPLIT_SHARE = 0.2  # a part this big of a previous cluster counts as split from it


@dataclass(frozen=True)
class TrackedCluster:
    key: int
    change: Change
    sources: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Tracking:
    clusters: dict[int, TrackedCluster]  # this run's label -> identity
    gone: list[int]  # previous keys that no cluster carries on
    merged_into: dict[int, int]  # previous key -> key of the cluster it merged into


def _overlaps(
    current: Mapping[int, set[int]], previous: Mapping[int, set[int]]
) -> dict[int, Counter[int]]:
    """For every previous key: how many of its members went to each current label."""
    label_of = {member: label for label, members in current.items() for member in members}
    return {
        key: Counter(label_of[m] for m in members if m in label_of)
        for key, members in previous.items()
    }


def track_clusters(
    current: Mapping[int, set[int]], previous: Mapping[int, set[int]], next_key: int
) -> Tracking:
    """Identities for `current` (label -> member ids) given `previous` (key -> member ids)."""
    overlaps = _overlaps(current, previous)
    predecessors: dict[int, list[tuple[int, int]]] = {label: [] for label in current}
    split_from: dict[int, list[int]] = {label: [] for label in current}
    for key, counts in overlaps.items():
        present = sum(counts.values())
        if not present:
            continue
        label, shared = counts.most_common(1)[0]
        if shared >= SUCCESSOR_SHARE * present:
            predecessors[label].append((shared, key))
        for part, n in counts.items():
            if n >= SPLIT_SHARE * present and (part != label or shared < SUCCESSOR_SHARE * present):
                split_from[part].append(key)

    clusters: dict[int, TrackedCluster] = {}
    merged_into: dict[int, int] = {}
    used: set[int] = set()
    for label in sorted(current, key=lambda c: -len(current[c])):
        ranked = [key for _, key in sorted(predecessors[label], reverse=True)]
        split_sources = [k for k in split_from[label] if k not in ranked]
        if ranked:
            key = ranked[0]
            change: Change = "merged" if len(ranked) > 1 else "kept"
            if change == "kept" and any(
                n >= SPLIT_SHARE * sum(overlaps[key].values())
                for part, n in overlaps[key].items()
                if part != label
            ):
                change = "split"
            merged_into.update({k: key for k in ranked[1:]})
            clusters[label] = TrackedCluster(key, change, ranked)
        elif split_sources:
            clusters[label] = TrackedCluster(next_key, "split", split_sources)
            next_key += 1
        else:
            clusters[label] = TrackedCluster(next_key, "new")
            next_key += 1
        used.add(clusters[label].key)
    sourced = {key for c in clusters.values() for key in c.sources}
    gone = sorted(key for key in previous if key not in used and key not in sourced)
    return Tracking(clusters, gone, merged_into)
