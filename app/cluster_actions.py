"""The Clusters page's edit panel: merge two clusters, move a question, mark a canonical question,
and undo the last change (also on the Map page, with making a cluster of a selection).

Every action goes through the service into `db.edits`, which records it so the next clustering
run replays it. Actions run as button callbacks (before the script), so the page below already
shows the result.
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
SELECTED = "cluster_key"  # the Clusters page's chosen cluster
CONFIRM_MERGE = "confirm_merge"


@dataclass(frozen=True)
class ShownQuestion:
    """A question on the current page of the member table, as the actions need it."""

    question_id: int
    text: str
    group_id: int | None


def run_action(
    settings: Settings, corpus: str, run_id: int, action: Callable[[Service, str, int], str],
    notice: str = NOTICE,
) -> None:  # fmt: skip
    """Run one edit as a button callback; its message (or error) goes to `notice`."""
    if not may_write():
        st.session_state[notice] = ("error", READ_ONLY_MESSAGE)
        return
    try:
        message = action(service(settings), corpus, run_id)
    except QclustError as exc:
        st.session_state[notice] = ("error", escape_markdown(str(exc)))
        return
    forget_cluster_views()
    st.session_state[notice] = ("success", message)


def undo(names: dict[int, str], lookup: Service, corpus: str, run_id: int) -> str:
    undone = lookup.undo_last_edit(corpus, by=analyst_name(), seen_run=run_id)
    shown = {key: escape_markdown(name) for key, name in names.items()}
    return f"Undid {undone.describe(shown)}."


def make_cluster(
    ids: Sequence[int], name_field: str, lookup: Service, corpus: str, run_id: int
) -> str:
    name = str(st.session_state.get(name_field) or "")
    key = lookup.new_cluster(corpus, ids, name, by=analyst_name(), seen_run=run_id)
    st.session_state[SELECTED] = key  # the Clusters page opens on it
    return (
        f"Made the cluster “{escape_markdown(name.strip())}” of {len(set(ids)):,} questions; "
        "it is kept on every later run."
    )


def undo_button(
    settings: Settings, corpus: str, run_id: int, names: dict[int, str], *, key: str,
    notice: str = NOTICE,
) -> None:  # fmt: skip
    st.button(
        "Undo my last change",
        key=key,
        on_click=run_action,
        args=(settings, corpus, run_id, partial(undo, names), notice),
        help="Takes back your latest merge, move, new cluster or canonical pick, while it is "
        "the latest change to these clusters.",
    )


def _merge(
    source: int, target_field: str, names: dict[int, str], lookup: Service, corpus: str,
    run_id: int,
) -> str:  # fmt: skip
    target = int(st.session_state[target_field])
    moved = lookup.merge_clusters(corpus, source, target, by=analyst_name(), seen_run=run_id)
    st.session_state[SELECTED] = target  # the page shows where the questions went
    st.session_state.pop(CONFIRM_MERGE, None)
    return (
        f"“{escape_markdown(names.get(source, str(source)))}” ({moved:,} questions) is merged "
        f"into “{escape_markdown(names.get(target, str(target)))}”."
    )


def _move(
    question_field: str, target_field: str, names: dict[int, str], texts: dict[int, str],
    lookup: Service, corpus: str, run_id: int,
) -> str:  # fmt: skip
    question = int(st.session_state[question_field])
    target = int(st.session_state[target_field])
    lookup.move_question(corpus, question, target, by=analyst_name(), seen_run=run_id)
    where = (
        "out of every cluster"
        if target == OUTLIER_KEY
        else f"to “{escape_markdown(names.get(target, str(target)))}”"
    )
    return f"“{escape_markdown(texts.get(question, str(question)))}” is moved {where}."


def _canonical(
    question_field: str, texts: dict[int, str], lookup: Service, corpus: str, run_id: int
) -> str:
    question = int(st.session_state[question_field])
    lookup.mark_canonical(corpus, question, by=analyst_name(), seen_run=run_id)
    return (
        f"“{escape_markdown(texts.get(question, str(question)))}” is now its group's "
        "canonical question."
    )


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
        undo_button(settings, corpus, run_id, names, key="undo_edit")
        if key != OUTLIER_KEY and others:
            _merge_row(settings, corpus, run_id, key, names, others)
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
                on_click=run_action,
                args=(
                    settings, corpus, run_id,
                    partial(_move, "move_question", "move_target", names, texts),
                ),
            )  # fmt: skip
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
                on_click=run_action,
                args=(settings, corpus, run_id, partial(_canonical, "canonical_question", texts)),
            )


def _merge_row(
    settings: Settings, corpus: str, run_id: int, key: int, names: dict[int, str],
    others: list[int],
) -> None:  # fmt: skip
    """Merge targets nearest first (the likely one is the default), and a confirmation."""
    nearest = dict(service(settings).nearest_clusters(corpus, key))
    ordered = sorted(others, key=lambda other: -nearest.get(other, -2.0))

    def target_label(other: int) -> str:
        similarity = nearest.get(other)
        shown = _cluster_label(names, other)
        return shown if similarity is None else f"{shown} (similarity {similarity:.2f})"

    left, middle, right = st.columns([4, 2, 1], vertical_alignment="bottom")
    # Keyed by cluster, so that each cluster starts from its own nearest target.
    target_field = f"merge_target_{key}"
    left.selectbox(
        "Merge this cluster into", ordered, key=target_field, format_func=target_label,
        help="Nearest first: the similarity of the two clusters' most central questions.",
    )  # fmt: skip
    sure = middle.checkbox("Yes, merge them", key=CONFIRM_MERGE)
    right.button(
        "Merge",
        key="merge",
        disabled=not sure,
        on_click=run_action,
        args=(settings, corpus, run_id, partial(_merge, key, target_field, names)),
    )


def _cluster_label(names: dict[int, str], key: int) -> str:
    return "-1 (out of every cluster)" if key == OUTLIER_KEY else f"{key} · {names.get(key, '?')}"
