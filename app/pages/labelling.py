"""Labelling page: analysts judge pairs near the duplicate threshold, most informative first.

Labels are stored with who and when; the page shows how the corpus's current threshold does
on them, which is what calibration (and fine-tuning) later learn from.
"""

from __future__ import annotations

import streamlit as st

from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    READ_ONLY_MESSAGE,
    analyst_input,
    analyst_name,
    corpus_summaries,
    corpus_threshold,
    current_settings,
    may_write,
    searcher,
    select_corpus,
    service,
    sessions,
    show_error,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.labels import label_counts, labelled_pairs, threshold_quality
from db.models import PairVerdict
from db.queries import CorpusSummary, get_corpus
from db.settings import Settings
from indexer.label_queue import CandidatePair, candidate_pairs

QUEUE_LENGTH = 10
QUEUE_LENGTHS = [10, 25, 50]
LABELS_TO_KNOW = 20
LAST_LABEL = "last_label"


def _labelled(
    settings: Settings, corpus_name: str, pair: CandidatePair, verdict: PairVerdict
) -> None:
    if not may_write():
        st.session_state[LAST_LABEL] = ("error", READ_ONLY_MESSAGE)
        return
    service(settings).label_pair(
        corpus_name, pair.first_id, pair.second_id, verdict, by=analyst_name()
    )
    said = VERDICT_WORDS[verdict]
    st.session_state[LAST_LABEL] = (
        "success",
        f"Labelled {said}: “{escape_markdown(_short(pair.first_text))}” and "
        f"“{escape_markdown(_short(pair.second_text))}”.",
    )


VERDICT_WORDS = {
    PairVerdict.DUPLICATE: "a duplicate",
    PairVerdict.NOT_DUPLICATE: "not a duplicate",
    PairVerdict.SKIPPED: "skipped",
}


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _undo(settings: Settings, corpus_name: str) -> None:
    if not may_write():
        st.session_state[LAST_LABEL] = ("error", READ_ONLY_MESSAGE)
        return
    taken_back = service(settings).undo_last_label(corpus_name, by=analyst_name())
    if taken_back is None:
        st.session_state[LAST_LABEL] = ("error", "You have no label to take back here.")
        return
    first, second = (escape_markdown(_short(text)) for text in taken_back)
    st.session_state[LAST_LABEL] = (
        "success",
        f"Took back your last label, on “{first}” and “{second}”; the pair is back in the queue.",
    )


def _calibrate(settings: Settings, corpus_name: str) -> None:
    if not may_write():
        st.session_state[LAST_LABEL] = ("error", READ_ONLY_MESSAGE)
        return
    try:
        result = service(settings).calibrate(corpus_name)
    except QclustError as exc:
        st.session_state[LAST_LABEL] = ("error", escape_markdown(str(exc)))
        return
    fitted = result.fitted
    st.session_state[LAST_LABEL] = (
        "success",
        f"The duplicate threshold is now {fitted.threshold:.3f}, fitted on "
        f"{fitted.positives} duplicates and {fitted.negatives} non-duplicates "
        f"(cross-validated precision {fitted.cv_precision:.1%}, "
        f"recall {fitted.cv_recall:.1%}).",
    )


def show_quality(settings: Settings, summary: CorpusSummary, threshold: float) -> None:
    with sessions(settings)() as session:
        corpus_id = get_corpus(session, summary.name).id
        counts = label_counts(session, corpus_id)
        quality = threshold_quality(session, corpus_id, threshold)
    duplicate, different, skipped = st.columns(3)
    duplicate.metric("Duplicate", f"{counts[PairVerdict.DUPLICATE]:,}")
    different.metric("Not duplicate", f"{counts[PairVerdict.NOT_DUPLICATE]:,}")
    skipped.metric("Skipped", f"{counts[PairVerdict.SKIPPED]:,}")
    if quality.positives + quality.negatives == 0:
        st.caption(
            f"No labels yet: the threshold {threshold:.2f} is a default, not a measured one. "
            f"Label {LABELS_TO_KNOW} pairs to know its precision."
        )
        return
    precision = "-" if quality.precision is None else f"{quality.precision:.1%}"
    recall = "-" if quality.recall is None else f"{quality.recall:.1%}"
    st.caption(
        f"On these labels the threshold {threshold:.2f} has precision {precision} and "
        f"recall {recall} ({quality.true_positives} of {quality.positives} duplicates found, "
        f"{quality.false_positives} false alarms among {quality.negatives} non-duplicates)."
    )


