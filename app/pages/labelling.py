"""Labelling page: analysts judge pairs near the duplicate threshold, most informative first.

Labels are stored with who and when; the page shows how the corpus's current threshold does
on them, which is what calibration (and fine-tuning) later learn from.
"""

from __future__ import annotations

import streamlit as st

from app.ui_resources import (
    NO_CORPUS_MESSAGE,
    analyst_input,
    analyst_name,
    corpus_summaries,
    corpus_threshold,
    current_settings,
    searcher,
    select_corpus,
    sessions,
    show_error,
    summary_stamp,
)
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.labels import label_counts, labelled_pairs, record_label, threshold_quality
from db.models import PairVerdict
from db.queries import CorpusSummary, get_corpus
from db.settings import Settings
from indexer.label_queue import CandidatePair, candidate_pairs

QUEUE_LENGTH = 10
LAST_LABEL = "last_label"


def _labelled(
    settings: Settings, corpus_name: str, pair: CandidatePair, verdict: PairVerdict
) -> None:
    with sessions(settings).begin() as session:
        record_label(
            session,
            get_corpus(session, corpus_name).id,
            (pair.first_id, pair.second_id),
            verdict,
            similarity=pair.similarity,
            by=analyst_name(),
        )
    st.session_state[LAST_LABEL] = f"Pair {pair.first_id}-{pair.second_id}: {verdict.value}"


def show_quality(settings: Settings, summary: CorpusSummary, threshold: float) -> None:
    with sessions(settings)() as session:
        corpus_id = get_corpus(session, summary.name).id
        counts = label_counts(session, corpus_id)
        quality = threshold_quality(session, corpus_id, threshold)
    duplicate, different, skipped = st.columns(3)
    duplicate.metric("Duplicate", f"{counts[PairVerdict.DUPLICATE]:,}")
    different.metric("Not duplicate", f"{counts[PairVerdict.NOT_DUPLICATE]:,}")
    skipped.metric("Skipped", f"{counts[PairVerdict.SKIPPED]:,}")
    precision = "-" if quality.precision is None else f"{quality.precision:.1%}"
    recall = "-" if quality.recall is None else f"{quality.recall:.1%}"
    st.caption(
        f"On these labels the threshold {threshold:.2f} has precision {precision} and "
        f"recall {recall} ({quality.true_positives} of {quality.positives} duplicates found, "
        f"{quality.false_positives} false alarms among {quality.negatives} non-duplicates)."
    )


def show_pair(settings: Settings, corpus_name: str, pair: CandidatePair, position: int) -> None:
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
                key=f"label_{pair.first_id}_{pair.second_id}_{verdict.value}",
                on_click=_labelled,
                args=(settings, corpus_name, pair, verdict),
                type="primary" if verdict is PairVerdict.DUPLICATE else "secondary",
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
        if LAST_LABEL in st.session_state:
            st.success(st.session_state.pop(LAST_LABEL))
        corpus_searcher = searcher(settings, summary.name, summary_stamp(summary))
        with sessions(settings)() as session:
            done = labelled_pairs(session, get_corpus(session, summary.name).id)
        queue = candidate_pairs(corpus_searcher, done, threshold=threshold, limit=QUEUE_LENGTH)
        if not queue:
            st.info("No unlabelled pair near the threshold: every candidate has a label.")
            return
        st.caption(
            f"Pairs nearest the threshold {threshold:.2f} first: a label there teaches the most. "
            f"Labelling as {escape_markdown(analyst_name())}."
        )
        for position, pair in enumerate(queue, start=1):
            show_pair(settings, summary.name, pair, position)
    except QclustError as exc:
        show_error(exc)


# Streamlit runs a page as `__main__`; tests import the functions above without drawing it.
if __name__ == "__main__":
    render()
