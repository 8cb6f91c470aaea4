"""Search page: the questions nearest to a query, and whether the query duplicates one."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app.service import Service
from app.service.results import Check, Match
from app.ui_resources import (
    corpus_summaries,
    counted,
    current_settings,
    latest_run_of,
    run_cluster_views,
    select_corpus,
    service,
    show_error,
    warn_if_not_encoded,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.queries import CorpusSummary
from db.settings import Settings

DEFAULT_K = 10
MAX_K = 100
OUTLIERS = -1
# With a cluster filter, the search looks at k * 20 neighbours (at least 200).
FILTER_WIDENING = 20
FILTER_MIN_FETCH = 200
VERDICT_COLOURS = {"duplicate": "red", "possible": "orange", "new": "green"}


def hits_frame(hits: Sequence[Match], corpus_name: str, clustered: bool) -> pd.DataFrame:
    """One row per hit; with a clustering run, its cluster and a link to the cluster's page;
    the external id column only when the corpus has external ids."""
    frame = pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "score": [hit.score for hit in hits],
            "question": [hit.text for hit in hits],
        }
    )
    if clustered:
        frame["cluster"] = [cluster_label(hit.cluster, hit.cluster_name) for hit in hits]
        frame["link"] = [
            ""
            if hit.cluster is None
            else f"clusters?{urlencode({'corpus': corpus_name, 'cluster': hit.cluster})}"
            for hit in hits
        ]
    if any(hit.external_id for hit in hits):
        frame["id"] = [hit.external_id or "" for hit in hits]
    return frame


def cluster_label(key: int | None, name: str | None) -> str:
    if key is None:
        return "(not clustered yet)"
    return "-1 · outliers" if key == OUTLIERS else f"{key} · {name or '?'}"


def verdict_markdown(verdict: str, best: Match | None, check: Check, *, filtered: bool) -> str:
    colour = VERDICT_COLOURS[verdict]
    where = " in the chosen clusters" if filtered else ""
    best_text = f"best match{where} {best.score:.3f}" if best else f"no match{where}"
    if check.probability is not None and best is not None and not filtered:
        best_text += f" (P(duplicate) {check.probability:.2f})"
    return (
        f"Verdict: :{colour}-badge[{verdict}] {best_text} · duplicate from "
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
        format_func=lambda key: cluster_label(key, context.names.get(key)),
        placeholder="all clusters",
    )
    return [int(key) for key in chosen]


def show_results(
    verdict_line: str, hits: Sequence[Match], frame: pd.DataFrame, seconds: float
) -> None:
    st.markdown(verdict_line)
    st.caption(f"{counted(len(hits), 'result')} in {seconds * 1000:.0f} ms")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "score": st.column_config.ProgressColumn(
                "score", format="%.3f", min_value=0.0, max_value=1.0, width="small"
            ),
            "question": st.column_config.TextColumn("question", width="large"),
            "cluster": st.column_config.TextColumn("cluster", width="medium"),
            "link": st.column_config.LinkColumn("", display_text="open cluster", width="small"),
            "id": st.column_config.TextColumn("external id", width="small"),
        },
    )


def filtered_check(
    lookup: Service, corpus_name: str, query: str, k: int, only: list[int], size: int
) -> tuple[Check, list[Match]]:
    """The check, and the first k hits inside the chosen clusters: the search looks further
    (k x 20, at least 200, doubling up to the whole corpus) until it has k of them."""
    fetch = min(max(k * FILTER_WIDENING, FILTER_MIN_FETCH), size)
    while True:
        check = lookup.check(corpus_name, [query], k=max(fetch, 1))[0]
        inside = [hit for hit in check.nearest if hit.cluster in only]
        if len(inside) >= k or fetch >= size:
            return check, inside[:k]
        fetch = min(fetch * 2, size)


def search_corpus(
    settings: Settings,
    summary: CorpusSummary,
    query: str,
    k: int,
    context: RunContext | None,
    only: list[int],
) -> None:
    lookup = service(settings)
    _ = lookup.state(summary.name).searcher.encoder  # loaded now: not part of the search time
    started = time.perf_counter()
    if only:
        size = lookup.state(summary.name).searcher.size
        check, hits = filtered_check(lookup, summary.name, query, k, only, size)
        best = hits[0] if hits else None
        verdict = lookup.verdict(best.score if best else None, check.threshold)
    else:
        check = lookup.check(summary.name, [query], k=k)[0]
        hits, best, verdict = check.nearest, check.best, check.verdict
    seconds = time.perf_counter() - started
    line = verdict_markdown(verdict, best, check, filtered=bool(only))
    show_results(line, hits, hits_frame(hits, summary.name, context is not None), seconds)
    if only:
        st.caption(f"Filtered from the {len(check.nearest):,} nearest questions.")
    outside = check.best
    if only and outside is not None and outside.cluster not in only:
        st.caption(
            f"The best match in the whole corpus ({outside.score:.3f}, "
            f"{escape_markdown(cluster_label(outside.cluster, outside.cluster_name))}) is "
            "outside the chosen clusters."
        )


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
        threshold = settings.threshold_for(summary.duplicate_threshold)
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
