"""Map page: the latest run's 2-D map of the corpus, coloured by cluster; select to read."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    corpus_summaries,
    current_settings,
    latest_run_of,
    no_run_message,
    run_cluster_views,
    select_corpus,
    sessions,
    show_error,
)
from app.ui_text import plotly_text
from db.cluster_queries import ClusterView
from db.errors import QclustError
from db.settings import Settings
from db.ui_queries import map_points, run_member_count

OUTLIERS = -1
DEFAULT_POINTS = 20_000
MIN_POINTS = 100
MAX_POINTS = 100_000
SAMPLE_SEED = 0
OUTLIER_COLOUR = "#c4c4c4"
PALETTE = qualitative.Dark24 + qualitative.Light24
HOVER_WIDTH = 60
SELECTED_SHOWN = 1_000


@st.cache_data(show_spinner="Loading the map...", max_entries=16)
def _points(
    database_url: str, run_id: int, limit: int, members: int, _settings: Settings
) -> pd.DataFrame:
    # `members` is only part of the key: questions placed after the run change it.
    with sessions(_settings)() as session:
        points = map_points(session, run_id, limit=limit, seed=SAMPLE_SEED)
    return pd.DataFrame(
        {
            "id": [p.question_id for p in points],
            "x": [p.x for p in points],
            "y": [p.y for p in points],
            "cluster": [p.cluster_key for p in points],
            "question": [p.text for p in points],
        }
    )


def cluster_labels(views: Sequence[ClusterView]) -> dict[int, str]:
    labels = {view.key: f"{view.key} · {view.name}" for view in views}
    labels[OUTLIERS] = "-1 · outliers"
    return labels


def hover_text(question: str) -> str:
    """The question wrapped, then escaped line by line (so that no entity is cut in two)."""
    lines = textwrap.wrap(question, HOVER_WIDTH) or [question]
    return "<br>".join(plotly_text(line) for line in lines)


def map_figure(points: pd.DataFrame, labels: Mapping[int, str]) -> go.Figure:
    """One trace per cluster, largest first; the outliers drawn first, in grey, underneath."""
    sizes = points["cluster"].value_counts()
    keys = sorted(sizes.index, key=lambda key: (-sizes[key], key))
    traces = [_trace(points, OUTLIERS, labels, OUTLIER_COLOUR)] if OUTLIERS in sizes.index else []
    clustered = [key for key in keys if key != OUTLIERS]
    traces += [
        _trace(points, int(key), labels, PALETTE[number % len(PALETTE)])
        for number, key in enumerate(clustered)
    ]
    figure = go.Figure(data=traces)
    figure.update_layout(
        height=640,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"itemsizing": "constant", "title": {"text": "cluster"}},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        dragmode="lasso",
        plot_bgcolor="white",
    )
    return figure


def _trace(points: pd.DataFrame, key: int, labels: Mapping[int, str], colour: str) -> go.Scattergl:
    rows = points[points["cluster"] == key]
    label = plotly_text(labels.get(key, str(key)))
    return go.Scattergl(
        x=rows["x"],
        y=rows["y"],
        mode="markers",
        name=label,
        marker={"color": colour, "size": 5 if key == OUTLIERS else 6, "opacity": 0.8},
        customdata=rows["id"],
        text=[hover_text(q) for q in rows["question"]],
        hovertemplate="%{text}<extra>" + label + "</extra>",
    )


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


def show_selection(points: pd.DataFrame, event: Any, labels: Mapping[int, str]) -> None:
    ids = selected_ids(event.get("selection", {}) if event else {})
    if not ids:
        st.caption("Select points (click, box or lasso) to list their questions here.")
        return
    frame = selected_frame(points, ids, labels)
    st.subheader(f"{len(frame):,} selected")
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


def render() -> None:
    st.title("Map")
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
        with sessions(settings)() as session:
            members = run_member_count(session, run.id)
        points = _points(settings.resolved_database_url, run.id, int(limit), members, settings)
        st.caption(
            f"showing {len(points):,} of {members:,} questions · run {run.id} · "
            "grey: outliers · drag to select"
        )
        labels = cluster_labels(run_cluster_views(settings, run.id))
        event = st.plotly_chart(
            map_figure(points, labels),
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
            key="map",
            width="stretch",
        )
        show_selection(points, event, labels)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
