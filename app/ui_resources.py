"""What every UI page shares: settings, the session factory and searchers, cached per process.

Only heavy, thread-safe objects are cached here (`st.cache_resource`); a `Session` never is:
pages open one per script run from the cached factory.
"""

from __future__ import annotations

import getpass
import os
import shlex
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from app.service import Service
from app.ui_login import signed_in_user
from app.ui_text import escape_markdown, markdown_code
from db.cluster_queries import ClusterView, cluster_views, latest_run, level_counts, run_number
from db.models import ClusterRun, TokenScope
from db.queries import CorpusSummary, get_corpus, summaries_fingerprint, summarize_corpora
from db.session import open_database
from db.settings import Settings
from indexer.errors import InputFileError
from indexer.search import CorpusSearcher

ANALYST = "analyst"
_KEPT_ANALYST = "kept_analyst"


READ_ONLY_MESSAGE = (
    "You signed in with a read-only token: searching and browsing only. Sign in with a "
    "write token to label, edit or ingest."
)


def analyst_name() -> str:
    """Who is editing or labelling: the signed-in token's name on an exposed UI, else the
    sidebar's name, else `QCLUST_ANALYST`, else the OS user."""
    signed_in = signed_in_user()
    if signed_in is not None:
        return signed_in.name
    typed = str(st.session_state.get(ANALYST) or st.session_state.get(_KEPT_ANALYST) or "")
    return typed.strip() or default_analyst()


def may_write() -> bool:
    """False only for an analyst signed in with a read-only token."""
    signed_in = signed_in_user()
    return signed_in is None or signed_in.scope is TokenScope.WRITE


def default_analyst() -> str:
    return os.environ.get("QCLUST_ANALYST") or getpass.getuser()


def analyst_input() -> str:
    """The sidebar box for the analyst's name, on the pages that store edits or labels.

    The name is also kept under a key no widget owns, so it survives page switches.
    """
    signed_in = signed_in_user()
    if signed_in is not None:
        st.sidebar.text_input("Analyst", value=signed_in.name, disabled=True)
        return signed_in.name
    typed = st.sidebar.text_input(
        "Analyst", value=st.session_state.get(_KEPT_ANALYST) or default_analyst(), key=ANALYST
    )
    st.session_state[_KEPT_ANALYST] = typed.strip()
    return analyst_name()


def current_settings() -> Settings:
    """Settings as the environment says now; cheap, so read on every run."""
    return Settings()


@st.cache_resource(show_spinner="Opening the database...")
def _sessions_for(database_url: str) -> sessionmaker[Session]:
    return open_database(database_url)


def sessions(settings: Settings) -> sessionmaker[Session]:
    """The process-wide session factory for the configured database."""
    return _sessions_for(settings.resolved_database_url)


def corpus_summaries(settings: Settings) -> list[CorpusSummary]:
    """Every corpus's counts, counted again only when something they depend on moved (every
    page and every rerun shows them)."""
    with sessions(settings)() as session:
        fingerprint = summaries_fingerprint(session)
    return _summaries_at(settings.resolved_database_url, fingerprint)


@st.cache_data(show_spinner=False, max_entries=8)
def _summaries_at(database_url: str, fingerprint: tuple[Any, ...]) -> list[CorpusSummary]:
    with _sessions_for(database_url)() as session:
        return summarize_corpora(session)


def warn_if_not_encoded(summary: CorpusSummary) -> None:
    """Say so when some questions cannot be found yet, rather than let a search look complete."""
    if summary.not_encoded:
        st.warning(
            f"{summary.not_encoded:,} questions of corpus '{escape_markdown(summary.name)}' are "
            "not encoded yet, so searches cannot find them and duplicate checks cannot say "
            "'new'; run `qclust ingest` again (or wait for the ingest that is running)."
        )


@st.cache_resource(show_spinner="Opening the corpus...")
def _service_for(database_url: str, data_dir: str, _settings: Settings) -> Service:
    # The leading underscore keeps `_settings` out of the cache key; the url and data dir
    # stand in for it.
    return Service(_settings, _sessions_for(database_url))


def service(settings: Settings) -> Service:
    """The process's one `Service` for the configured database: every page's use cases."""
    return _service_for(settings.resolved_database_url, str(settings.data_dir), settings)


def searcher(settings: Settings, corpus_name: str) -> CorpusSearcher:
    """The corpus's searcher at its current state (a change anywhere is seen at once)."""
    return service(settings).state(corpus_name).searcher


# What follows is shared by the pages that pick a corpus and show its latest clustering run.

NO_CORPUS_MESSAGE = (
    "No corpus yet: ingest a file on the Corpora page, or with "
    "`qclust ingest FILE --corpus NAME --text-column question`, then reload."
)
_CHOSEN_CORPUS = "chosen_corpus"
VERDICT_COLOURS = {"duplicate": "red", "possible": "orange", "new": "green"}
# Cluster names change when an analyst renames one (here or in another process); cached views
# are dropped on a rename here and expire soon enough for a rename elsewhere.
_VIEWS_TTL_SECONDS = 60


