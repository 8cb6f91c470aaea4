"""The Clusters page's edit panel: merge two clusters, move a question, mark a canonical question.

Every action goes through `db.edits`, which records it so the next clustering run replays it.
Actions run as button callbacks (before the script), so the page below already shows the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import streamlit as st

from app.service import Service
from app.ui_resources import (
    READ_ONLY_MESSAGE,
    analyst_name,
    forget_cluster_views,
    may_write,
    service,
)
from app.ui_text import escape_markdown
from db.edits import OUTLIER_KEY
from db.errors import QclustError
from db.settings import Settings

NOTICE = "cluster_notice"


@dataclass(frozen=True)
class ShownQuestion:
    """A question on the current page of the member table, as the actions need it."""

    question_id: int
    text: str
    group_id: int | None


def _run_action(
    settings: Settings, corpus: str, run_id: int, action: Callable[[Service, str, int], str]
) -> None:
    if not may_write():
        st.session_state[NOTICE] = ("error", READ_ONLY_MESSAGE)
        return
    try:
        message = action(service(settings), corpus, run_id)
    except QclustError as exc:
        st.session_state[NOTICE] = ("error", escape_markdown(str(exc)))
        return
    forget_cluster_views()
    st.session_state[NOTICE] = ("success", message)


def _merge(source: int, target_field: str, lookup: Service, corpus: str, run_id: int) -> str:
    target = int(st.session_state[target_field])
    moved = lookup.merge_clusters(corpus, source, target, by=analyst_name(), seen_run=run_id)
    return f"Cluster {source} ({moved:,} questions) is merged into cluster {target}."


def _move(question_field: str, target_field: str, lookup: Service, corpus: str, run_id: int) -> str:
    question = int(st.session_state[question_field])
    target = int(st.session_state[target_field])
    lookup.move_question(corpus, question, target, by=analyst_name(), seen_run=run_id)
    where = "out of every cluster" if target == OUTLIER_KEY else f"to cluster {target}"
    return f"Question {question} is moved {where}."


def _canonical(question_field: str, lookup: Service, corpus: str, run_id: int) -> str:
    question = int(st.session_state[question_field])
    lookup.mark_canonical(corpus, question, by=analyst_name(), seen_run=run_id)
    return f"Question {question} is now its group's canonical question."


def show_actions(
    settings: Settings,
    corpus: str,
    run_id: int,
    key: int,
    names: dict[int, str],
    shown: Sequence[ShownQuestion],
) -> None:
    """The edit panel for cluster `key` (or the outliers) and the questions on screen."""
    others = [other for other in names if other != key]
    label = partial(_cluster_label, names)
    texts = {question.question_id: question.text for question in shown}
    with st.expander("Change this cluster", expanded=False):
        st.caption(
            f"Changes are recorded as {escape_markdown(analyst_name())} and replayed on every "
            "later clustering run."
        )
        if key != OUTLIER_KEY and others:
            left, right = st.columns([4, 1], vertical_alignment="bottom")
            left.selectbox("Merge this cluster into", others, key="merge_target", format_func=label)
            right.button(
                "Merge",
                key="merge",
                on_click=_run_action,
                args=(settings, corpus, run_id, partial(_merge, key, "merge_target")),
            )
        if shown:
            targets = [OUTLIER_KEY, *others] if key != OUTLIER_KEY else others
            question_column, target_column, button_column = st.columns(
                [3, 2, 1], vertical_alignment="bottom"
            )
            question_column.selectbox(
                "Move question", list(texts), key="move_question", format_func=texts.__getitem__
            )
            target_column.selectbox("to", targets, key="move_target", format_func=label)
            button_column.button(
                "Move",
                key="move",
                on_click=_run_action,
                args=(settings, corpus, run_id, partial(_move, "move_question", "move_target")),
            )
        grouped = {q.question_id: q.text for q in shown if q.group_id is not None}
        if grouped:
            pick_column, button_column = st.columns([5, 1], vertical_alignment="bottom")
            pick_column.selectbox(
                "Canonical question of its near-duplicate group",
                list(grouped),
                key="canonical_question",
                format_func=grouped.__getitem__,
            )
            button_column.button(
                "Mark canonical",
                key="canonical",
                on_click=_run_action,
                args=(settings, corpus, run_id, partial(_canonical, "canonical_question")),
            )


def _cluster_label(names: dict[int, str], key: int) -> str:
    return "-1 (out of every cluster)" if key == OUTLIER_KEY else f"{key} · {names.get(key, '?')}"
