"""Keep a corpus's FAISS index in step with its vector store.

The store is the truth; the index is derived from it. An index that is missing, corrupt, behind
the store (an ingest killed before saving) or of the wrong kind for the corpus's size is repaired
from the stored vectors, never by re-encoding.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import Encoder as EncoderRow
from db.models import IndexBuild
from db.queries import count_questions, get_corpus, latest_index_build
from db.settings import Settings
from indexer.encoder import EncoderSpec
from indexer.errors import CorpusBusyError, IndexFileError
from indexer.index import (
    EXACT_FACTORY,
    add_vectors,
    build_index,
    choose_factory,
    index_kind,
    load_index,
    save_index,
)
from indexer.store import VectorStore
from indexer.workspace import CorpusFiles

logger = logging.getLogger(__name__)
_IVF_LISTS = re.compile(r"IVF(\d+)")
_ADD_CHUNK_ROWS = 65_536


def needs_rebuild(current: str, wanted: str) -> bool:
    """Rebuild when exactness changes, or when IVF's list count is off by 2x or more."""
    if current == wanted:
        return False
    if EXACT_FACTORY in (current, wanted):
        return True
    have, want = (_IVF_LISTS.search(kind) for kind in (current, wanted))
    if have is None or want is None:
        return True
    ratio = int(want.group(1)) / int(have.group(1))
    return ratio >= 2 or ratio <= 0.5


def rebuild(store: VectorStore, factory: str) -> Any:
    return build_index(store.vectors(), store.ids(), factory)


def sync_index(
    sessions: sessionmaker[Session],
    *,
    corpus_id: int,
    encoder_id: int,
    files: CorpusFiles,
    store: VectorStore,
    exact_max: int,
    persist: bool,
) -> Any:
    """The corpus's index, holding exactly the store's vectors; saved and recorded if changed."""
    with sessions() as session:
        build = latest_index_build(session, corpus_id, encoder_id)
        path = Path(build.path) if build else files.index_path
    wanted = choose_factory(len(store), exact_max=exact_max)
    index, changed = None, False
    if build is not None:
        try:
            index = load_index(path)
        except IndexFileError as exc:
            logger.warning("%s; rebuilding it from %d stored vectors", exc, len(store))
    if index is not None and (
        needs_rebuild(index_kind(index), wanted) or index.ntotal > len(store)
    ):
        logger.info("rebuilding the index as %s for %d vectors", wanted, len(store))
        index = None
    if index is None:
        index, changed = rebuild(store, wanted), True
    elif index.ntotal < len(store):
        ids = store.ids()
        for start in range(int(index.ntotal), len(store), _ADD_CHUNK_ROWS):
            stop = start + _ADD_CHUNK_ROWS
            add_vectors(index, store.vectors(start, stop), ids[start:stop])
        changed = True
    if changed and persist:
        save_index(index, files.index_path)
        with sessions.begin() as session:
            session.add(
                IndexBuild(
                    corpus_id=corpus_id,
                    encoder_id=encoder_id,
                    path=str(files.index_path),
                    kind=index_kind(index),
                    vector_count=int(index.ntotal),
                )
            )
    return index


@dataclass(frozen=True)
class CorpusLocation:
    """What every reader of a corpus needs: ids, encoder, threshold and where its files are."""

    corpus_id: int
    name: str
    encoder_id: int
    spec: EncoderSpec
    threshold: float
    question_count: int
    files: CorpusFiles


def locate_corpus(sessions: sessionmaker[Session], settings: Settings, name: str) -> CorpusLocation:
    with sessions() as session:
        corpus = get_corpus(session, name)
        if corpus.encoder_id is None:
            raise QclustError(f"corpus '{name}' has no questions yet; ingest some first")
        row = session.get_one(EncoderRow, corpus.encoder_id)
        return CorpusLocation(
            corpus_id=corpus.id,
            name=corpus.name,
            encoder_id=row.id,
            spec=EncoderSpec(row.model, row.normalize, row.prompt, row.truncate_dim),
            threshold=corpus.duplicate_threshold or settings.duplicate_threshold,
            question_count=count_questions(session, corpus.id),
            files=CorpusFiles.of(settings.data_dir, corpus.uid, row.id),
        )


def open_store(location: CorpusLocation) -> VectorStore:
    if not location.files.store_folder.exists():
        raise QclustError(
            f"corpus '{location.name}' has no vectors at {location.files.store_folder}; "
            "run 'qclust ingest' again to encode it"
        )
    return VectorStore.open(location.files.store_folder)


def open_index(
    sessions: sessionmaker[Session], location: CorpusLocation, store: VectorStore, exact_max: int
) -> Any:
    """The corpus's index, in step with its store; repairs are saved unless a writer is busy."""
    arguments: dict[str, Any] = {
        "corpus_id": location.corpus_id,
        "encoder_id": location.encoder_id,
        "files": location.files,
        "store": store,
        "exact_max": exact_max,
    }
    try:
        with location.files.write_lock(wait=False):
            return sync_index(sessions, persist=True, **arguments)
    except CorpusBusyError:  # an ingest is writing: repair in memory only
        return sync_index(sessions, persist=False, **arguments)
