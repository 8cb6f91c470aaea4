"""Hits as answers: each with its cluster (name included) and its group's canonical question,
from the latest clustering run of the state the answer was computed at."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.service.results import Match
from app.service.searchers import CorpusState
from db.ui_queries import canonical_questions, question_clusters
from indexer.search import Hit


def annotate(
    session: Session, state: CorpusState, rows: Sequence[Sequence[Hit]]
) -> list[list[Match]]:
    """Each row of hits as matches; the run is asked once for all of them (a batch of 1,000
    questions is two queries, not two per question)."""
    if state.run_id is None:
        return [
            [Match(h.question_id, h.text, h.score, h.external_id) for h in hits] for hits in rows
        ]
    ids = [hit.question_id for hits in rows for hit in hits]
    clusters = question_clusters(session, state.run_id, ids)
    canonical = canonical_questions(session, state.run_id, ids)

    def match(hit: Hit) -> Match:
        key = clusters.get(hit.question_id)
        group = canonical.get(hit.question_id)
        return Match(
            hit.question_id, hit.text, hit.score, hit.external_id,
            cluster=key,
            cluster_name=state.cluster_names.get(key) if key is not None else None,
            canonical_id=group.question_id if group else None,
            canonical_text=group.text if group else None,
        )  # fmt: skip

    return [[match(hit) for hit in hits] for hits in rows]
