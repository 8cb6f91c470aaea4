"""Ingest a file into a corpus: store new questions, encode only what is not encoded, index.

Three stages, each safe to kill at any moment:

1. read: rows are validated and new questions inserted, one committed batch at a time; the
   unique (corpus, text hash) key means a re-run inserts nothing twice.
2. encode: every question whose id is above the vector store's last id is encoded, chunk by
   chunk; each chunk is appended to the store before the next starts.
3. index: the FAISS index is brought level with the store and saved atomically.

So a re-run after Ctrl-C or `kill -9` picks up where the last one stopped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import Corpus, IngestRun, Question, RunStatus, utcnow
from db.models import Encoder as EncoderRow
from db.queries import existing_hashes, get_or_create_corpus, insert_questions
from db.session import open_database
from db.settings import Settings
from indexer.corpus_index import sync_index
from indexer.encoder import Encoder, EncoderSpec
from indexer.index import index_kind
from indexer.readers import FileFormat, SourceRow, read_rows
from indexer.store import VectorStore
from indexer.validation import Problem, Rejection, check_question, clean_text, text_hash
from indexer.workspace import CorpusFiles

logger = logging.getLogger(__name__)

# (stage, done, total): total is None while it is not known yet.
ProgressFn = Callable[[str, int, int | None], None]
_INSERT_BATCH = 2000
_KEPT_REJECTIONS = 50


@dataclass
class IngestReport:
    corpus: str
    source: str
    rows_read: int = 0
    added: int = 0
    already_in_corpus: int = 0
    duplicates_in_file: int = 0
    rejected: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first few, with lines
    encoded: int = 0
    index_kind: str = ""
    index_size: int = 0
    seconds: float = 0.0

    @property
    def nothing_done(self) -> bool:
        """True when the file gave no usable row at all: the CLI's failure case."""
        return self.rows_read == self.rejected

    def reject(self, line: int, problem: Problem) -> None:
        self.rejected += 1
        self.rejection_reasons[problem.kind] += 1
        if len(self.rejections) < _KEPT_REJECTIONS:
            self.rejections.append(Rejection(line, problem.message))


@dataclass(frozen=True)
class NewEncoder:
    """What a new corpus is to be encoded with; None means the default."""

    model: str | None = None
    truncate_dim: int | None = None
    prompt: str | None = None


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


def ingest_file(
    path: Path,
    corpus_name: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session] | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    file_format: FileFormat | None = None,
    model: str | None = None,
    truncate_dim: int | None = None,
    prompt: str | None = None,
    encoder: Encoder | None = None,
    progress: ProgressFn = _no_progress,
) -> IngestReport:
    """Ingest `path` into `corpus_name`.

    A new corpus is created with `model` (else the default), `truncate_dim` and `prompt`;
    an existing one keeps the encoder it was created with.
    """
    rows = read_rows(path, text_column=text_column, id_column=id_column, file_format=file_format)
    sessions = sessions or open_database(settings.resolved_database_url)
    return ingest_rows(
        rows,
        corpus_name,
        source=str(path),
        settings=settings,
        sessions=sessions,
        new_corpus_encoder=NewEncoder(model, truncate_dim, prompt),
        encoder=encoder,
        progress=progress,
    )


