"""Per-corpus searchers that are never stale: each use reads the corpus's state revision (one
indexed row) and rebuilds the searcher when it moved, reusing the index when only non-vector
state changed (a threshold, a calibration, a clustering run)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.service.results import ThresholdSource
from db.calibrations import latest_calibration, threshold_source
from db.changes import corpus_state
from db.cluster_queries import cluster_views, latest_run
from db.errors import CorpusNotFoundError
from db.models import Corpus
from db.queries import corpus_names
from db.settings import Settings
from indexer.encoder import Encoder, EncoderSpec
from indexer.search import CorpusSearcher


@dataclass(frozen=True)
class CorpusState:
    """What one state revision of a corpus looks like to a reader."""

    uid: str  # the corpus row's uid: a corpus made again under the same name is another
    revision: int
    searcher: CorpusSearcher
    run_id: int | None  # the latest finished clustering run
    cluster_names: dict[int, str] = field(default_factory=dict)
    # A threshold or calibration change bumps the revision, so this stays true for the state.
    threshold_source: ThresholdSource = "default"


class SearcherCache:
    """Searchers for at most `max_corpora` corpora, least recently used dropped first; safe to
    share between threads (a corpus is built once however many requests ask at once)."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], *, max_corpora: int = 8
    ) -> None:
        self.settings, self.sessions = settings, sessions
        self.max_corpora = max_corpora
        self._states: OrderedDict[str, CorpusState] = OrderedDict()
        self._encoders: dict[EncoderSpec, Encoder] = {}
        self._encoder_lock = threading.Lock()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def state(self, corpus: str) -> CorpusState:
        """The corpus as the database has it now."""
        with self.sessions() as session:
            found = corpus_state(session, corpus)
            if found is None:
                raise CorpusNotFoundError(corpus, corpus_names(session))
        uid, revision = found
        cached = self._fresh(corpus, uid, revision)
        if cached is not None:
            return cached
        with self._build_lock(corpus):
            cached = self._fresh(corpus, uid, revision)
            if cached is not None:
                return cached
            state = self._build(corpus, uid, revision)
            with self._lock:
                self._states[corpus] = state
                self._states.move_to_end(corpus)
                while len(self._states) > self.max_corpora:
                    self._states.popitem(last=False)
            return state

    def searcher(self, corpus: str) -> CorpusSearcher:
        return self.state(corpus).searcher

    def _fresh(self, corpus: str, uid: str, revision: int) -> CorpusState | None:
        with self._lock:
            cached = self._states.get(corpus)
            if cached is None or cached.uid != uid or cached.revision < revision:
                return None
            self._states.move_to_end(corpus)
            return cached

    def _build_lock(self, corpus: str) -> threading.Lock:
        with self._lock:
            return self._building.setdefault(corpus, threading.Lock())

    def _build(self, corpus: str, uid: str, revision: int) -> CorpusState:
        # Read after `revision`: what is built is at least that new, never older.
        with self._lock:
            previous = self._states.get(corpus)
        if previous is not None and previous.uid != uid:
            previous = None  # deleted and made again: nothing of the old one may be reused
        searcher = CorpusSearcher(
            corpus,
            settings=self.settings,
            sessions=self.sessions,
            previous=previous.searcher if previous else None,
            encoders=self.encoder,
        )
        with self.sessions() as session:
            run = latest_run(session, searcher.corpus_id)
            names = {view.key: view.name for view in cluster_views(session, run)} if run else {}
            own = session.get_one(Corpus, searcher.corpus_id).duplicate_threshold
            source = threshold_source(own, latest_calibration(session, searcher.corpus_id))
        return CorpusState(uid, revision, searcher, run.id if run else None, names, source)

    def adopt(self, encoder: Encoder) -> None:
        """Use an already loaded model for its spec (a caller that has one saves a load)."""
        with self._encoder_lock:
            self._encoders.setdefault(encoder.spec, encoder)

    def encoder(self, spec: EncoderSpec) -> Encoder:
        """One loaded model per spec, shared by every corpus that uses it."""
        with self._encoder_lock:
            loaded = self._encoders.get(spec)
            if loaded is None:
                loaded = Encoder(
                    spec, device=self.settings.device, batch_size=self.settings.batch_size
                )
                loaded.encode(["warm up"])  # the first call is slow; keep it off a request
                self._encoders[spec] = loaded
            return loaded
