"""Map page: the latest run's 2-D map of the corpus, coloured by cluster; select to read."""

from __future__ import annotations

import colorsys
import textwrap
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.cluster_actions import make_cluster, run_action, undo_button
from app.csv_export import safe_csv
from app.pages.labelling import LAST_LABEL, show_pair
from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    READ_ONLY_MESSAGE,
    analyst_input,
    analyst_name,
    ancestors_at,
    corpus_summaries,
    corpus_threshold,
    current_settings,
    forget_cluster_views,
    latest_run_of,
    level_name,
    may_write,
    no_run_message,
    run_cluster_views,
    run_level_counts,
    run_number_of,
    searcher,
    select_corpus,
    service,
    sessions,
    show_error,
)
from app.ui_text import escape_markdown, plotly_text
from db.changes import corpus_state
from db.cluster_queries import ClusterView
from db.errors import QclustError
from db.labels import labelled_pairs
from db.queries import CorpusSummary, get_corpus
from db.settings import Settings
from db.ui_queries import map_points, run_member_count
from indexer.label_queue import selection_pairs

OUTLIERS = -1
DEFAULT_POINTS = 20_000
MIN_POINTS = 100
MAX_POINTS = 200_000  # drawn in about 0.4 s in Chromium (bench/map_render.py)
SAMPLE_SEED = 0
OUTLIER_COLOUR = "#c4c4c4"
META_PREFIX = "meta:"
MAX_NAMES = 30  # cluster names drawn on the map: the largest ones
HIGHLIGHTED = 50
MAP_NOTICE = "map_notice"
MOVE_TARGET = "map_move_target"
NEW_NAME = "map_new_cluster_name"
SELECTION_PAIRS = 5
BY_CLUSTER, BY_OUTLIER, BY_CHANGE = "cluster", "outlier or not", "change since the last run"
HOVER_WIDTH = 60
SELECTED_SHOWN = 1_000


@st.cache_data(show_spinner="Loading the map...", max_entries=16)
def _points(
    database_url: str, run_id: int, limit: int, revision: int, members: int, _settings: Settings
) -> pd.DataFrame:
    # `revision` (the corpus's state revision) is only part of the key: questions placed after
    # the run, and every edit (a move, a merge, a new cluster, an undo) change it. `members`,
    # counted by the page already, spares a second count (0.3 s at a million).
    with sessions(_settings)() as session:
        points = map_points(session, run_id, limit=limit, seed=SAMPLE_SEED, total=members)
    frame = pd.DataFrame(
        {
            "id": [p.question_id for p in points],
            "x": [p.x for p in points],
            "y": [p.y for p in points],
            "cluster": [p.cluster_key for p in points],
            "question": [p.text for p in points],
        }
    )
    # Wrapped and escaped once per run and sample, not on every rerun of the page.
    frame["hover"] = [hover_text(p.text) for p in points]
    own = pd.DataFrame([p.meta or {} for p in points], index=frame.index)
    for column in own.columns:
        if column not in frame.columns:
            frame[META_PREFIX + str(column)] = own[column].astype("string").fillna("(empty)")
    return frame


def cluster_labels(views: Sequence[ClusterView]) -> dict[int, str]:
    labels = {view.key: f"{view.key} · {view.name}" for view in views}
    labels[OUTLIERS] = "-1 · outliers"
    return labels


def hover_text(question: str) -> str:
    """The question wrapped, then escaped line by line (so that no entity is cut in two)."""
    lines = textwrap.wrap(question, HOVER_WIDTH) or [question]
    return "<br>".join(plotly_text(line) for line in lines)


