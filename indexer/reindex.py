"""`qclust reindex`: re-encode a whole corpus with another model, then swap to it at once.

The new vectors and index are built in the new encoder's own folder while searches keep using
the old ones; the switch is one database update (the corpus's encoder), so a reader sees either
the old model and index or the new, never a mix. Interrupted, it resumes where the new store
stops. Ingests into the corpus wait for it (both folders are locked).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import Corpus
from db.models import Encoder as EncoderRow
from db.settings import Settings
from indexer.corpus_index import locate_corpus, sync_index
from indexer.encoder import Encoder
from indexer.index import index_kind
from indexer.ingest import ProgressFn, encode_pending
from indexer.store import VectorStore
from indexer.workspace import CorpusFiles


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


@dataclass(frozen=True)
class ReindexReport:
    corpus: str
    old_model: str
    new_model: str
    encoded: int
    resumed: bool
    index_kind: str
    index_size: int
    seconds: float


def reindex(
    corpus_name: str,
    model: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    truncate_dim: int | None = None,
    prompt: str | None = None,
    encoder: Encoder | None = None,
    progress: ProgressFn = _no_progress,
) -> ReindexReport:
    started = time.perf_counter()
    old = locate_corpus(sessions, settings, corpus_name)
    encoder = encoder or Encoder.for_new_corpus(
        model, truncate_dim=truncate_dim, prompt=prompt, device=settings.device,
        batch_size=settings.batch_size,
    )  # fmt: skip
    if encoder.spec == old.spec:
        raise QclustError(f"corpus '{corpus_name}' is already encoded with {model}")
    encoder_id, resumed = _target_encoder(sessions, old.files, encoder)
    files = old.files.for_encoder(encoder_id)
    with old.files.write_lock(), files.write_lock():
        store = VectorStore.open_or_create(
            files.store_folder, encoder.dimension, settings.vector_dtype
        )
        encoded = encode_pending(sessions, old.corpus_id, store, encoder, settings, progress)
        progress("indexing", 0, 1)
        index = sync_index(
            sessions, corpus_id=old.corpus_id, encoder_id=encoder_id, files=files, store=store,
            exact_max=settings.exact_index_max, persist=True,
        )  # fmt: skip
        progress("indexing", 1, 1)
        with sessions.begin() as session:  # the swap
            session.get_one(Corpus, old.corpus_id).encoder_id = encoder_id
    return ReindexReport(
        corpus=corpus_name, old_model=old.spec.model, new_model=encoder.spec.model,
        encoded=encoded, resumed=resumed, index_kind=index_kind(index),
        index_size=int(index.ntotal), seconds=time.perf_counter() - started,
    )  # fmt: skip


def _target_encoder(
    sessions: sessionmaker[Session], current: CorpusFiles, encoder: Encoder
) -> tuple[int, bool]:
    """The encoder row to fill: one with this spec already begun for this corpus (resume),
    else a new one."""
    spec = encoder.spec
    with sessions.begin() as session:
        candidates = session.scalars(
            select(EncoderRow)
            .where(
                EncoderRow.model == spec.model,
                EncoderRow.normalize == spec.normalize,
                EncoderRow.prompt.is_not_distinct_from(spec.prompt),
                EncoderRow.truncate_dim.is_not_distinct_from(spec.truncate_dim),
            )
            .order_by(EncoderRow.id.desc())
        ).all()
        for row in candidates:
            if current.for_encoder(row.id).store_folder.exists():
                return row.id, True
        row = EncoderRow(
            model=spec.model, dimension=encoder.dimension, normalize=spec.normalize,
            prompt=spec.prompt, truncate_dim=spec.truncate_dim,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id, False
