"""Ingest a file into a corpus: store new questions, encode what is not encoded, index.

The whole ingest holds the corpus's write lock (a row in the database, so it holds across
machines too). Three stages, each safe to kill at any moment:

1. read: rows are validated and new questions inserted, one committed batch at a time; the
   unique (corpus, text hash) key means a re-run inserts nothing twice. A new corpus (and its
   encoder) is created with its first batch, so a file with no usable row leaves nothing.
2. encode: every question without a vector is encoded, chunk by chunk; each chunk's vectors
   are written in one transaction with the corpus's new revision, so "stored but not encoded"
   is always a state the database knows, and a re-run fills exactly what is missing.
3. index: the index cache is brought level with the database and saved atomically.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.faults import fault_point
from db.locks import WriteLock, corpus_write_lock
from db.models import Corpus, IndexBuild, IngestRun, RunStatus, utcnow
from db.models import Encoder as EncoderRow
from db.queries import existing_hashes, insert_questions
from db.runs import close_abandoned_runs, owner_fields, run_heartbeat
from db.session import open_database
from db.settings import Settings
from db.vectors import (
    VectorDtype,
    count_unencoded,
    stored_dtype,
    unencoded_questions,
    write_vectors,
)
from indexer.corpus_index import locate_corpus, open_index
from indexer.encoder import Encoder, EncoderSpec
from indexer.index import index_kind
from indexer.readers import FileFormat, SourceRow, read_rows
from indexer.validation import Problem, Rejection, check_row, clean_text, text_hash

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
    on_wait: Callable[[str], None] = logger.warning,
) -> IngestReport:
    def store(target: IngestTarget, report: IngestReport) -> None:
        _store_new_questions(sessions, target, rows, report, settings, progress)

    def encode(target: IngestTarget, lock: WriteLock) -> int:
        return encode_pending(
            sessions, target.corpus_id or 0, target.encoder_id, target.dtype, target.encoder,
            settings, progress, lock,
        )  # fmt: skip

    return run_ingest(
        IngestReport(corpus=corpus_name, source=source), settings=settings, sessions=sessions,
        store=store, encode=encode, new_corpus_encoder=new_corpus_encoder, encoder=encoder,
        progress=progress, on_wait=on_wait,
    )  # fmt: skip


# store(target, report) stores the new questions; encode(target, lock) encodes what has no
# vector and returns how many: the two stages an engine (local, Ray) does its own way.
StoreFn = Callable[["IngestTarget", IngestReport], None]
EncodeFn = Callable[["IngestTarget", WriteLock], int]


def run_ingest(
    report: IngestReport,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    store: StoreFn,
    encode: EncodeFn,
    new_corpus_encoder: NewEncoder | None = None,
    encoder: Encoder | None = None,
    progress: ProgressFn = _no_progress,
    on_wait: Callable[[str], None] = logger.warning,
) -> IngestReport:
    """The stages under the corpus's write lock, with the run recorded: store, encode, index."""
    started = time.perf_counter()
    corpus_name = report.corpus
    with corpus_write_lock(sessions, corpus_name, "ingest", on_wait=on_wait) as lock:
        target = IngestTarget(sessions, settings, corpus_name, new_corpus_encoder or NewEncoder())
        target.load(encoder)  # model errors come before anything is written
        try:
            store(target, report)
            if target.corpus_id is None:
                return report  # nothing usable: no corpus, no encoder, no run
            with sessions.begin() as session:
                target.ensure(session, report.source)  # the run, when no row was new
            with run_heartbeat(sessions, IngestRun, target.run_id):
                report.encoded = encode(target, lock)
                progress("indexing", 0, 1)
                fault_point("ingest:before-index")
                index = _index_and_record(sessions, settings, corpus_name)
                progress("indexing", 1, 1)
        except BaseException as exc:
            if target.run_id is not None:
                status = (
                    RunStatus.INTERRUPTED
                    if isinstance(exc, KeyboardInterrupt)
                    else RunStatus.FAILED
                )
                message = str(exc) or type(exc).__name__
                _finish_run(sessions, target.run_id, report, status, message=message)
            raise
        report.index_kind, report.index_size = index_kind(index), int(index.ntotal)
        report.seconds = time.perf_counter() - started
        fault_point("ingest:before-finish")
        _finish_run(sessions, target.run_id, report, RunStatus.DONE)
    return report