# The first pair on the page answers to keys: D duplicate, N not, S skip (shown on its buttons).
SHORTCUTS = {PairVerdict.DUPLICATE: "d", PairVerdict.NOT_DUPLICATE: "n", PairVerdict.SKIPPED: "s"}


def show_pair(
    settings: Settings, corpus_name: str, pair: CandidatePair, position: int, *,
    key_prefix: str = "label", shortcuts: bool = True,
) -> None:  # fmt: skip
    with st.container(border=True):
        st.markdown(f"**Pair {position}** · similarity {pair.similarity:.3f}")
        left, right = st.columns(2)
        left.info(escape_markdown(pair.first_text))
        right.info(escape_markdown(pair.second_text))
        buttons = st.columns(3)
        for column, verdict, text in zip(
            buttons,
            (PairVerdict.DUPLICATE, PairVerdict.NOT_DUPLICATE, PairVerdict.SKIPPED),
            ("Duplicate", "Not duplicate", "Skip"),
            strict=True,
        ):
            column.button(
                text,
                key=f"{key_prefix}_{pair.first_id}_{pair.second_id}_{verdict.value}",
                on_click=_labelled,
                args=(settings, corpus_name, pair, verdict),
                type="primary" if verdict is PairVerdict.DUPLICATE else "secondary",
                shortcut=SHORTCUTS[verdict] if shortcuts and position == 1 else None,
            )


def render() -> None:
    st.title("Labelling")
    analyst_input()
    try:
        settings = current_settings()
        summaries = corpus_summaries(settings)
        if not summaries:
            st.info(NO_CORPUS_MESSAGE)
            return
        summary = select_corpus(summaries, settings.default_corpus)
        threshold = corpus_threshold(settings, summary)
        show_quality(settings, summary, threshold)
        undo_column, calibrate_column = st.columns([1, 3])
        undo_column.button(
            "Undo my last label", key="undo_label", on_click=_undo, args=(settings, summary.name)
        )
        calibrate_column.button(
            "Calibrate the threshold from these labels",
            key="calibrate",
            on_click=_calibrate,
            args=(settings, summary.name),
            help="Fits the threshold with the best F1 on the labels, and keeps a probability "
            "curve so that every verdict shows P(duplicate).",
        )
        if LAST_LABEL in st.session_state:
            kind, message = st.session_state.pop(LAST_LABEL)
            (st.success if kind == "success" else st.error)(message)
        corpus_searcher = searcher(settings, summary.name)
        with sessions(settings)() as session:
            done = labelled_pairs(session, get_corpus(session, summary.name).id)
        length = int(
            st.segmented_control(
                "Pairs at a time", QUEUE_LENGTHS, default=QUEUE_LENGTH, key="queue_length"
            )
            or QUEUE_LENGTH
        )
        queue = candidate_pairs(corpus_searcher, done, threshold=threshold, limit=length)
        if not queue:
            st.info("No unlabelled pair near the threshold: every candidate has a label.")
            return
        st.caption(
            f"Pairs nearest the threshold {threshold:.2f} first: a label there teaches the most. "
            "Keys D, N and S label the first pair. "
            f"Labelling as {escape_markdown(analyst_name())}."
        )
        for position, pair in enumerate(queue, start=1):
            show_pair(settings, summary.name, pair, position)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
