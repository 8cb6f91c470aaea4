"""Corpora page: what each corpus holds, and ingesting (then clustering) an uploaded file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st

from app.service import Service
from app.service.core import Placement
from app.ui_resources import (
    READ_ONLY_MESSAGE,
    StreamlitProgress,
    corpus_summaries,
    counted,
    current_settings,
    may_write,
    run_number_of,
    service,
    sessions,
    show_error,
    uploaded_file,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.models import ClusterRun
from db.queries import CorpusSummary
from db.settings import Settings
from db.ui_queries import RunOverview, latest_runs_by_corpus
from indexer.ingest import IngestReport, ProgressFn

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "txt"]
NEW_CORPUS = "(new corpus)"
SHOWN_REJECTIONS = 20


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


CORPORA_COLUMNS = {
    "corpus": st.column_config.TextColumn("corpus"),
    "questions": st.column_config.NumberColumn("questions", format="localized"),
    "model": st.column_config.TextColumn("model"),
    "threshold": st.column_config.TextColumn("duplicate threshold"),
    "last ingest": st.column_config.DatetimeColumn("last ingest", format="YYYY-MM-DD HH:mm"),
    # Text, so that a corpus with no run shows words and blanks rather than "None".
    "last clustering": st.column_config.TextColumn("last clustering"),
    "run": st.column_config.TextColumn("run"),
    "clusters": st.column_config.TextColumn("clusters"),
    # Percentages with one decimal, as everywhere else in qclust ("18.5%").
    "outliers": st.column_config.TextColumn("outliers"),
}
NOT_CLUSTERED = "not clustered yet"


def corpora_frame(
    summaries: Sequence[CorpusSummary], runs: dict[str, RunOverview], default_threshold: float
) -> pd.DataFrame:
    def threshold(summary: CorpusSummary) -> str:
        if summary.duplicate_threshold is None:
            return f"{default_threshold:.2f} (default)"
        return f"{summary.duplicate_threshold:.2f}"

    rows = []
    for summary in summaries:
        run = runs.get(summary.name)
        rows.append(
            {
                "corpus": summary.name,
                "questions": summary.questions,
                "model": summary.model or "",
                "threshold": threshold(summary),
                "last ingest": summary.last_ingest,
                "last clustering": _when(run.finished_at) if run else NOT_CLUSTERED,
                "run": f"{run.number:,}" if run else "",
                "clusters": f"{run.cluster_count:,}" if run else "",
                "outliers": f"{run.noise_share:.1%}" if run else "",
            }
        )
    return pd.DataFrame(rows, columns=list(CORPORA_COLUMNS))


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""


def ingest_upload(
    data: bytes,
    filename: str,
    corpus_name: str,
    *,
    service: Service,
    text_column: str | None = None,
    id_column: str | None = None,
    progress: ProgressFn = _no_progress,
) -> tuple[IngestReport, Placement]:
    """Ingest an uploaded file's bytes as `qclust ingest` ingests a file (new questions are
    placed into the latest run's clusters)."""
    name = corpus_name.strip()
    if not name:
        raise QclustError("give the corpus a name")
    with uploaded_file(data, filename) as path:
        return service.ingest_file(
            path, name, text_column=text_column, id_column=id_column,
            source=f"upload: {filename}", progress=progress,
        )  # fmt: skip


def ingest_summary(report: IngestReport, filename: str) -> str:
    """Markdown: the file and corpus names are escaped."""
    return (
        f"Ingested {escape_markdown(filename)} into '{escape_markdown(report.corpus)}': "
        f"{report.added:,} added, "
        f"{report.already_in_corpus:,} already in the corpus, "
        f"{report.duplicates_in_file:,} repeated in the file, {report.rejected:,} rejected; "
        f"{report.encoded:,} encoded in {report.seconds:.1f} s."
    )


def rejections_frame(report: IngestReport) -> pd.DataFrame:
    shown = report.rejections[:SHOWN_REJECTIONS]
    return pd.DataFrame({"line": [r.line for r in shown], "reason": [r.reason for r in shown]})


def run_summary(settings: Settings, run: ClusterRun) -> str:
    chosen = (run.params or {}).get("chosen_min_cluster_size")
    smallest = f", smallest topic {chosen} questions" if chosen else ""
    return (
        f"Clustering run {run_number_of(settings, run)}: {run.cluster_count:,} clusters"
        f"{smallest}, {run.noise_share:.1%} outliers, {run.group_count:,} near-duplicate "
        f"groups in {run.seconds or 0:.1f} s."
    )


GRANULARITY_LABELS = {"finer": "Finer", "auto": "Automatic", "coarser": "Coarser"}


def cluster_now(settings: Settings, corpus_name: str, granularity: str = "auto") -> ClusterRun:
    from clustering.params import ClusterParams

    bar = StreamlitProgress(f"Clustering '{escape_markdown(corpus_name)}'...")
    params = ClusterParams(granularity=granularity)  # type: ignore[arg-type]  # one of the labels
    run = service(settings).cluster(corpus_name, params, progress=bar)
    bar.finish(f"Clustered '{escape_markdown(corpus_name)}'")
    return run


