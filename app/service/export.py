"""Every question of a corpus with where the latest clustering run put it, as one table.

Columns: the question's id, external id and text, the file's own columns (as stored at
ingest), then cluster, cluster name, outlier, placed, near-duplicate group and canonical
question, then the coarse topics holding the cluster (`level_1_cluster`, `level_1_name`, ...).
Read in chunks of questions so that a million rows never sit in the database driver twice over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.models import ClusterMember, DuplicateGroup, Question

if TYPE_CHECKING:
    import pandas as pd

FIXED_COLUMNS = ["question_id", "external_id", "question"]
RUN_COLUMNS = [
    "cluster", "cluster_name", "outlier", "placed", "duplicate_group", "canonical_id",
    "canonical_question",
]  # fmt: skip
LEVEL_PARTS = ("cluster", "name")
CHUNK = 50_000


def export_frame(
    session: Session,
    corpus_id: int,
    run_id: int | None,
    names: dict[int, str],
    coarse: Sequence[tuple[Mapping[int, int], Mapping[int, str]]] = (),
) -> pd.DataFrame:
    """`coarse`: per level above the topics, topic key -> key at that level, and its names."""
    import pandas as pd

    canonical = aliased(Question)
    query = (
        select(
            Question.id,
            Question.external_id,
            Question.text,
            Question.meta,
            ClusterMember.cluster_key,
            ClusterMember.placed,
            ClusterMember.group_id,
            DuplicateGroup.canonical_id,
            canonical.text,
        )  # fmt: skip
        .outerjoin(
            ClusterMember,
            (ClusterMember.question_id == Question.id) & (ClusterMember.run_id == run_id),
        )
        .outerjoin(DuplicateGroup, DuplicateGroup.id == ClusterMember.group_id)
        .outerjoin(canonical, canonical.id == DuplicateGroup.canonical_id)
        .where(Question.corpus_id == corpus_id)
        .order_by(Question.id)
    )
    rows: list[dict[str, Any]] = []
    meta_columns: dict[str, None] = {}
    for chunk in session.execute(query.execution_options(yield_per=CHUNK)).partitions():
        for qid, external, text, meta, key, placed, group, canonical_id, canonical_text in chunk:
            own = meta or {}
            meta_columns.update(dict.fromkeys(own))
            rows.append(
                {
                    "question_id": qid, "external_id": external, "question": text, **own,
                    "cluster": key,
                    "cluster_name": names.get(key) if key is not None and key >= 0 else None,
                    "outlier": None if key is None else key < 0,
                    "placed": placed, "duplicate_group": group, "canonical_id": canonical_id,
                    "canonical_question": canonical_text,
                    **_levels(key, coarse),
                }
            )  # fmt: skip
    level_columns = [f"level_{n}_{part}" for n in range(1, len(coarse) + 1) for part in LEVEL_PARTS]
    own_columns = [c for c in meta_columns if c not in FIXED_COLUMNS + RUN_COLUMNS + level_columns]
    frame = pd.DataFrame(rows, columns=FIXED_COLUMNS + own_columns + RUN_COLUMNS + level_columns)
    return frame.astype(
        {"cluster": "Int64", "duplicate_group": "Int64", "canonical_id": "Int64",
         "outlier": "boolean", "placed": "boolean",
         **{f"level_{n}_cluster": "Int64" for n in range(1, len(coarse) + 1)}}
    )  # fmt: skip


def _levels(
    key: int | None, coarse: Sequence[tuple[Mapping[int, int], Mapping[int, str]]]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for number, (ancestors, names) in enumerate(coarse, start=1):
        held = ancestors.get(key) if key is not None else None
        found[f"level_{number}_cluster"] = held
        found[f"level_{number}_name"] = names.get(held) if held is not None else None
    return found
