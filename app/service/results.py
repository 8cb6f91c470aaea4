"""What the service answers: plain dataclasses every front end renders (text, JSON, pages)."""

from __future__ import annotations

from collections.abc import Mapping
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


EditKindName = Literal["merge", "move", "canonical", "new"]


@dataclass(frozen=True)
class UndoneEdit:
    """A change to the clusters taken back: what it was and how many questions went back."""

    kind: EditKindName
    target_key: int | None
    questions: int

    def describe(self, names: Mapping[int, str] | None = None) -> str:
        target = "" if self.target_key is None else str(self.target_key)
        if names and self.target_key is not None and self.target_key in names:
            target = f"“{names[self.target_key]}”"
        back = f"{self.questions:,} question{'s' if self.questions != 1 else ''} back in place"
        if self.kind == "merge":
            return f"the merge into {target} ({back})"
        if self.kind == "new":
            return f"the new cluster {target} ({back})"
        if self.kind == "move":
            return "the move " + (
                "out of every cluster" if self.target_key == -1 else f"to {target}"
            )
        return "the choice of canonical question"
