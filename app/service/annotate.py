"""Hits as answers: each with its cluster (name included) and its group's canonical question,
from the latest clustering run of the state the answer was computed at."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.service.results import Match
from app.service.searchers import CorpusState
from db.ui_queries import canonical_questions, question_clusters
from indexer.search import Hit


def annotate(session: Session, state: CorpusState, hits: Sequence[Hit]) -> list[Match]:
    if not hits:
        return []
    if state.run_id is None:
        return [Match(hit.question_id, hit.text, hit.score, hit.external_id) for hit in hits]
    ids = [hit.question_id for hit in hits]
    clusters = question_clusters(session, state.run_id, ids)
    canonical = canonical_questions(session, state.run_id, ids)
    matches = []
    for hit in hits:
        key = clusters.get(hit.question_id)
        group = canonical.get(hit.question_id)
        matches.append(
            Match(
                hit.question_id,
                hit.text,
                hit.score,
                hit.external_id,
                cluster=key,
                cluster_name=state.cluster_names.get(key) if key is not None else None,
                canonical_id=group.question_id if group else None,
                canonical_text=group.text if group else None,
            )  # fmt: skip
        )
    return matches
