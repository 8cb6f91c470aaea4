"""`qclust reindex`: re-encode a whole corpus with another model, then swap to it at once.

The new vectors are written to the database under the new encoder while searches keep using
the old ones; the switch is one transaction (the corpus's encoder and revision), so a reader
sees either the old model or the new, never a mix. It holds the corpus's write lock, so an
ingest waits for it (and it for an ingest). Interrupted, it resumes: the new encoder's missing
vectors are all that is left to encode. The previous encoder's vectors are kept for a roll back
(`reindex` to the old model again is then instant); older ones are dropped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.faults import fault_point
from db.locks import corpus_write_lock
from db.models import Corpus
from db.models import Encoder as EncoderRow
from db.settings import Settings
from db.vectors import bump_revision, drop_vectors, encoders_with_vectors
from indexer.corpus_index import locate_corpus, open_index
from indexer.encoder import Encoder
from indexer.index import index_kind
from indexer.index_cache import cache_folder
from indexer.ingest import ProgressFn, encode_pending


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
    on_wait: Callable[[str], None] | None = None,
) -> ReindexReport:
    started = time.perf_counter()
    encoder = encoder or Encoder.for_new_corpus(
        model, truncate_dim=truncate_dim, prompt=prompt, device=settings.device,
        batch_size=settings.batch_size,
    )  # fmt: skip
    with corpus_write_lock(sessions, corpus_name, "reindex", on_wait=on_wait) as lock:
        old = locate_corpus(sessions, settings, corpus_name)
        if encoder.spec == old.spec:
            raise QclustError(f"corpus '{corpus_name}' is already encoded with {model}")
        encoder_id, resumed = _target_encoder(sessions, old.corpus_id, encoder, settings)
        encoded = encode_pending(
            sessions, old.corpus_id, encoder_id, old.dtype, encoder, settings, progress, lock
        )
        with sessions.begin() as session:  # the swap
            lock.check(session)
            session.get_one(Corpus, old.corpus_id).encoder_id = encoder_id
            bump_revision(session, old.corpus_id)
        fault_point("reindex:swapped")
        progress("indexing", 0, 1)
        index = open_index(
            sessions, locate_corpus(sessions, settings, corpus_name),
            exact_max=settings.exact_index_max,
        )  # fmt: skip
        progress("indexing", 1, 1)
        _drop_older_encoders(
            sessions, settings, old.corpus_id, old.uid, keep={encoder_id, old.encoder_id}
        )
    return ReindexReport(
        corpus=corpus_name, old_model=old.spec.model, new_model=encoder.spec.model,
        encoded=encoded, resumed=resumed, index_kind=index_kind(index),
        index_size=int(index.ntotal), seconds=time.perf_counter() - started,
    )  # fmt: skip


def _target_encoder(
    sessions: sessionmaker[Session], corpus_id: int, encoder: Encoder, settings: Settings
) -> tuple[int, bool]:
    """The encoder row to fill: one with this spec that already holds vectors of this corpus
    (a resumed or rolled-back reindex), else a new one."""
    spec = encoder.spec
    with sessions.begin() as session:
        begun = set(encoders_with_vectors(session, corpus_id))
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
            if row.id in begun:
                return row.id, True
        row = EncoderRow(
            model=spec.model, dimension=encoder.dimension, normalize=spec.normalize,
            prompt=spec.prompt, truncate_dim=spec.truncate_dim,
            vector_dtype=settings.vector_dtype,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id, False


def _drop_older_encoders(
    sessions: sessionmaker[Session],
    settings: Settings,
    corpus_id: int,
    corpus_uid: str,
    keep: set[int],
) -> None:
    """Vectors (and cache files) of encoders before the previous one: no roll back needs them."""
    with sessions.begin() as session:
        stale = [e for e in encoders_with_vectors(session, corpus_id) if e not in keep]
        for encoder_id in stale:
            drop_vectors(session, corpus_id, encoder_id)
    for encoder_id in stale:
        shutil.rmtree(cache_folder(settings.data_dir, corpus_uid, encoder_id), ignore_errors=True)
