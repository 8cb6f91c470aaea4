"""A corpus as its readers see it: encoder, counts, revision, and an index that matches the
database.

The database holds every vector; the index is a cache of them. `open_index` uses the cache
file when it was built at the corpus's current revision, brings it level when it only lacks
vectors added since, and rebuilds it from the database when it is missing, corrupt, of the
wrong dimension, of another kind than `choose_index` now picks (see `needs_rebuild`), or holds a
vector the database does not (never by re-encoding).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import Encoder as EncoderRow
from db.queries import count_questions, get_corpus
from db.settings import Settings
from db.vectors import (
    VectorDtype,
    corpus_revision,
    count_vectors,
    read_all_vectors,
    stored_dtype,
    vector_ids,
    vectors_of,
)
from indexer.encoder import EncoderSpec
from indexer.errors import IndexFileError
from indexer.index import EXACT_FACTORY, IndexChoice, add_vectors, build_index, choose_index
from indexer.index_cache import CachedIndex, cache_folder, read_cache, write_cache

logger = logging.getLogger(__name__)
_IVF_LISTS = re.compile(r"IVF(\d+)")


def needs_rebuild(current: str, wanted: str) -> bool:
    """Rebuild when the kind changes (exact, IVF-Flat, IVF-SQ8), or when IVF's list count is
    off by 2x or more."""
    if current == wanted:
        return False
    if EXACT_FACTORY in (current, wanted):
        return True
    if _IVF_LISTS.sub("IVF", current) != _IVF_LISTS.sub("IVF", wanted):
        return True
    have, want = (_IVF_LISTS.search(kind) for kind in (current, wanted))
    if have is None or want is None:
        return True
    ratio = int(want.group(1)) / int(have.group(1))
    return ratio >= 2 or ratio <= 0.5


@dataclass(frozen=True)
class CorpusLocation:
    """What every reader of a corpus needs, read from the database in one go."""

    corpus_id: int
    name: str
    uid: str
    encoder_id: int
    spec: EncoderSpec
    dimension: int
    dtype: VectorDtype
    threshold: float
    question_count: int
    vector_count: int
    revision: int
    data_dir: Path
    index_memory_bytes: int | None = None  # None: no budget, the index is never compressed

    @property
    def not_encoded(self) -> int:
        return max(self.question_count - self.vector_count, 0)

    @property
    def cache_folder(self) -> Path:
        return cache_folder(self.data_dir, self.uid, self.encoder_id)

    def index_choice(self, n_vectors: int, exact_max: int) -> IndexChoice:
        return choose_index(
            n_vectors, exact_max=exact_max, dimension=self.dimension,
            memory_bytes=self.index_memory_bytes,
        )  # fmt: skip

    def not_encoded_message(self) -> str:
        return (
            f"{self.not_encoded:,} questions of corpus '{self.name}' are not encoded yet; "
            "run 'qclust ingest' again (or wait for the ingest that is running)"
        )


def locate_corpus(sessions: sessionmaker[Session], settings: Settings, name: str) -> CorpusLocation:
    with sessions() as session:
        location = _read_location(session, settings, name)
    if location.vector_count == 0 and location.question_count:
        from indexer.legacy import import_legacy_vectors  # only for data from older versions

        if import_legacy_vectors(sessions, settings, location):
            with sessions() as session:
                location = _read_location(session, settings, name)
    return location


def _read_location(session: Session, settings: Settings, name: str) -> CorpusLocation:
    corpus = get_corpus(session, name)
    if corpus.encoder_id is None:
        raise QclustError(f"corpus '{name}' has no questions yet; ingest some first")
    row = session.get_one(EncoderRow, corpus.encoder_id)
    return CorpusLocation(
        corpus_id=corpus.id,
        name=corpus.name,
        uid=corpus.uid,
        encoder_id=row.id,
        spec=EncoderSpec(row.model, row.normalize, row.prompt, row.truncate_dim),
        dimension=row.dimension,
        dtype=stored_dtype(row),
        threshold=settings.threshold_for(corpus.duplicate_threshold),
        question_count=count_questions(session, corpus.id),
        vector_count=count_vectors(session, corpus.id, row.id),
        revision=corpus.revision,
        data_dir=settings.data_dir,
        index_memory_bytes=int(settings.index_memory_gb * 2**30),
    )


def open_index(sessions: sessionmaker[Session], location: CorpusLocation, *, exact_max: int) -> Any:
    """The corpus's index, holding exactly the database's vectors; a repaired cache is saved."""
    folder = location.cache_folder
    wanted = location.index_choice(location.vector_count, exact_max).factory
    cached: CachedIndex | None = None
    try:
        cached = read_cache(folder, encoder_id=location.encoder_id, dimension=location.dimension)
    except IndexFileError as exc:
        if (folder / "index.qcache").exists():
            logger.warning(
                "%s; rebuilding it from the %d vectors in the database", exc, location.vector_count
            )
    if cached is not None and needs_rebuild(cached.factory, wanted):
        logger.info(
            "the index cache is %s, the corpus now wants %s; rebuilding", cached.factory, wanted
        )
        cached = None
    if (
        cached is not None
        and cached.revision == location.revision
        and len(cached.ids) == location.vector_count
    ):
        return cached.index
    fresh = _refresh(sessions, location, cached, exact_max)
    try:
        write_cache(folder, fresh)
    except OSError as exc:  # a read-only data folder still gets answers, from memory
        logger.warning("cannot save the index cache in %s: %s", folder, exc)
    return fresh.index


def _refresh(
    sessions: sessionmaker[Session],
    location: CorpusLocation,
    cached: CachedIndex | None,
    exact_max: int,
) -> CachedIndex:
    """Bring `cached` level with the database, or build anew when it holds a stranger."""
    with sessions() as session:
        revision = corpus_revision(session, location.corpus_id)
        if cached is not None:
            stored = vector_ids(session, location.corpus_id, location.encoder_id)
            if not len(np.setdiff1d(cached.ids, stored, assume_unique=True)):
                missing = np.setdiff1d(stored, cached.ids, assume_unique=True)
                ids, vectors = vectors_of(
                    session, location.corpus_id, location.encoder_id, missing.tolist(),
                    dimension=location.dimension, dtype=location.dtype,
                )  # fmt: skip
                add_vectors(cached.index, vectors, ids)
                return CachedIndex(
                    location.encoder_id, revision, np.union1d(cached.ids, ids), cached.index,
                    cached.reason,
                )  # fmt: skip
            logger.warning("the index cache holds vectors the database does not; rebuilding")
        ids, vectors = read_all_vectors(
            session, location.corpus_id, location.encoder_id,
            dimension=location.dimension, dtype=location.dtype,
        )  # fmt: skip
    choice = location.index_choice(len(ids), exact_max)
    logger.info(
        "building a %s index of corpus '%s': %s", choice.factory, location.name, choice.reason
    )
    return CachedIndex(
        location.encoder_id, revision, ids, build_index(vectors, ids, choice.factory), choice.reason
    )


def load_vectors(
    sessions: sessionmaker[Session], location: CorpusLocation
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float32]]]:
    """Every stored vector of the corpus's encoder, ids ascending."""
    with sessions() as session:
        return read_all_vectors(
            session, location.corpus_id, location.encoder_id,
            dimension=location.dimension, dtype=location.dtype,
        )  # fmt: skip