def placement_summary(placed: Placement) -> str:
    return (
        f"Placed {placed.placed:,} new questions into the latest run's clusters, "
        f"{placed.unassigned:,} unassigned (until the next clustering)."
    )


@dataclass(frozen=True)
class UploadChoices:
    corpus: str
    text_column: str | None
    id_column: str | None
    cluster: bool


def upload_choices(names: Sequence[str], preferred: str | None) -> UploadChoices:
    options = [*names, NEW_CORPUS]
    index = names.index(preferred) if preferred in names else len(names)
    corpus_column, text_column, id_column = st.columns([2, 1, 1])
    with corpus_column:
        chosen = st.selectbox("Into corpus", options, index=index, key="ingest_corpus")
        if chosen == NEW_CORPUS:
            chosen = st.text_input("New corpus name", key="ingest_new_corpus")
    with text_column:
        text = st.text_input("Text column", key="ingest_text_column", placeholder="guess")
    with id_column:
        ids = st.text_input("Id column", key="ingest_id_column", placeholder="none")
    cluster = st.checkbox("Cluster the corpus afterwards", key="ingest_cluster")
    return UploadChoices(chosen, text.strip() or None, ids.strip() or None, cluster)


def ingest_section(settings: Settings, names: Sequence[str]) -> None:
    st.subheader("Ingest a file")
    upload = st.file_uploader(
        "CSV, TSV, JSONL, Parquet, or TXT (one question a line)",
        type=UPLOAD_TYPES,
        key="ingest_file",
    )
    choices = upload_choices(names, settings.default_corpus)
    if not st.button("Ingest", key="ingest", type="primary", disabled=upload is None):
        return
    if upload is None:
        return
    if not may_write():
        st.error(READ_ONLY_MESSAGE)
        return
    bar = StreamlitProgress(f"Ingesting {escape_markdown(upload.name)}...")
    report, placed = ingest_upload(
        upload.getvalue(),
        upload.name,
        choices.corpus,
        service=service(settings),
        text_column=choices.text_column,
        id_column=choices.id_column,
        progress=bar,
    )
    bar.finish(f"Ingested {escape_markdown(upload.name)}")
    show_report(report, upload.name)
    if report.nothing_done:
        return
    if choices.cluster:
        st.success(run_summary(settings, cluster_now(settings, report.corpus)))
    elif placed.placed or placed.unassigned:
        st.info(placement_summary(placed))


def show_report(report: IngestReport, filename: str) -> None:
    if report.nothing_done:
        st.error(
            f"No usable question in {escape_markdown(filename)}: all {report.rows_read:,} rows "
            "were rejected."
        )
    else:
        st.success(ingest_summary(report, filename))
    if report.rejections:
        shown = (
            f" (the first {SHOWN_REJECTIONS} below)" if report.rejected > SHOWN_REJECTIONS else ""
        )
        st.warning(f"{counted(report.rejected, 'row')} rejected{shown}")
        st.dataframe(rejections_frame(report), hide_index=True, key="ingest_rejections")


def cluster_section(settings: Settings, names: Sequence[str]) -> None:
    st.subheader("Cluster a corpus")
    corpus_column, level_column, button_column = st.columns([3, 3, 1], vertical_alignment="bottom")
    with corpus_column:
        preferred = settings.default_corpus
        index = names.index(preferred) if preferred in names else 0
        name = st.selectbox("Corpus to cluster", names, index=index, key="cluster_corpus")
    with level_column:
        granularity = st.segmented_control(
            "Topics", list(GRANULARITY_LABELS), default="auto", key="cluster_granularity",
            format_func=GRANULARITY_LABELS.__getitem__,
            help="Automatic: the most coherent level qclust finds for this corpus; finer or "
            "coarser topics than that. Coarse topics above them are made either way.",
        )  # fmt: skip
    with button_column:
        clicked = st.button("Cluster now", key="cluster_now")
    if clicked and name is not None:
        if not may_write():
            st.error(READ_ONLY_MESSAGE)
            return
        run = cluster_now(settings, name, str(granularity or "auto"))
        st.success(run_summary(settings, run))


def show_corpora(settings: Settings) -> None:
    summaries = corpus_summaries(settings)
    if not summaries:
        st.info("No corpus yet: upload a file below to make one.")
        return
    with sessions(settings)() as session:
        runs = latest_runs_by_corpus(session)
    st.dataframe(
        corpora_frame(summaries, runs, settings.duplicate_threshold),
        hide_index=True,
        width="stretch",
        column_config=CORPORA_COLUMNS,
    )


def render() -> None:
    st.title("Corpora")
    # The table is drawn last, into this slot, so that it shows what an ingest below just did.
    table = st.empty()
    try:
        settings = current_settings()
        names = [summary.name for summary in corpus_summaries(settings)]
        try:
            ingest_section(settings, names)
            if names:
                cluster_section(settings, names)
        finally:
            with table.container():
                show_corpora(settings)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