def ingest_rows(
    rows: Iterator[SourceRow],
    corpus_name: str,
    *,
    source: str,
    settings: Settings,
    sessions: sessionmaker[Session],
    new_corpus_encoder: NewEncoder | None = None,
    encoder: Encoder | None = None,
    progress: ProgressFn = _no_progress,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(corpus=corpus_name, source=source)
    with sessions.begin() as session:
        corpus = get_or_create_corpus(session, corpus_name)
        encoder_row = session.get(EncoderRow, corpus.encoder_id) if corpus.encoder_id else None
        corpus_id, corpus_uid = corpus.id, corpus.uid
    encoder = _corpus_encoder(
        sessions, corpus_id, encoder_row, new_corpus_encoder or NewEncoder(), encoder, settings
    )
    encoder_id = _encoder_id(sessions, corpus_id)
    files = CorpusFiles.of(settings.data_dir, corpus_uid, encoder_id)
    with files.write_lock():
        run_id = _start_run(sessions, corpus_id, source)
        try:
            _store_new_questions(sessions, corpus_id, rows, report, settings, progress)
            store = VectorStore.open_or_create(
                files.store_folder, encoder.dimension, settings.vector_dtype
            )
            report.encoded = encode_pending(sessions, corpus_id, store, encoder, settings, progress)
            progress("indexing", 0, 1)
            index = sync_index(
                sessions,
                corpus_id=corpus_id,
                encoder_id=encoder_id,
                files=files,
                store=store,
                exact_max=settings.exact_index_max,
                persist=True,
            )
            progress("indexing", 1, 1)
        except BaseException as exc:
            status = (
                RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
            )
            _finish_run(sessions, run_id, report, status, message=str(exc) or type(exc).__name__)
            raise
        report.index_kind, report.index_size = index_kind(index), int(index.ntotal)
        report.seconds = time.perf_counter() - started
        _finish_run(sessions, run_id, report, RunStatus.DONE)
    return report


def _corpus_encoder(
    sessions: sessionmaker[Session],
    corpus_id: int,
    row: EncoderRow | None,
    wanted: NewEncoder,
    encoder: Encoder | None,
    settings: Settings,
) -> Encoder:
    """The corpus's encoder; a new corpus records the one it is created with."""
    if row is not None:
        model = wanted.model
        if model is not None and model != row.model:
            raise QclustError(
                f"this corpus is encoded with '{row.model}', not '{model}'; "
                "leave --model out, or ingest into a new corpus"
            )
        spec = EncoderSpec(row.model, row.normalize, row.prompt, row.truncate_dim)
        if encoder is not None and encoder.spec == spec:
            return encoder
        return Encoder(spec, device=settings.device, batch_size=settings.batch_size)
    if encoder is None:
        encoder = Encoder.for_new_corpus(
            wanted.model or settings.model,
            truncate_dim=wanted.truncate_dim,
            prompt=wanted.prompt,
            device=settings.device,
            batch_size=settings.batch_size,
        )
    spec = encoder.spec
    with sessions.begin() as session:
        new_row = EncoderRow(
            model=spec.model,
            dimension=encoder.dimension,
            normalize=spec.normalize,
            prompt=spec.prompt,
            truncate_dim=spec.truncate_dim,
        )
        session.add(new_row)
        session.flush()
        session.get_one(Corpus, corpus_id).encoder_id = new_row.id
    return encoder


def _encoder_id(sessions: sessionmaker[Session], corpus_id: int) -> int:
    with sessions() as session:
        encoder_id = session.get_one(Corpus, corpus_id).encoder_id
    if encoder_id is None:  # _corpus_encoder always sets it; this guards the type
        raise QclustError("corpus has no encoder")
    return encoder_id


def _start_run(sessions: sessionmaker[Session], corpus_id: int, source: str) -> int:
    with sessions.begin() as session:
        run = IngestRun(corpus_id=corpus_id, source=source, status=RunStatus.RUNNING)
        session.add(run)
        session.flush()
        return run.id


def _finish_run(
    sessions: sessionmaker[Session],
    run_id: int,
    report: IngestReport,
    status: RunStatus,
    message: str | None = None,
) -> None:
    with sessions.begin() as session:
        run = session.get_one(IngestRun, run_id)
        run.status = status
        run.rows_read, run.rows_added = report.rows_read, report.added
        run.rows_existing = report.already_in_corpus + report.duplicates_in_file
        run.rows_rejected, run.vectors_encoded = report.rejected, report.encoded
        run.message, run.finished_at = message, utcnow()


def _store_new_questions(
    sessions: sessionmaker[Session],
    corpus_id: int,
    rows: Iterator[SourceRow],
    report: IngestReport,
    settings: Settings,
    progress: ProgressFn,
) -> None:
    first_line_of: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    for row in rows:
        report.rows_read += 1
        problem = (
            Problem("unparseable", row.error)
            if row.error
            else check_question(row.text, max_chars=settings.max_question_chars)
        )
        if problem is not None or row.text is None:
            report.reject(row.line, problem or Problem("missing text", "no text"))
            continue
        digest = text_hash(row.text)
        if digest in first_line_of:
            report.duplicates_in_file += 1
            continue
        first_line_of[digest] = row.line
        batch.append(
            {
                "corpus_id": corpus_id,
                "text": clean_text(row.text),
                "text_hash": digest,
                "external_id": row.external_id,
                "meta": row.meta,
            }
        )
        if len(batch) >= _INSERT_BATCH:
            _insert_batch(sessions, corpus_id, batch, report)
            batch = []
            progress("reading", report.rows_read, None)
    _insert_batch(sessions, corpus_id, batch, report)
    progress("reading", report.rows_read, report.rows_read)


def _insert_batch(
    sessions: sessionmaker[Session],
    corpus_id: int,
    batch: list[dict[str, Any]],
    report: IngestReport,
) -> None:
    if not batch:
        return
    with sessions.begin() as session:
        known = existing_hashes(session, corpus_id, [row["text_hash"] for row in batch])
        new_rows = [row for row in batch if row["text_hash"] not in known]
        insert_questions(session, new_rows)
    report.added += len(new_rows)
    report.already_in_corpus += len(batch) - len(new_rows)


def encode_pending(
    sessions: sessionmaker[Session],
    corpus_id: int,
    store: VectorStore,
    encoder: Encoder,
    settings: Settings,
    progress: ProgressFn,
) -> int:
    """Encode the corpus's questions the store lacks, in id order, appending as it goes.

    The store is the checkpoint: an interrupted run resumes after its last stored id.
    """
    after_id = store.max_id()
    with sessions() as session:
        pending = session.scalar(
            select(func.count()).where(Question.corpus_id == corpus_id, Question.id > after_id)
        )
    total, done = int(pending or 0), 0
    progress("encoding", 0, total)
    while done < total:
        with sessions() as session:
            chunk = session.execute(
                select(Question.id, Question.text)
                .where(Question.corpus_id == corpus_id, Question.id > after_id)
                .order_by(Question.id)
                .limit(settings.encode_chunk_rows)
            ).all()
        if not chunk:
            break
        ids = np.fromiter((row[0] for row in chunk), dtype=np.int64, count=len(chunk))
        vectors = encoder.encode([row[1] for row in chunk])
        store.append(ids, vectors)
        after_id = int(ids[-1])
        done += len(chunk)
        progress("encoding", done, total)
    return done
