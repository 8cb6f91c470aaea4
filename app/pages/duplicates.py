"""Duplicate check page: is a question, or each question of a file, already in the corpus?"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from app.csv_export import safe_csv
from app.question_files import read_question_file
from app.service import Service
from app.service.results import Check
from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    VERDICT_COLOURS,
    StreamlitProgress,
    corpus_summaries,
    corpus_threshold,
    counted,
    current_settings,
    select_corpus,
    service,
    show_error,
    uploaded_file,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.queries import CorpusSummary
from db.settings import Settings
from indexer.search import possible_threshold
from indexer.validation import Rejection, check_question, clean_text

DEFAULT_K = 5
MAX_K = 20
MAX_QUESTIONS = 5_000  # one file's worth; more belongs in `qclust dupes --file`
CHUNK = 256  # questions encoded per call, so the progress bar moves
SHOWN_REJECTIONS = 20
UPLOAD_TYPES = ["csv", "tsv", "txt"]
RESULTS_STATE = "duplicate_results"


@dataclass(frozen=True)
class Candidate:
    line: int
    text: str
    values: dict[str, Any] = field(default_factory=dict)  # an uploaded row's own columns


def pasted_questions(text: str, *, max_chars: int) -> tuple[list[Candidate], list[Rejection]]:
    """One question per non-blank line."""
    found: list[Candidate] = []
    rejected: list[Rejection] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        problem = check_question(line, max_chars=max_chars)
        if problem:
            rejected.append(Rejection(number, problem.message))
        else:
            found.append(Candidate(number, clean_text(line)))
    return found, rejected


def uploaded_questions(
    data: bytes, filename: str, *, text_column: str | None, max_chars: int
) -> tuple[list[Candidate], list[Rejection]]:
    """The questions of an uploaded CSV/TSV/TXT file, read as `qclust ingest` reads files;
    each keeps its row's own columns (a ticket number, say) for the download."""
    with uploaded_file(data, filename, text_field="Question column") as path:
        questions = read_question_file(
            path, text_column=text_column, id_column=None, file_format=None, max_chars=max_chars
        )
    found = [
        Candidate(row.line, clean_text(row.text), {c: row.values.get(c) for c in questions.columns})
        for row in questions.rows
    ]
    return found, questions.rejections


def check_all(
    service: Service,
    corpus_name: str,
    questions: Sequence[str],
    *,
    k: int,
    progress: Callable[[str, int, int | None], None],
) -> list[Check]:
    checks: list[Check] = []
    for start in range(0, len(questions), CHUNK):
        chunk = questions[start : start + CHUNK]
        checks.extend(service.check(corpus_name, chunk, k=k))
        progress("checking", len(checks), len(questions))
    return checks


RESULT_COLUMNS = {
    "line": st.column_config.NumberColumn("line", width="small"),
    "question": st.column_config.TextColumn("question", width="medium"),
    "verdict": st.column_config.TextColumn("verdict", width="small"),
    "score": st.column_config.ProgressColumn(
        "best score", format="%.3f", min_value=0.0, max_value=1.0, width="small"
    ),
    "probability": st.column_config.NumberColumn(
        "P(duplicate)", format="%.2f", width="small", help="From the corpus's calibration"
    ),
    "best match": st.column_config.TextColumn("best match", width="medium"),
    "best match id": st.column_config.TextColumn("id", width="small"),
    "canonical": st.column_config.TextColumn("canonical question of its group", width="medium"),
    "matches": st.column_config.TextColumn("matches (score question)", width="large"),
}


def results_frame(candidates: Sequence[Candidate], checks: Sequence[Check]) -> pd.DataFrame:
    """One row per question; `matches` lists every hit at or above the 'possible' threshold."""
    rows = []
    for candidate, check in zip(candidates, checks, strict=True):
        best = check.best
        canonical = best.canonical_text if best and check.verdict != "new" else None
        close = [hit for hit in check.nearest if hit.score >= check.possible_threshold]
        rows.append(
            {
                "line": candidate.line,
                "question": candidate.text,
                "verdict": check.verdict,
                "score": round(best.score, 4) if best else None,
                "probability": check.probability,
                "best match": best.text if best else None,
                "best match id": (best.external_id or str(best.question_id)) if best else None,
                "canonical": canonical or "",
                "matches": " | ".join(f"{hit.score:.3f} {hit.text}" for hit in close),
            }
        )
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    if all(check.probability is None for check in checks):  # no calibration yet
        frame = frame.drop(columns="probability")
    return frame


