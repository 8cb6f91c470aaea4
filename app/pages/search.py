"""Search page: the questions nearest to a query, and whether the query duplicates one."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app.ui_resources import (
    corpus_summaries,
    current_settings,
    latest_run_of,
    run_cluster_views,
    searcher,
    select_corpus,
    sessions,
    show_error,
    warn_if_not_encoded,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.queries import CorpusSummary
from db.settings import Settings
from db.ui_queries import question_clusters
from indexer.search import DuplicateCheck, Hit

DEFAULT_K = 10
MAX_K = 100
OUTLIERS = -1
# With a cluster filter, the search looks at k * 20 neighbours (at least 200).
FILTER_WIDENING = 20
FILTER_MIN_FETCH = 200
VERDICT_COLOURS = {"duplicate": "red", "possible": "orange", "new": "green"}


def hits_frame(
    hits: Sequence[Hit], corpus_name: str, clusters: dict[int, int], names: dict[int, str]
) -> pd.DataFrame:
    """One row per hit; with a clustering run, its cluster and a link to the cluster's page."""
    frame = pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "score": [hit.score for hit in hits],
            "question": [hit.text for hit in hits],
            "id": [hit.external_id or str(hit.question_id) for hit in hits],
        }
    )
    if clusters:
        keys = [clusters.get(hit.question_id) for hit in hits]
        frame["cluster"] = [cluster_label(key, names) for key in keys]
        frame["link"] = [
            "" if key is None else f"clusters?{urlencode({'corpus': corpus_name, 'cluster': key})}"
            for key in keys
        ]
    return frame


def cluster_label(key: int | None, names: dict[int, str]) -> str:
    if key is None:
        return "(not clustered yet)"
    return "-1 · outliers" if key == OUTLIERS else f"{key} · {names.get(key, '?')}"


def verdict_markdown(check: DuplicateCheck) -> str:
    colour = VERDICT_COLOURS[check.verdict]
    best = f"best match {check.best.score:.3f}" if check.best else "no match"
    if check.probability is not None:
        best += f" (P(duplicate) {check.probability:.2f})"
    return (
        f"Verdict: :{colour}-badge[{check.verdict}] {best} · duplicate from "
        f"{check.threshold:.2f}, possible from {check.possible_threshold:.2f}"
    )


@dataclass(frozen=True)
class RunContext:
    """The latest clustering run as the search page uses it (absent before the first run)."""

    run_id: int
    names: dict[int, str]


def run_context(settings: Settings, corpus_name: str) -> RunContext | None:
    run = latest_run_of(settings, corpus_name)
    if run is None:
        return None
    views = run_cluster_views(settings, run.id)
    return RunContext(run.id, {view.key: view.name for view in views})


def cluster_filter(context: RunContext | None) -> list[int]:
    """The clusters the analyst narrowed the results to; empty: all of them."""
    if context is None:
        return []
    options = [*context.names, OUTLIERS]
    chosen = st.multiselect(
        "Only in clusters",
        options,
        key="cluster_filter_search",
        format_func=lambda key: cluster_label(key, context.names),
        placeholder="all clusters",
    )
    return [int(key) for key in chosen]


def show_results(
    check: DuplicateCheck, hits: Sequence[Hit], frame: pd.DataFrame, seconds: float
) -> None:
    st.markdown(verdict_markdown(check))
    st.caption(f"{len(hits)} results in {seconds * 1000:.0f} ms")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "score": st.column_config.ProgressColumn(
                "score", format="%.3f", min_value=0.0, max_value=1.0, width="medium"
            ),
            "question": st.column_config.TextColumn("question", width="large"),
            "id": st.column_config.TextColumn("external id", width="small"),
            "cluster": st.column_config.TextColumn("cluster", width="medium"),
            "link": st.column_config.LinkColumn("", display_text="open cluster", width="small"),
        },
    )


def search_corpus(
    settings: Settings,
    summary: CorpusSummary,
    query: str,
    k: int,
    context: RunContext | None,
    only: list[int],
) -> None:
    corpus_searcher = searcher(settings, summary.name)
    # With a cluster filter, look further and keep the first k hits inside the clusters.
    fetch = min(max(k * FILTER_WIDENING, FILTER_MIN_FETCH), corpus_searcher.size) if only else k
    started = time.perf_counter()
    check = corpus_searcher.check_duplicates(query, k=max(fetch, 1))
    hits = check.nearest
    clusters: dict[int, int] = {}
    if context is not None:
        with sessions(settings)() as session:
            clusters = question_clusters(session, context.run_id, [h.question_id for h in hits])
    if only:
        hits = [hit for hit in hits if clusters.get(hit.question_id) in only][:k]
    seconds = time.perf_counter() - started
    names = context.names if context else {}
    show_results(check, hits, hits_frame(hits, summary.name, clusters, names), seconds)
    if only:
        st.caption(f"Filtered from the {len(check.nearest):,} nearest questions.")


def render() -> None:
    st.title("Search")
    try:
        settings = current_settings()
        summaries = corpus_summaries(settings)
        if not summaries:
            st.info(
                "No corpus yet: ingest a file with "
                "`qclust ingest FILE --corpus NAME --text-column question`, then reload."
            )
            return
        corpus_column, k_column = st.columns([3, 1])
        with corpus_column:
            summary = select_corpus(summaries, settings.default_corpus)
        with k_column:
            k = st.slider("Results (k)", 1, MAX_K, DEFAULT_K, key="k")
        threshold = summary.duplicate_threshold or settings.duplicate_threshold
        st.caption(
            f"{summary.questions:,} questions · model {escape_markdown(summary.model or '-')} · "
            f"duplicate threshold {threshold:.2f}"
        )
        warn_if_not_encoded(summary)
        context = run_context(settings, summary.name)
        only = cluster_filter(context)
        query = st.text_input(
            "Question", key="query", placeholder="Type a question and press Enter"
        )
        if not query.strip():
            st.caption("Type a question to search the corpus.")
            return
        search_corpus(settings, summary, query, int(k), context, only)
    except QclustError as exc:
        show_error(exc)


render()
