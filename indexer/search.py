"""Semantic search and duplicate lookup over one corpus, shared by the CLI, UI and HTTP lookup."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from db.calibrations import latest_calibration
from db.errors import QclustError
from db.queries import question_texts, questions_by_id
from db.session import open_database
from db.settings import Settings
from db.vectors import sample_vector_ids, vector_ids, vectors_of
from indexer.calibration import probability
from indexer.corpus_index import CorpusLocation, locate_corpus, open_index
from indexer.encoder import Encoder, EncoderSpec
from indexer.errors import EmptyQueryError, NotEncodedError
from indexer.index import search as index_search
from indexer.index import to_search_device
from indexer.validation import clean_text

logger = logging.getLogger(__name__)

Verdict = Literal["duplicate", "possible", "new"]


@dataclass(frozen=True)
class Hit:
    question_id: int
    text: str
    score: float
    external_id: str | None = None


@dataclass(frozen=True)
class DuplicateCheck:
    question: str
    verdict: Verdict
    threshold: float
    possible_threshold: float
    matches: list[Hit] = field(default_factory=list)  # at or above the threshold
    nearest: list[Hit] = field(default_factory=list)  # the top hits, whatever their score
    # P(duplicate) of the best match, when the corpus's threshold was calibrated from labels.
    probability: float | None = None

    @property
    def best(self) -> Hit | None:
        return self.nearest[0] if self.nearest else None


def possible_threshold(threshold: float, margin: float) -> float:
    """Scores this far below the threshold are 'possible' duplicates."""
    return round(max(0.0, threshold - margin), 6)


def verdict_for(score: float | None, threshold: float, possible_threshold: float) -> Verdict:
    if score is not None and score >= threshold:
        return "duplicate"
    if score is not None and score >= possible_threshold:
        return "possible"
    return "new"


class CorpusSearcher:
    """Holds one corpus's encoder and index in memory; cheap to query many times."""

    def __init__(
        self,
        corpus_name: str,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        encoder: Encoder | None = None,
        previous: CorpusSearcher | None = None,
        encoders: Callable[[EncoderSpec], Encoder] | None = None,
    ) -> None:
        """`previous`, a searcher of the same corpus opened earlier, lends its index when the
        corpus's vectors have not changed since (a threshold or a clustering run changed);
        `encoders` hands out shared, loaded encoders by spec."""
        self.settings, self.sessions = settings, sessions
        location = locate_corpus(sessions, settings, corpus_name)
        self.corpus_id, self.corpus_name = location.corpus_id, location.name
        self.threshold = location.threshold
        with sessions() as session:
            calibration = latest_calibration(session, location.corpus_id)
        # The probability curve holds whatever threshold is set later by hand.
        self.calibration = (
            (calibration.knots_x, calibration.knots_y) if calibration is not None else None
        )
        # The model loads when a text first needs encoding: the Labelling and Clusters pages
        # read stored vectors only, and at a million questions the load was a third of the
        # Labelling page's first open.
        self._encoder = encoder if encoder is not None and encoder.spec == location.spec else None
        self._encoders = encoders
        self._encoder_lock = threading.Lock()
        self.location = location
        if location.not_encoded:
            logger.warning("%s", location.not_encoded_message())
        if (
            previous is not None
            and previous.location.encoder_id == location.encoder_id
            and previous.location.revision == location.revision
        ):
            self.index: Any = previous.index
        else:
            index = open_index(sessions, location, exact_max=settings.exact_index_max)
            self.index = to_search_device(index, settings.ngpu)

    @property
    def encoder(self) -> Encoder:
        """The corpus's model, loaded on first use (a model that fails to load says so then)."""
        with self._encoder_lock:
            if self._encoder is None:
                spec, settings = self.location.spec, self.settings
                self._encoder = (
                    self._encoders(spec)
                    if self._encoders is not None
                    else Encoder(spec, device=settings.device, batch_size=settings.batch_size)
                )
            return self._encoder

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def not_encoded(self) -> int:
        """Questions stored but not searchable yet (an ingest is running, or was killed)."""
        return self.location.not_encoded

    def vector_ids(self) -> npt.NDArray[np.int64]:
        with self.sessions() as session:
            return vector_ids(session, self.corpus_id, self.location.encoder_id)

    def sample_vector_ids(self, count: int, *, seed: int = 0) -> list[int]:
        """About `count` ids of stored vectors, without reading them all."""
        with self.sessions() as session:
            return sample_vector_ids(
                session, self.corpus_id, self.location.encoder_id, count, seed=seed
            )

    def vectors_of(
        self, ids: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Stored vectors of these ids, ascending by id."""
        location: CorpusLocation = self.location
        with self.sessions() as session:
            return vectors_of(
                session, self.corpus_id, location.encoder_id, ids,
                dimension=location.dimension, dtype=location.dtype,
            )  # fmt: skip

    @property
    def possible_threshold(self) -> float:
        return possible_threshold(self.threshold, self.settings.possible_margin)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        cleaned = [clean_text(query) for query in queries]
        if not cleaned or not all(cleaned):
            raise EmptyQueryError()
        if k < 1:
            raise QclustError(f"k must be at least 1, not {k}")
        scores, ids = index_search(self.index, self.encoder.encode(cleaned), k)
        with self.sessions() as session:
            found = questions_by_id(session, {int(i) for i in ids.ravel() if i >= 0})
        return [
            [
                Hit(int(i), found[int(i)].text, float(s), found[int(i)].external_id)
                for s, i in zip(row_scores, row_ids, strict=True)
                if i >= 0 and int(i) in found
            ]
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]

    def check_duplicates(
        self, question: str, *, k: int = 10, threshold: float | None = None
    ) -> DuplicateCheck:
        return self.check_duplicates_many([question], k=k, threshold=threshold)[0]

    def check_duplicates_many(
        self, questions: Sequence[str], *, k: int = 10, threshold: float | None = None
    ) -> list[DuplicateCheck]:
        limit = self.threshold if threshold is None else threshold
        possible = possible_threshold(limit, self.settings.possible_margin)
        checks = [
            DuplicateCheck(
                question=question,
                verdict=verdict_for(hits[0].score if hits else None, limit, possible),
                threshold=limit,
                possible_threshold=possible,
                matches=[hit for hit in hits if hit.score >= limit],
                nearest=hits,
                probability=self.probability(hits[0].score) if hits else None,
            )
            for question, hits in zip(questions, self.search_many(questions, k), strict=True)
        ]
        if self.not_encoded and any(check.verdict != "duplicate" for check in checks):
            # An unencoded question may be the duplicate: "new" would be a guess, not an answer.
            raise NotEncodedError(
                f"{self.location.not_encoded_message()}; until then a verdict other than "
                "'duplicate' cannot be trusted"
            )
        return checks

    def probability(self, score: float) -> float | None:
        """P(duplicate) at this cosine, from the corpus's calibration; None without one."""
        if self.calibration is None:
            return None
        return probability(score, *self.calibration)

    def texts(self, ids: Sequence[int]) -> dict[int, str]:
        with self.sessions() as session:
            return question_texts(session, ids)


def open_searcher(
    corpus_name: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session] | None = None,
    encoder: Encoder | None = None,
) -> CorpusSearcher:
    sessions = sessions or open_database(settings.resolved_database_url)
    return CorpusSearcher(corpus_name, settings=settings, sessions=sessions, encoder=encoder)