def signature(
    summary: CorpusSummary, revision: int, k: int, candidates: Sequence[Candidate]
) -> str:
    """Identifies one check at one state of the corpus, so reruns (a download click, say)
    reuse its results, and any change to the corpus (a threshold, an ingest) redoes it."""
    digest = hashlib.sha256()
    for part in (summary.name, str(revision), str(k), *(c.text for c in candidates)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return digest.hexdigest()


def checked_frame(
    settings: Settings, summary: CorpusSummary, candidates: Sequence[Candidate], k: int
) -> pd.DataFrame:
    lookup = service(settings)
    key = signature(summary, lookup.state(summary.name).revision, k, candidates)
    saved = st.session_state.get(RESULTS_STATE)
    if saved is not None and saved[0] == key:
        frame: pd.DataFrame = saved[1]
        return frame
    bar = StreamlitProgress(f"Checking {counted(len(candidates), 'question')}...")
    checks = check_all(lookup, summary.name, [c.text for c in candidates], k=k, progress=bar)
    bar.finish(f"Checked {counted(len(candidates), 'question')}")
    frame = results_frame(candidates, checks)
    st.session_state[RESULTS_STATE] = (key, frame)
    return frame


def verdict_summary(frame: pd.DataFrame) -> str:
    counts = frame["verdict"].value_counts()
    return " ".join(
        f":{colour}-badge[{counts.get(verdict, 0):,} {verdict}]"
        for verdict, colour in VERDICT_COLOURS.items()
    )


def download_frame(frame: pd.DataFrame, candidates: Sequence[Candidate]) -> pd.DataFrame:
    """The results beside each uploaded row's own columns, all of them, in the file's order; a
    result column whose name the file already uses becomes `qclust_<name>`."""
    own = pd.DataFrame([candidate.values for candidate in candidates])
    if own.empty:
        return frame
    results = frame.rename(columns={c: f"qclust_{c}" for c in frame.columns if c in own.columns})
    return pd.concat([own, results], axis=1)


def show_results(
    frame: pd.DataFrame, threshold: float, possible: float, candidates: Sequence[Candidate]
) -> None:
    st.markdown(
        f"Verdicts: {verdict_summary(frame)} · duplicate from {threshold:.2f}, "
        f"possible from {possible:.2f}"
    )
    if len(frame) == 1 and frame.iloc[0]["canonical"]:
        canonical = escape_markdown(str(frame.iloc[0]["canonical"]))
        st.markdown(f"Canonical question of its group: **{canonical}**")
    st.dataframe(frame, hide_index=True, width="stretch", column_config=RESULT_COLUMNS)
    st.download_button(
        "Download results (CSV)",
        safe_csv(download_frame(frame, candidates)),
        file_name="duplicate-check.csv",
        mime="text/csv",
        key="dup_download",
        on_click="ignore",
    )


def show_rejections(rejected: Sequence[Rejection]) -> None:
    if not rejected:
        return
    first = f" (the first {SHOWN_REJECTIONS} below)" if len(rejected) > SHOWN_REJECTIONS else ""
    st.warning(f"{counted(len(rejected), 'row')} skipped{first}.")
    shown = rejected[:SHOWN_REJECTIONS]
    st.dataframe(
        pd.DataFrame({"line": [r.line for r in shown], "reason": [r.reason for r in shown]}),
        hide_index=True,
        key="dup_skipped",
    )


def questions_from_input(settings: Settings) -> tuple[list[Candidate], list[Rejection]]:
    source = st.radio(
        "Questions from",
        ["Paste", "File"],
        horizontal=True,
        key="dup_source",
        label_visibility="collapsed",
    )
    max_chars = settings.max_question_chars
    if source == "Paste":
        text = st.text_area("Questions, one per line", key="dup_text", height=120)
        # The text area sends its text on Ctrl+Enter or when it loses focus; the button is the
        # obvious way to do the latter.
        st.button("Check", key="dup_check", type="primary")
        return pasted_questions(text, max_chars=max_chars)
    upload_column, column_column = st.columns([3, 1])
    with upload_column:
        upload = st.file_uploader("A CSV, TSV or TXT file", type=UPLOAD_TYPES, key="dup_file")
    with column_column:
        column = st.text_input("Question column", key="dup_column", placeholder="guess")
    if upload is None:
        return [], []
    return uploaded_questions(
        upload.getvalue(), upload.name, text_column=column.strip() or None, max_chars=max_chars
    )


def render() -> None:
    st.title("Duplicate check")
    try:
        settings = current_settings()
        summaries = corpus_summaries(settings)
        if not summaries:
            st.info(NO_CORPUS_MESSAGE)
            return
        corpus_column, k_column = st.columns([3, 1])
        with corpus_column:
            summary = select_corpus(summaries, settings.default_corpus)
        with k_column:
            k = int(st.slider("Matches per question", 1, MAX_K, DEFAULT_K, key="dup_k"))
        threshold = corpus_threshold(settings, summary)
        possible = possible_threshold(threshold, settings.possible_margin)
        candidates, rejected = questions_from_input(settings)
        show_rejections(rejected)
        if not candidates:
            st.caption("Paste questions or upload a file to check them against the corpus.")
            return
        if len(candidates) > MAX_QUESTIONS:
            st.warning(f"Checking the first {MAX_QUESTIONS:,} of {len(candidates):,} questions.")
            candidates = candidates[:MAX_QUESTIONS]
        frame = checked_frame(settings, summary, candidates, k)
        show_results(frame, threshold, possible, candidates)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