class IngestTarget:
    """The corpus an ingest writes to: found at once, or created with the first batch."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, name: str, wanted: NewEncoder
    ) -> None:
        self.sessions, self.settings, self.name, self.wanted = sessions, settings, name, wanted
        self.corpus_id: int | None = None
        self.encoder_id = 0
        self.run_id = 0
        self.dtype: VectorDtype = settings.vector_dtype
        self.encoder: Encoder
        with sessions.begin() as session:
            close_abandoned_runs(session)
            corpus = session.scalar(select(Corpus).where(Corpus.name == name))
            self.row = (
                session.get(EncoderRow, corpus.encoder_id) if corpus and corpus.encoder_id else None
            )
            if corpus is not None and self.row is not None:
                self.corpus_id, self.encoder_id = corpus.id, self.row.id
                self.dtype = stored_dtype(self.row)

    def load(self, given: Encoder | None) -> None:
        row, settings = self.row, self.settings
        if row is not None:
            if self.wanted.model is not None and self.wanted.model != row.model:
                raise QclustError(
                    f"this corpus is encoded with '{row.model}', not '{self.wanted.model}'; "
                    "leave --model out, or ingest into a new corpus"
                )
            spec = EncoderSpec(row.model, row.normalize, row.prompt, row.truncate_dim)
            self.encoder = (
                given
                if given is not None and given.spec == spec
                else Encoder(spec, device=settings.device, batch_size=settings.batch_size)
            )
            return
        self.encoder = given or Encoder.for_new_corpus(
            self.wanted.model or settings.model, truncate_dim=self.wanted.truncate_dim,
            prompt=self.wanted.prompt, device=settings.device, batch_size=settings.batch_size,
        )  # fmt: skip

    def ensure(self, session: Session, source: str) -> int:
        """The corpus id, creating corpus and encoder (in the caller's transaction) if new; the
        run is started here too, so a file with no usable row records nothing."""
        if self.corpus_id is None:
            spec = self.encoder.spec
            encoder_row = EncoderRow(
                model=spec.model, dimension=self.encoder.dimension, normalize=spec.normalize,
                prompt=spec.prompt, truncate_dim=spec.truncate_dim, vector_dtype=self.dtype,
            )  # fmt: skip
            session.add(encoder_row)
            session.flush()
            corpus = Corpus(name=self.name, encoder_id=encoder_row.id)
            session.add(corpus)
            session.flush()
            self.corpus_id, self.encoder_id = corpus.id, encoder_row.id
        if not self.run_id:
            run = IngestRun(
                corpus_id=self.corpus_id, source=source, status=RunStatus.RUNNING, **owner_fields()
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        return self.corpus_id


def _index_and_record(sessions: sessionmaker[Session], settings: Settings, name: str) -> Any:
    location = locate_corpus(sessions, settings, name)
    index = open_index(sessions, location, exact_max=settings.exact_index_max)
    fault_point("ingest:index-saved")
    with sessions.begin() as session:
        session.add(
            IndexBuild(
                corpus_id=location.corpus_id,
                encoder_id=location.encoder_id,
                path=str(location.cache_folder.relative_to(settings.data_dir)),
                kind=index_kind(index),
                vector_count=int(index.ntotal),
            )
        )
    return index


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


def new_questions(
    rows: Iterable[SourceRow], report: IngestReport, *, max_chars: int
) -> Iterator[dict[str, Any]]:
    """The file's usable questions, each first time it appears, as rows to store; every row
    is counted in `report`, rejected ones with their reason. Both engines go through here."""
    first_line_of: dict[str, int] = {}
    for row in rows:
        report.rows_read += 1
        fault_point("ingest:read-row")
        problem = check_row(row, max_chars=max_chars)
        if problem is not None or row.text is None:
            report.reject(row.line, problem or Problem("missing text", "no text"))
            continue
        digest = text_hash(row.text)
        if digest in first_line_of:
            report.duplicates_in_file += 1
            continue
        first_line_of[digest] = row.line
        yield {
            "text": clean_text(row.text),
            "text_hash": digest,
            "external_id": row.external_id,
            "meta": row.meta,
        }


def _store_new_questions(
    sessions: sessionmaker[Session],
    target: IngestTarget,
    rows: Iterator[SourceRow],
    report: IngestReport,
    settings: Settings,
    progress: ProgressFn,
) -> None:
    batch: list[dict[str, Any]] = []
    for question in new_questions(rows, report, max_chars=settings.max_question_chars):
        batch.append(question)
        if len(batch) >= _INSERT_BATCH:
            store_batch(sessions, target, batch, report)
            batch = []
            progress("reading", report.rows_read, None)
    store_batch(sessions, target, batch, report)
    progress("reading", report.rows_read, report.rows_read)


InsertFn = Callable[[Session, Sequence[dict[str, Any]]], None]


def store_batch(
    sessions: sessionmaker[Session],
    target: IngestTarget,
    batch: list[dict[str, Any]],
    report: IngestReport,
    insert: InsertFn = insert_questions,
) -> None:
    """Insert the batch's questions the corpus does not hold yet, in one transaction."""
    if not batch:
        return
    with sessions.begin() as session:
        corpus_id = target.ensure(session, report.source)
        known = existing_hashes(session, corpus_id, [row["text_hash"] for row in batch])
        new_rows = [
            {**row, "corpus_id": corpus_id} for row in batch if row["text_hash"] not in known
        ]
        insert(session, new_rows)
    fault_point("ingest:stored-batch")
    report.added += len(new_rows)
    report.already_in_corpus += len(batch) - len(new_rows)


def encode_pending(
    sessions: sessionmaker[Session],
    corpus_id: int,
    encoder_id: int,
    dtype: VectorDtype,
    encoder: Encoder,
    settings: Settings,
    progress: ProgressFn,
    lock: WriteLock,
) -> int:
    """Encode the corpus's questions that have no vector from `encoder_id`, in id order.

    The database is the checkpoint: whatever a killed run did not commit is still missing, so
    the next run encodes it, gaps included.
    """
    with sessions() as session:
        total = count_unencoded(session, corpus_id, encoder_id)
    done = 0
    progress("encoding", 0, total)
    while True:
        with sessions() as session:
            chunk = unencoded_questions(session, corpus_id, encoder_id, settings.encode_chunk_rows)
        if not chunk:
            break
        ids = np.fromiter((row[0] for row in chunk), dtype=np.int64, count=len(chunk))
        vectors = encoder.encode([row[1] for row in chunk])
        fault_point("encode:encoded-chunk")
        with sessions.begin() as session:
            lock.check(session)
            write_vectors(session, corpus_id, encoder_id, ids, vectors, dtype)
        fault_point("encode:wrote-vectors")
        done += len(chunk)
        progress("encoding", done, max(total, done))
    return done
