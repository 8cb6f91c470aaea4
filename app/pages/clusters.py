"""Clusters page: the latest run's topics, members and near-duplicate groups, and edits to them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pandas as pd
import streamlit as st

from app.cluster_actions import NOTICE, SELECTED, ShownQuestion, show_actions
from app.csv_export import table_bytes
from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    READ_ONLY_MESSAGE,
    analyst_input,
    corpus_summaries,
    current_settings,
    forget_cluster_views,
    latest_run_of,
    level_name,
    may_write,
    no_run_message,
    run_cluster_views,
    run_level_counts,
    run_number_of,
    select_corpus,
    service,
    sessions,
    show_error,
)
from app.ui_text import escape_markdown
from db.cluster_queries import ClusterView, MemberView, cluster_members
from db.errors import QclustError
from db.models import ClusterRun
from db.settings import Settings
from db.ui_queries import GroupView, OutlierView, cluster_groups, outlier_members, run_member_count

OUTLIERS = -1
ATTACH_AT = "attach_at"
PAGE_SIZE = 50
MAX_GROUPS = 50
TABLE = "cluster_table"
LEVEL = "cluster_level"
OPEN_CHILD = "open_child"
TABLE_HEIGHT = 320
ROW_HEIGHT = 35  # the data grid's row, header included

TABLE_COLUMNS = {
    "id": st.column_config.NumberColumn("id", width="small", format="%d"),
    "size": st.column_config.NumberColumn("size", width="small"),
    "name": st.column_config.TextColumn("name", width="medium"),
    "keywords": st.column_config.TextColumn("keywords", width="medium"),
    "representative": st.column_config.TextColumn("representative question", width="large"),
    "change": st.column_config.TextColumn("change", width="small"),
}


def cluster_frame(views: Sequence[ClusterView], outliers: int) -> pd.DataFrame:
    """The run's clusters, largest first, then the outliers as pseudo-cluster -1."""
    rows = [
        {
            "id": view.key,
            "size": view.size,
            "name": view.name,
            "keywords": ", ".join(view.keywords),
            "representative": view.representative or "",
            "change": change_label(view),
        }
        for view in views
    ]
    if outliers:
        rows.append(
            {
                "id": OUTLIERS,
                "size": outliers,
                "name": "(outliers)",
                "keywords": "",
                "representative": "questions no topic took; each has a nearest cluster",
                "change": "",
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def change_label(view: ClusterView) -> str:
    if view.change in ("merged", "split") and view.sources:
        return f"{view.change} (from {', '.join(str(key) for key in view.sources)})"
    return view.change


def filter_clusters(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose name or keywords contain `text`, ignoring case."""
    wanted = text.strip().casefold()
    if not wanted:
        return frame
    haystack = (frame["name"] + " " + frame["keywords"]).str.casefold()
    return frame[haystack.str.contains(wanted, regex=False)].reset_index(drop=True)


def option_label(frame: pd.DataFrame, key: int) -> str:
    row = frame[frame["id"] == key].iloc[0]
    if key == OUTLIERS:
        return f"-1 (outliers) · {row['size']:,} questions"
    return f"{key} · {row['name']} · {row['size']:,} questions"


def members_frame(members: Sequence[MemberView], offset: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": range(offset + 1, offset + len(members) + 1),
            "centrality": [m.centrality for m in members],
            "question": [m.text for m in members],
            "group": pd.array([m.group_id for m in members], dtype="Int64"),
            "placed": [m.placed for m in members],
        }
    )


def outliers_frame(
    outliers: Sequence[OutlierView], names: dict[int, str], offset: int
) -> pd.DataFrame:
    def nearest(view: OutlierView) -> str:
        if view.nearest_key is None:
            return ""
        return f"{view.nearest_key} · {names.get(view.nearest_key, '?')}"

    return pd.DataFrame(
        {
            "#": range(offset + 1, offset + len(outliers) + 1),
            "question": [o.text for o in outliers],
            "nearest cluster": [nearest(o) for o in outliers],
            "similarity": [o.nearest_similarity for o in outliers],
        }
    )


def groups_frame(groups: Sequence[GroupView]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": [g.group_id for g in groups],
            "size": [g.size for g in groups],
            "canonical": [g.canonical for g in groups],
            "other questions": [g.members for g in groups],
        }
    )


def rename(settings: Settings, corpus_name: str, key: int, name: str) -> None:
    if not may_write():
        raise QclustError(READ_ONLY_MESSAGE)
    service(settings).rename_cluster(corpus_name, key, name)
    forget_cluster_views()


def _rename_clicked(settings: Settings, corpus_name: str, key: int, input_key: str) -> None:
    # A callback runs before the script, so the table below already shows the new name.
    name = str(st.session_state.get(input_key, ""))
    try:
        rename(settings, corpus_name, key, name)
    except QclustError as exc:
        st.session_state[NOTICE] = ("error", escape_markdown(str(exc)))
        return
    shown = escape_markdown(name.strip()) if name.strip() else "its automatic name"
    st.session_state[NOTICE] = ("success", f"Cluster {key} is now called {shown}.")


def _row_selected(keys: list[int]) -> None:
    rows = st.session_state[TABLE].selection.rows
    if rows:
        st.session_state[SELECTED] = keys[rows[0]]


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        kind, message = notice
        (st.error if kind == "error" else st.success)(message)


def pick_cluster(frame: pd.DataFrame) -> int | None:
    """The cluster table (a row click selects) and a selectbox over the filtered clusters."""
    text = st.text_input("Filter", key="cluster_filter", placeholder="name or keyword")
    shown = filter_clusters(frame, text)
    clusters = int((frame["id"] != OUTLIERS).sum())
    shown_clusters = int((shown["id"] != OUTLIERS).sum())
    outliers = " and the outliers" if (shown["id"] == OUTLIERS).any() else ""
    st.caption(f"{shown_clusters:,} of {clusters:,} clusters{outliers}")
    keys = [int(key) for key in shown["id"]]
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=min(TABLE_HEIGHT, ROW_HEIGHT * (len(shown) + 1) + 3),  # no empty rows below
        column_config=TABLE_COLUMNS,
        key=TABLE,
        on_select=partial(_row_selected, keys),
        selection_mode="single-row",
    )
    if not keys:
        st.info("No cluster matches the filter.")
        return None
    linked = _linked_cluster()  # `?cluster=KEY` from a search result's link, once
    if linked in keys:
        st.session_state[SELECTED] = linked
    if st.session_state.get(SELECTED) not in keys:
        st.session_state[SELECTED] = keys[0]
    key = st.selectbox("Cluster", keys, key=SELECTED, format_func=partial(option_label, shown))
    return int(key)


def pick_level(counts: Sequence[int]) -> int:
    """Topics, or the coarse topics that hold them: a level, not a clustering parameter."""
    if len(counts) < 2:
        return 0
    st.segmented_control(
        "Level", list(range(len(counts))), default=0, key=LEVEL,
        format_func=lambda n: f"{level_name(n)} ({counts[n]:,})",
        help="Coarse topics hold whole topics; topics hold questions and near-duplicate groups.",
    )  # fmt: skip
    return int(st.session_state.get(LEVEL) or 0)


def show_breadcrumbs(settings: Settings, run: ClusterRun, key: int, level: int) -> None:
    """Coarsest topic > ... > this cluster, each a level the page can show."""
    if key == OUTLIERS:
        return
    trail: list[str] = []
    view: ClusterView | None = next(
        (v for v in run_cluster_views(settings, run.id, level) if v.key == key), None
    )
    while view is not None:
        trail.insert(0, f"{view.key} · {escape_markdown(view.name)}")
        parent, level = view.parent_key, level + 1
        above = run_cluster_views(settings, run.id, level) if parent is not None else []
        view = next((v for v in above if v.key == parent), None)
    if len(trail) > 1:
        st.caption(" › ".join(trail[:-1]) + f" › **{trail[-1]}**")


def _open_child(level: int) -> None:
    """Go one level down, to the chosen cluster (a callback: before the widgets are drawn)."""
    st.session_state[LEVEL] = level - 1
    st.session_state[SELECTED] = st.session_state[OPEN_CHILD]


def show_coarse(
    settings: Settings, corpus_name: str, run: ClusterRun, views: Sequence[ClusterView], key: int,
    level: int,
) -> None:  # fmt: skip
    """A coarse topic: its name (renamed like any cluster) and the clusters it holds."""
    view = next(view for view in views if view.key == key)
    st.subheader(f"{key} · {escape_markdown(view.name)}")
    st.caption(f"keywords: {escape_markdown(', '.join(view.keywords))} · {change_label(view)}")
    show_rename(settings, corpus_name, view, run.id)
    children = [v for v in run_cluster_views(settings, run.id, level - 1) if v.parent_key == key]
    st.dataframe(
        cluster_frame(children, 0), hide_index=True, width="stretch", key="coarse_children",
        column_config=TABLE_COLUMNS,
    )  # fmt: skip
    if not children:
        return
    labels = {
        child.key: f"{child.key} · {child.name} · {child.size:,} questions" for child in children
    }
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    left.selectbox(
        f"Open one of its {level_name(level - 1).lower()}", list(labels), key=OPEN_CHILD,
        format_func=labels.__getitem__,
    )  # fmt: skip
    right.button("Open", key="open_child_button", on_click=_open_child, args=(level,))


def _linked_cluster() -> int | None:
    value = st.query_params.pop("cluster", None)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def page_offset(total: int, key: int, run_id: int) -> int:
    pages = max(1, -(-total // PAGE_SIZE))
    page = st.number_input(f"Page (of {pages:,})", 1, pages, 1, key=f"members_page_{run_id}_{key}")
    offset = (int(page) - 1) * PAGE_SIZE
    st.caption(
        f"Questions {offset + 1:,} to {min(offset + PAGE_SIZE, total):,} of {total:,}"
        + (", closest to a cluster first" if key == OUTLIERS else ", most central first")
    )
    return offset


def show_members(
    settings: Settings, run: ClusterRun, key: int, names: dict[int, str]
) -> list[ShownQuestion]:
    """The current page of the cluster's members; returns them for the edit panel."""
    with sessions(settings)() as session:
        total = run_member_count(session, run.id, key)
        offset = page_offset(total, key, run.id)
        if key == OUTLIERS:
            outliers = outlier_members(session, run.id, limit=PAGE_SIZE, offset=offset)
            frame = outliers_frame(outliers, names, offset)
            shown = [ShownQuestion(o.question_id, o.text, None) for o in outliers]
        else:
            members = cluster_members(session, run.id, key, limit=PAGE_SIZE, offset=offset)
            frame = members_frame(members, offset)
            shown = [ShownQuestion(m.question_id, m.text, m.group_id) for m in members]
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="cluster_members",
        column_config={
            "#": st.column_config.NumberColumn("#", width="small"),
            "centrality": st.column_config.ProgressColumn(
                "centrality",
                format="%.3f",
                min_value=0.0,
                max_value=1.0,
                width="small",
                help="Cosine of the question to the cluster's mean direction: the most "
                "typical questions come first.",
            ),
            "placed": st.column_config.CheckboxColumn(
                "placed",
                width="small",
                help="Ingested after this clustering run and placed here by its nearest "
                "neighbours; the next 'Cluster now' fits it for real.",
            ),
            "similarity": st.column_config.ProgressColumn(
                "similarity",
                format="%.3f",
                min_value=0.0,
                max_value=1.0,
                width="small",
                help="Cosine to the nearest clustered neighbour, in the nearest cluster.",
            ),
            "question": st.column_config.TextColumn("question", width="large"),
            "group": st.column_config.NumberColumn("duplicate group", width="small"),
        },
    )
    return shown


def show_groups(settings: Settings, run_id: int, key: int) -> None:
    with sessions(settings)() as session:
        groups = cluster_groups(session, run_id, key, limit=MAX_GROUPS)
    st.subheader("Near-duplicate groups")
    if not groups:
        st.caption("No near-duplicate group in this cluster.")
        return
    st.caption(f"{len(groups):,} groups" + (" (the largest)" if len(groups) == MAX_GROUPS else ""))
    st.dataframe(
        groups_frame(groups),
        hide_index=True,
        width="stretch",
        key="cluster_groups",
        column_config={
            "group": st.column_config.NumberColumn("group", width="small"),
            "size": st.column_config.NumberColumn("size", width="small"),
            "canonical": st.column_config.TextColumn("canonical question", width="medium"),
            "other questions": st.column_config.ListColumn("other questions", width="large"),
        },
    )


def show_rename(settings: Settings, corpus_name: str, view: ClusterView, run_id: int) -> None:
    input_key = f"rename_{run_id}_{view.key}"
    name_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    with name_column:
        st.text_input(
            "Name",
            value=view.name,
            key=input_key,
            help=f"Leave empty for the automatic name, '{escape_markdown(view.auto_name)}'.",
        )
    with button_column:
        st.button(
            "Rename",
            key="rename",
            on_click=_rename_clicked,
            args=(settings, corpus_name, view.key, input_key),
        )


def show_cluster(
    settings: Settings, corpus_name: str, run: ClusterRun, views: Sequence[ClusterView], key: int
) -> None:
    names = {view.key: view.name for view in views}
    if key == OUTLIERS:
        st.subheader("-1 (outliers)")
        show_attach(settings, corpus_name)
    else:
        view = next(view for view in views if view.key == key)
        st.subheader(f"{key} · {escape_markdown(view.name)}")
        keywords = escape_markdown(", ".join(view.keywords))
        st.caption(f"keywords: {keywords} · {change_label(view)}")
        show_rename(settings, corpus_name, view, run.id)
    shown = show_members(settings, run, key, names)
    show_actions(settings, corpus_name, run.id, key, names, shown)
    show_groups(settings, run.id, key)


def _export(settings: Settings, corpus_name: str, kind: str) -> bytes:
    return table_bytes(service(settings).export(corpus_name), kind)


def show_exports(settings: Settings, corpus_name: str) -> None:
    """Every question with its cluster, group and canonical question, made when clicked."""
    csv_column, parquet_column, _ = st.columns(3)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in corpus_name) or "corpus"
    csv_column.download_button(
        "Export questions (CSV)",
        partial(_export, settings, corpus_name, "csv"),
        file_name=f"{stem}-clusters.csv",
        mime="text/csv",
        key="export_csv",
        on_click="ignore",
        help="Each question with its cluster, outlier status, near-duplicate group, canonical "
        "question and the file's own columns.",
    )
    parquet_column.download_button(
        "Export questions (Parquet)",
        partial(_export, settings, corpus_name, "parquet"),
        file_name=f"{stem}-clusters.parquet",
        mime="application/vnd.apache.parquet",
        key="export_parquet",
        on_click="ignore",
    )


def _attach_clicked(settings: Settings, corpus_name: str) -> None:
    if not may_write():
        st.session_state[NOTICE] = ("error", READ_ONLY_MESSAGE)
        return
    threshold = float(st.session_state[ATTACH_AT])
    moved = service(settings).attach_outliers(corpus_name, min_similarity=threshold)
    forget_cluster_views()
    st.session_state[NOTICE] = (
        "success",
        f"Attached {moved:,} outliers to their nearest cluster (similarity {threshold:.2f} "
        "or more); the next clustering run decides again.",
    )


def show_attach(settings: Settings, corpus_name: str) -> None:
    """Outliers that plainly belong somewhere, attached in bulk."""
    slider_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
    slider_column.slider(
        "Attach outliers at least this similar to their nearest cluster",
        0.5, 1.0, 0.8, step=0.01, key=ATTACH_AT,
        help="Similarity: the cosine to the nearest question in a cluster.",
    )  # fmt: skip
    button_column.button(
        "Attach", key="attach_outliers", on_click=_attach_clicked, args=(settings, corpus_name)
    )


def render() -> None:
    st.title("Clusters")
    analyst_input()
    try:
        settings = current_settings()
        summaries = corpus_summaries(settings)
        if not summaries:
            st.info(NO_CORPUS_MESSAGE)
            return
        summary = select_corpus(summaries, settings.default_corpus)
        run = latest_run_of(settings, summary.name)
        if run is None:
            st.info(no_run_message(summary.name))
            return
        show_notice()
        st.caption(
            f"Run {run_number_of(settings, run)} · {run.question_count:,} questions · "
            f"{run.cluster_count:,} clusters · "
            f"{run.noise_share:.1%} outliers · {run.group_count:,} near-duplicate groups"
        )
        show_exports(settings, summary.name)
        level = pick_level(run_level_counts(settings, run.id))
        views = run_cluster_views(settings, run.id, level)
        with sessions(settings)() as session:
            outliers = run_member_count(session, run.id, OUTLIERS) if level == 0 else 0
        key = pick_cluster(cluster_frame(views, outliers))
        if key is None:
            return
        show_breadcrumbs(settings, run, key, level)
        if level == 0:
            show_cluster(settings, summary.name, run, views, key)
        else:
            show_coarse(settings, summary.name, run, views, key, level)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