def distinct_colours(count: int) -> list[str]:
    """`count` colours far apart: hues a golden angle apart, lightness and saturation in a
    short cycle, so that neighbours in the legend never look alike (Plotly's qualitative
    palettes repeat near-identical colours past two dozen)."""
    colours = []
    for number in range(count):
        hue = (number * 0.618033988749895) % 1.0
        lightness = (0.42, 0.58, 0.50)[number % 3]
        saturation = (0.80, 0.65, 0.90)[number % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
        colours.append(f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}")
    return colours


def colour_groups(points: pd.DataFrame, by: str, views: Sequence[ClusterView]) -> pd.Series:
    """The legend entry of each point under the chosen colouring."""
    if by == BY_OUTLIER:
        return points["cluster"].map(lambda key: "outlier" if key == OUTLIERS else "in a cluster")
    if by == BY_CHANGE:
        changes = {view.key: view.change for view in views}
        return points["cluster"].map(lambda key: changes.get(int(key), "outlier"))
    return points[META_PREFIX + by].astype(str)


def map_figure(
    points: pd.DataFrame,
    labels: Mapping[int, str],
    *,
    names: Mapping[int, str] | None = None,
    groups: pd.Series | None = None,
    highlighted: Sequence[int] = (),
    name_keys: pd.Series | None = None,
) -> go.Figure:
    """One trace per cluster (or per group of the chosen colouring), largest first; outliers
    first, in grey, underneath; the largest clusters' names written where they lie; search
    hits drawn as stars on top."""
    traces = _cluster_traces(points, labels) if groups is None else _group_traces(points, groups)
    if highlighted:
        traces.append(_highlight_trace(points, highlighted))
    figure = go.Figure(data=traces)
    figure.update_layout(
        height=680,
        # Room above the plot for the toolbar, so that it covers neither points nor legend.
        margin={"l": 0, "r": 0, "t": 36, "b": 0},
        legend={"itemsizing": "constant", "title": {"text": "cluster" if groups is None else ""},
                "y": 1.0, "yanchor": "top"},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        dragmode="lasso",
        plot_bgcolor="white",
        annotations=_name_annotations(points, names or {}, name_keys),
    )  # fmt: skip
    return figure


def _cluster_traces(points: pd.DataFrame, labels: Mapping[int, str]) -> list[go.Scattergl]:
    sizes = points["cluster"].value_counts()
    keys = sorted(sizes.index, key=lambda key: (-sizes[key], key))
    traces = [_trace(points, OUTLIERS, labels, OUTLIER_COLOUR)] if OUTLIERS in sizes.index else []
    clustered = [int(key) for key in keys if key != OUTLIERS]
    colours = distinct_colours(len(clustered))
    traces += [
        _trace(points, key, labels, colour) for key, colour in zip(clustered, colours, strict=True)
    ]
    return traces


def _group_traces(points: pd.DataFrame, groups: pd.Series) -> list[go.Scattergl]:
    sizes = groups.value_counts()
    names = sorted(sizes.index, key=lambda name: (-sizes[name], str(name)))
    colours = distinct_colours(len(names))
    traces = []
    for name, colour in zip(names, colours, strict=True):
        rows = points[groups == name]
        grey = name in ("outlier", "(empty)")
        traces.append(_scatter(rows, plotly_text(str(name)), OUTLIER_COLOUR if grey else colour))
    return traces


def _name_annotations(
    points: pd.DataFrame, names: Mapping[int, str], name_keys: pd.Series | None = None
) -> list[dict[str, Any]]:
    """The largest clusters' names at the middle of their points; `name_keys` (a coarse
    topic's key per point) names the coarse topics instead."""
    keys = points["cluster"] if name_keys is None else name_keys
    clustered = points[keys != OUTLIERS]
    held = keys[keys != OUTLIERS]
    sizes = held.value_counts().head(MAX_NAMES)
    annotations = []
    for key in sizes.index:
        rows = clustered[held == key]
        if len(rows) < 3 or int(key) not in names:
            continue
        annotations.append(
            {
                "x": float(rows["x"].median()), "y": float(rows["y"].median()),
                "text": plotly_text(names[int(key)]), "showarrow": False,
                "font": {"size": 11, "color": "#222"}, "bgcolor": "rgba(255,255,255,0.7)",
            }
        )  # fmt: skip
    return annotations


def _highlight_trace(points: pd.DataFrame, ids: Sequence[int]) -> go.Scattergl:
    rows = points[points["id"].isin(set(ids))]
    return go.Scattergl(
        x=rows["x"], y=rows["y"], mode="markers", name="search hits",
        marker={"symbol": "star", "size": 13, "color": "#ffd400",
                "line": {"color": "#222", "width": 1}},
        customdata=rows["id"], text=_hover(rows),
        hovertemplate="%{text}<extra>search hit</extra>",
    )  # fmt: skip


def _trace(points: pd.DataFrame, key: int, labels: Mapping[int, str], colour: str) -> go.Scattergl:
    rows = points[points["cluster"] == key]
    return _scatter(rows, plotly_text(labels.get(key, str(key))), colour, outliers=key == OUTLIERS)


def _scatter(
    rows: pd.DataFrame, label: str, colour: str, *, outliers: bool = False
) -> go.Scattergl:
    return go.Scattergl(
        x=rows["x"],
        y=rows["y"],
        mode="markers",
        name=label,
        marker={"color": colour, "size": 5 if outliers else 6, "opacity": 0.8},
        customdata=rows["id"],
        text=_hover(rows),
        hovertemplate="%{text}<extra>" + label + "</extra>",
    )


def _hover(rows: pd.DataFrame) -> list[str]:
    if "hover" in rows:
        return list(rows["hover"])
    return [hover_text(question) for question in rows["question"]]


def selected_ids(selection: Mapping[str, Any]) -> list[int]:
    """Question ids of the selected points (each point carries its id as customdata)."""
    found: list[int] = []
    for point in selection.get("points", []):
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if data is not None:
            found.append(int(data))
    return list(dict.fromkeys(found))


def selected_frame(
    points: pd.DataFrame, ids: Sequence[int], labels: Mapping[int, str]
) -> pd.DataFrame:
    chosen = points.set_index("id").loc[[i for i in ids if i in set(points["id"])]]
    return pd.DataFrame(
        {
            "question": chosen["question"].to_list(),
            "cluster": [labels.get(int(key), str(key)) for key in chosen["cluster"]],
        }
    )


def _move_selection(settings: Settings, corpus: str, run_id: int, ids: list[int]) -> None:
    if not may_write():
        st.session_state[MAP_NOTICE] = ("error", READ_ONLY_MESSAGE)
        return
    target = int(st.session_state[MOVE_TARGET])
    lookup = service(settings)
    try:
        for question_id in ids:
            lookup.move_question(corpus, question_id, target, by=analyst_name(), seen_run=run_id)
    except QclustError as exc:
        st.session_state[MAP_NOTICE] = ("error", escape_markdown(str(exc)))
        return
    forget_cluster_views()
    where = "out of every cluster" if target == OUTLIERS else f"to cluster {target}"
    st.session_state[MAP_NOTICE] = ("success", f"Moved {len(ids):,} questions {where}.")


def show_selection(
    settings: Settings,
    summary: CorpusSummary,
    run_id: int,
    points: pd.DataFrame,
    event: Any,
    labels: Mapping[int, str],
    names: dict[int, str],
) -> None:
    corpus = summary.name
    ids = selected_ids(event.get("selection", {}) if event else {})
    if not ids:
        st.caption("Select points (click, box or lasso) to list their questions here.")
        undo_button(settings, corpus, run_id, names, key="map_undo", notice=MAP_NOTICE)
        return
    shown = [i for i in ids if i in set(points["id"])]
    frame = selected_frame(points, ids, labels)
    st.subheader(f"{len(frame):,} selected")
    download_column, target_column, move_column = st.columns([2, 3, 1], vertical_alignment="bottom")
    download_column.download_button(
        "Download the selection (CSV)", safe_csv(frame), file_name="map-selection.csv",
        mime="text/csv", key="map_download", on_click="ignore",
    )  # fmt: skip
    targets = [key for key in labels if key != OUTLIERS] + [OUTLIERS]
    target_column.selectbox(
        "Move the selection to", targets, key=MOVE_TARGET, format_func=lambda k: labels[k]
    )
    move_column.button(
        "Move", key="map_move", on_click=_move_selection, args=(settings, corpus, run_id, shown)
    )
    name_column, make_column, undo_column = st.columns([3, 2, 2], vertical_alignment="bottom")
    name_column.text_input(
        "Or make a new cluster of the selection, named", key=NEW_NAME,
        placeholder="e.g. card delivery", max_chars=200,
    )  # fmt: skip
    make_column.button(
        "Make cluster", key="map_new_cluster", on_click=run_action,
        args=(settings, corpus, run_id, partial(make_cluster, shown, NEW_NAME), MAP_NOTICE),
    )  # fmt: skip
    with undo_column:
        undo_button(settings, corpus, run_id, names, key="map_undo", notice=MAP_NOTICE)
    st.dataframe(
        frame.head(SELECTED_SHOWN),
        hide_index=True,
        width="stretch",
        key="map_selected",
        column_config={
            "question": st.column_config.TextColumn("question", width="large"),
            "cluster": st.column_config.TextColumn("cluster", width="medium"),
        },
    )
    show_selection_pairs(settings, summary, shown)


def show_selection_pairs(settings: Settings, summary: CorpusSummary, ids: list[int]) -> None:
    """Label pairs of the selected questions here: those nearest the threshold first."""
    with st.expander("Label pairs in the selection", expanded=LAST_LABEL in st.session_state):
        notice = st.session_state.pop(LAST_LABEL, None)
        if notice is not None:
            (st.success if notice[0] == "success" else st.error)(notice[1])
        threshold = corpus_threshold(settings, summary)
        with sessions(settings)() as session:
            done = labelled_pairs(session, get_corpus(session, summary.name).id)
        pairs = selection_pairs(
            searcher(settings, summary.name), ids, done, threshold=threshold, limit=SELECTION_PAIRS
        )
        if not pairs:
            st.caption("Every pair of the selection has a label.")
            return
        st.caption(
            f"Pairs of the selection nearest the threshold {threshold:.2f} first; labels go "
            "where the Labelling page's go."
        )
        for position, pair in enumerate(pairs, start=1):
            show_pair(
                settings, summary.name, pair, position, key_prefix="map_label", shortcuts=False
            )


def colour_choice(points: pd.DataFrame, levels: int = 1) -> str:
    columns = [str(column) for column in points.columns]
    own = [column.removeprefix(META_PREFIX) for column in columns if column.startswith(META_PREFIX)]
    coarse = [level_name(level).lower() for level in range(1, levels)]
    return str(
        st.selectbox(
            "Colour by", [BY_CLUSTER, *coarse, BY_OUTLIER, BY_CHANGE, *own], key="map_colour"
        )
    )


def coarse_groups(
    points: pd.DataFrame, ancestors: Mapping[int, int], names: Mapping[int, str]
) -> pd.Series:
    """The legend entry of each point coloured by the coarse topic holding its topic."""
    return points["cluster"].map(
        lambda key: (
            f"{ancestors[key]} · {names.get(ancestors[key], '?')}"
            if key in ancestors
            else "outlier"
        )
    )


def groups_for(
    settings: Settings, run_id: int, points: pd.DataFrame, by: str, views: Sequence[ClusterView]
) -> pd.Series:
    for level in range(1, len(run_level_counts(settings, run_id))):
        if by == level_name(level).lower():
            names = {view.key: view.name for view in run_cluster_views(settings, run_id, level)}
            return coarse_groups(points, ancestors_at(settings, run_id, level), names)
    return colour_groups(points, by, views)


def coarse_naming(
    settings: Settings, run_id: int, points: pd.DataFrame, by: str
) -> tuple[dict[int, str], pd.Series] | None:
    """Names and per-point keys of the coarse level the map is coloured by, if it is one."""
    for level in range(1, len(run_level_counts(settings, run_id))):
        if by == level_name(level).lower():
            ancestors = ancestors_at(settings, run_id, level)
            names = {view.key: view.name for view in run_cluster_views(settings, run_id, level)}
            keys = pd.Series(
                [ancestors.get(int(key), OUTLIERS) for key in points["cluster"]],
                index=points.index,
            )
            return names, keys
    return None


def highlighted_ids(settings: Settings, corpus: str) -> list[int]:
    query = st.text_input(
        "Highlight a search", key="map_search", placeholder="a question: its nearest are starred"
    )
    if not query.strip():
        return []
    hits = service(settings).search(corpus, query, k=HIGHLIGHTED).hits
    return [hit.question_id for hit in hits]


def render() -> None:
    st.title("Map")
    analyst_input()
    try:
        settings = current_settings()
        summaries = corpus_summaries(settings)
        if not summaries:
            st.info(NO_CORPUS_MESSAGE)
            return
        corpus_column, points_column = st.columns([3, 2])
        with corpus_column:
            summary = select_corpus(summaries, settings.default_corpus)
        with points_column:
            limit = st.slider(
                "Points at most", MIN_POINTS, MAX_POINTS, DEFAULT_POINTS, step=MIN_POINTS,
                key="map_points",
            )  # fmt: skip
        run = latest_run_of(settings, summary.name)
        if run is None:
            st.info(no_run_message(summary.name))
            return
        notice = st.session_state.pop(MAP_NOTICE, None)
        if notice is not None:
            (st.error if notice[0] == "error" else st.success)(notice[1])
        with sessions(settings)() as session:
            members = run_member_count(session, run.id)
            state = corpus_state(session, summary.name)
        revision = state[1] if state else 0
        points = _points(
            settings.resolved_database_url, run.id, int(limit), revision, members, settings
        )
        views = run_cluster_views(settings, run.id)
        labels = cluster_labels(views)
        levels = len(run_level_counts(settings, run.id))
        colour_column, search_column = st.columns([1, 2])
        with colour_column:
            by = colour_choice(points, levels)
        with search_column:
            highlighted = highlighted_ids(settings, summary.name)
        shown_hits = int(points["id"].isin(set(highlighted)).sum())
        st.caption(
            f"showing {len(points):,} of {members:,} questions · "
            f"run {run_number_of(settings, run)} · "
            "grey: outliers · drag to select"
            + (f" · {shown_hits} of {len(highlighted)} search hits shown" if highlighted else "")
        )
        coarse = coarse_naming(settings, run.id, points, by)
        event = st.plotly_chart(
            map_figure(
                points,
                labels,
                names=coarse[0] if coarse else {view.key: view.name for view in views},
                name_keys=coarse[1] if coarse else None,
                groups=None
                if by == BY_CLUSTER
                else groups_for(settings, run.id, points, by, views),
                highlighted=highlighted,
            ),  # fmt: skip
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
            key="map",
            width="stretch",
        )
        names = {view.key: view.name for view in views}
        show_selection(settings, summary, run.id, points, event, labels, names)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