def counted(count: int, noun: str) -> str:
    """'1 row', '2 rows'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def select_corpus(
    summaries: Sequence[CorpusSummary], preferred: str | None, *, key: str = "corpus"
) -> CorpusSummary:
    """A corpus selectbox: the corpus a link names, else the one chosen on the page before,
    else the one `QCLUST_DEFAULT_CORPUS` names when it exists, else the first."""
    names = [summary.name for summary in summaries]
    # Streamlit drops a widget's state when the analyst switches pages, so the choice is also
    # kept under a key no widget owns.
    # A link from another page (`?corpus=NAME`) wins, once.
    linked = st.query_params.pop("corpus", None)
    chosen = linked if linked in names else st.session_state.get(_CHOSEN_CORPUS)
    if linked in names:
        st.session_state.pop(key, None)
    wanted = chosen if chosen in names else preferred
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox("Corpus", names, index=index, key=key)
    st.session_state[_CHOSEN_CORPUS] = name
    return summaries[names.index(name)] if name in names else summaries[0]


def corpus_threshold(settings: Settings, summary: CorpusSummary) -> float:
    return settings.threshold_for(summary.duplicate_threshold)


def latest_run_of(settings: Settings, corpus_name: str) -> ClusterRun | None:
    """The corpus's newest finished clustering run (its loaded columns stay readable)."""
    with sessions(settings)() as session:
        return latest_run(session, get_corpus(session, corpus_name).id)


def run_number_of(settings: Settings, run: ClusterRun) -> int:
    """The run's number within its corpus (the id is global)."""
    with sessions(settings)() as session:
        return run_number(session, run)


def no_run_message(corpus_name: str) -> str:
    command = markdown_code(f"qclust cluster --corpus {shlex.quote(corpus_name)}")
    return f"No clustering yet: run {command} or use the Corpora page."


def show_error(error: Exception) -> None:
    """An error message, which may quote user text (a corpus or file name), shown as text."""
    st.error(escape_markdown(str(error)))


@st.cache_data(show_spinner=False, ttl=_VIEWS_TTL_SECONDS, max_entries=32)
def _cluster_views_of(database_url: str, run_id: int, level: int = 0) -> list[ClusterView]:
    with _sessions_for(database_url)() as session:
        return cluster_views(session, session.get_one(ClusterRun, run_id), level=level)


@st.cache_data(show_spinner=False, ttl=_VIEWS_TTL_SECONDS, max_entries=32)
def _level_counts_of(database_url: str, run_id: int) -> list[int]:
    with _sessions_for(database_url)() as session:
        return level_counts(session, session.get_one(ClusterRun, run_id))


def run_cluster_views(settings: Settings, run_id: int, level: int = 0) -> list[ClusterView]:
    """The run's clusters at `level` (0: topics; 1, 2, ...: coarser), largest first, cached
    per run."""
    return _cluster_views_of(settings.resolved_database_url, run_id, level)


def run_level_counts(settings: Settings, run_id: int) -> list[int]:
    """How many clusters each level of the run has: [topics, coarse topics, ...]."""
    return _level_counts_of(settings.resolved_database_url, run_id)


LEVEL_NAMES = ("Topics", "Coarse topics", "Coarser topics")


def level_name(level: int) -> str:
    return LEVEL_NAMES[min(level, len(LEVEL_NAMES) - 1)]


def ancestors_at(settings: Settings, run_id: int, level: int) -> dict[int, int]:
    """Topic key -> key of the cluster holding it at `level` (itself at level 0)."""
    mapping = {view.key: view.key for view in run_cluster_views(settings, run_id)}
    for step in range(1, level + 1):
        parents = run_cluster_views(settings, run_id, step - 1)
        above = {view.key: view.parent_key for view in parents if view.parent_key is not None}
        mapping = {topic: above[held] for topic, held in mapping.items() if held in above}
    return mapping


def forget_cluster_views() -> None:
    """After a rename or an edit: the next run reads the clusters again."""
    _cluster_views_of.clear()
    _level_counts_of.clear()


class StreamlitProgress:
    """Feeds the indexer's and pipeline's `(stage, done, total)` callbacks to one progress bar."""

    def __init__(self, label: str) -> None:
        self._bar = st.progress(0.0, text=label)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if total:
            self._bar.progress(min(1.0, done / total), text=f"{stage}: {done:,} of {total:,}")
        else:
            self._bar.progress(0.0, text=f"{stage}: {done:,}")

    def finish(self, text: str) -> None:
        self._bar.progress(1.0, text=text)


@contextmanager
def uploaded_file(data: bytes, filename: str, *, text_field: str = "Text column") -> Iterator[Path]:
    """An upload as a temporary file with the upload's suffix (which tells the reader its format).

    The user's file name is only shown, never used as a path: errors about the temporary file
    are reworded to name the upload instead, and to name the page's field where the CLI's
    would name an option.
    """
    with tempfile.TemporaryDirectory(prefix="qclust-upload-") as folder:
        path = Path(folder) / f"upload{Path(filename).suffix.lower()}"
        path.write_bytes(data)
        try:
            yield path
        except InputFileError as exc:
            message = str(exc).replace(str(path), filename)
            message = message.replace("Pass --text-column", f"Name it in the '{text_field}' box")
            raise type(exc)(message) from exc
