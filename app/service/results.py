"""What the service answers: plain dataclasses every front end renders (text, JSON, pages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from indexer.search import Verdict

ThresholdSource = Literal["own", "calibrated", "default"]


@dataclass(frozen=True)
class Match:
    """A stored question near the query, and where the latest clustering run put it."""

    question_id: int
    text: str
    score: float
    external_id: str | None = None
    cluster: int | None = None  # cluster key; -1: an outlier; None: not clustered yet
    cluster_name: str | None = None
    canonical_id: int | None = None  # the canonical question of its near-duplicate group
    canonical_text: str | None = None


@dataclass(frozen=True)
class SearchResult:
    corpus: str
    query: str
    hits: list[Match]
    not_encoded: int  # stored questions a search cannot find yet
    revision: int  # the corpus's state revision the answer was computed at


@dataclass(frozen=True)
class Check:
    """The duplicate check of one question."""

    question: str
    verdict: Verdict
    threshold: float
    possible_threshold: float
    threshold_source: ThresholdSource
    probability: float | None  # P(duplicate) of the best match, when calibrated from labels
    matches: list[Match] = field(default_factory=list)  # at or above the threshold
    nearest: list[Match] = field(default_factory=list)  # the top hits, whatever their score

    @property
    def best(self) -> Match | None:
        return self.nearest[0] if self.nearest else None


@dataclass(frozen=True)
class ThresholdInfo:
    corpus: str
    threshold: float
    possible_threshold: float
    source: ThresholdSource
    labelled_pairs: int  # analysts' labels: until there are some, precision is unknown
