"""Ingest files on a Ray cluster: the local path's stages, each spread over the cluster.

The run, the corpus's write lock, the corpus and encoder rows, the index and the report are the
local path's own (`indexer.ingest.run_ingest`); only two stages differ:

1. store: Ray Data reads the files in parallel, one task per file, each through qclust's own
   readers and `new_questions` (see `indexer.ray_workers` for why not Ray's CSV reader). The
   driver takes the rows back in file and line order and stores each batch as the local path
   does (`store_batch`: the corpus's known hashes skipped), with COPY on PostgreSQL, so the same
   files give the same questions, ids and rejections.
2. encode: the questions without a vector are cut into id ranges, read by Ray tasks and encoded
   by an actor pool (one GPU per actor where the cluster has GPUs) with qclust's `Encoder`; the
   driver writes each batch of vectors with COPY, in one transaction with the lock check and
   the revision bump, exactly as `encode_pending` does. What a killed run did not commit is
   still missing, so the next run encodes just that.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.faults import fault_point
from db.locks import WriteLock
from db.queries import copy_questions
from db.settings import Settings
from db.vectors import copy_vectors, count_unencoded, unencoded_span
from indexer.encoder import Encoder
from indexer.errors import RayNotInstalledError
from indexer.ingest import (
    IngestReport,
    IngestTarget,
    NewEncoder,
    ProgressFn,
    run_ingest,
    store_batch,
)
from indexer.ray_workers import (
    QUESTION,
    ActorShape,
    EncodeActor,
    ReadOptions,
    actor_shape,
    read_files,
    read_pending,
)
from indexer.readers import FileFormat, read_rows
from indexer.validation import Rejection

logger = logging.getLogger(__name__)

STORE_BATCH_ROWS = 10_000
_MAX_RANGE_BLOCKS = 1_000


class RayConnectionError(QclustError):
    def __init__(self, address: str | None, cause: Exception) -> None:
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
        super().__init__(
            f"cannot connect to the Ray cluster at {address or 'a new local cluster'}: {reason}. "
            "Nothing was stored. Is the cluster running (ray status)? A cluster with token "
            "authentication (Ray's default for new clusters) needs RAY_AUTH_MODE=token here "
            "and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN."
        )


@dataclass
class RayIngestReport(IngestReport):
    """The whole job's counts (an `IngestReport`), with each file's own in `files`."""

    files: list[IngestReport] = field(default_factory=list)
    actors: int = 0
    device: str = ""


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


def import_ray() -> ModuleType:
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data])
    except ImportError as exc:
        raise RayNotInstalledError() from exc
    return ray


@contextmanager
def ray_cluster(address: str | None) -> Iterator[ModuleType]:
    """Ray, connected: to `address` ('auto': the cluster running here; 'ray://host:port'), or
    to a new local cluster when None. A connection made elsewhere (a test) is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)  # fmt: skip
    except ConnectionError as exc:  # nothing is stored yet: say why and how to fix it
        raise RayConnectionError(address, exc) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def ingest_files_ray(
    paths: Sequence[Path],
    corpus_name: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    text_column: str | None = None,
    id_column: str | None = None,
    file_format: FileFormat | None = None,
    new_corpus_encoder: NewEncoder | None = None,
    encoder: Encoder | None = None,
    address: str | None = None,
    progress: ProgressFn = _no_progress,
) -> RayIngestReport:
    """Ingest `paths` into `corpus_name` on a Ray cluster; re-run to resume, as the local path.

    The files must be readable at the same path on every node (a shared file system).
    """
    import_ray()  # before anything: a missing extra is the first thing to hear about
    for path in paths:  # an unusable file stops the job before anything is written
        read_rows(path, text_column=text_column, id_column=id_column, file_format=file_format)
    options = ReadOptions(text_column, id_column, file_format, settings.max_question_chars)
    report = RayIngestReport(
        corpus=corpus_name, source=", ".join(str(path) for path in paths),
        files=[IngestReport(corpus=corpus_name, source=str(path)) for path in paths],
    )  # fmt: skip
    with ray_cluster(address) as ray:
        _quiet(ray)
        shape = actor_shape(ray.cluster_resources(), settings)
        report.actors, report.device = shape.size, shape.device

        def store(target: IngestTarget, _: IngestReport) -> None:
            _store_files(ray, sessions, target, paths, options, report, progress)

        def encode(target: IngestTarget, lock: WriteLock) -> int:
            return _encode_pending(ray, sessions, settings, target, lock, shape, progress)

        run_ingest(
            report, settings=settings, sessions=sessions, store=store, encode=encode,
            new_corpus_encoder=new_corpus_encoder, encoder=encoder, progress=progress,
        )  # fmt: skip
    for file_report in report.files:
        file_report.encoded, file_report.seconds = report.encoded, report.seconds
        file_report.index_kind, file_report.index_size = report.index_kind, report.index_size
    return report


def _quiet(ray: ModuleType) -> None:
    """Ray Data's progress bars and per-dataset logs would bury the CLI's own progress."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _store_files(
    ray: ModuleType,
    sessions: sessionmaker[Session],
    target: IngestTarget,
    paths: Sequence[Path],
    options: ReadOptions,
    report: RayIngestReport,
    progress: ProgressFn,
) -> None:
    """Every file's new questions, in file and line order; batches never span two files, so a
    question repeated in a later file is found in the corpus, as when ingested one by one."""
    items = [{"file": index, "path": str(path)} for index, path in enumerate(paths)]
    context = ray.data.DataContext.get_current()
    preserved = context.execution_options.preserve_order
    context.execution_options.preserve_order = True  # the order gives the ids
    try:
        rows = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            read_files, batch_size=1, batch_format="numpy", fn_kwargs={"options": options}
        )
        batch: list[dict[str, Any]] = []
        for table in rows.iter_batches(batch_size=None, batch_format="pyarrow"):
            for row in table.to_pylist():
                file_report = report.files[row["file"]]
                if row["kind"] != QUESTION:
                    _store(sessions, target, batch, report, file_report)
                    batch = []
                    _add_summary(report, file_report, json.loads(row["summary"]))
                    progress("reading", report.rows_read, None)
                    continue
                meta = None if row["meta"] is None else json.loads(row["meta"])
                batch.append({"text": row["text"], "text_hash": row["text_hash"],
                              "external_id": row["external_id"], "meta": meta})  # fmt: skip
                if len(batch) >= STORE_BATCH_ROWS:
                    _store(sessions, target, batch, report, file_report)
                    batch = []
    finally:
        context.execution_options.preserve_order = preserved
    progress("reading", report.rows_read, report.rows_read)


def _store(
    sessions: sessionmaker[Session],
    target: IngestTarget,
    batch: list[dict[str, Any]],
    report: RayIngestReport,
    file_report: IngestReport,
) -> None:
    """`store_batch` into the job's report (its source names the run), counted per file too."""
    added, existing = report.added, report.already_in_corpus
    store_batch(sessions, target, batch, report, insert=copy_questions)
    file_report.added += report.added - added
    file_report.already_in_corpus += report.already_in_corpus - existing


def _add_summary(
    report: RayIngestReport, file_report: IngestReport, summary: dict[str, Any]
) -> None:
    reasons = Counter({str(kind): int(n) for kind, n in summary["reasons"].items()})
    rejections = [Rejection(int(line), str(reason)) for line, reason in summary["rejections"]]
    for target in (file_report, report):
        target.rows_read += int(summary["rows_read"])
        target.duplicates_in_file += int(summary["duplicates_in_file"])
        target.rejected += int(summary["rejected"])
        target.rejection_reasons.update(reasons)
        target.rejections.extend(rejections)
    del report.rejections[50:]  # as many as one file keeps; each file's are in `files`


def _encode_pending(
    ray: ModuleType,
    sessions: sessionmaker[Session],
    settings: Settings,
    target: IngestTarget,
    lock: WriteLock,
    shape: ActorShape,
    progress: ProgressFn,
) -> int:
    """Encode the corpus's questions without a vector on the actor pool; returns how many."""
    corpus_id, encoder_id = target.corpus_id or 0, target.encoder_id
    with sessions() as session:
        total = count_unencoded(session, corpus_id, encoder_id)
        span = unencoded_span(session, corpus_id, encoder_id)
    progress("encoding", 0, total)
    if span is None:
        return 0
    step = settings.encode_chunk_rows
    ranges = [
        {"first": first, "last": min(first + step - 1, span[1])}
        for first in range(span[0], span[1] + 1, step)
    ]  # an id range of `step` ids holds at most `step` questions
    vectors = (
        ray.data.from_items(ranges, override_num_blocks=min(len(ranges), _MAX_RANGE_BLOCKS))
        .map_batches(
            read_pending, batch_size=1, batch_format="numpy", num_cpus=0.25,
            fn_kwargs={"database_url": settings.resolved_database_url, "corpus_id": corpus_id,
                       "encoder_id": encoder_id},
        )
        .map_batches(
            EncodeActor, batch_size=step, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=shape.size),
            num_cpus=shape.num_cpus, num_gpus=shape.num_gpus,
            fn_constructor_kwargs={"spec": target.encoder.spec, "device": shape.device,
                                   "batch_size": settings.batch_size,
                                   "threads": int(shape.num_cpus)},
        )
    )  # fmt: skip
    done = 0
    for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
        ids = np.asarray(batch["id"], dtype=np.int64)
        fault_point("encode:encoded-chunk")
        with sessions.begin() as session:
            lock.check(session)
            copy_vectors(session, corpus_id, encoder_id, ids, batch["vector"], target.dtype)
        fault_point("encode:wrote-vectors")
        done += len(ids)
        progress("encoding", done, max(total, done))
    with sessions() as session:
        left = count_unencoded(session, corpus_id, encoder_id)
    if left:
        raise QclustError(
            f"{left:,} questions still have no vector after the Ray pass; run the same "
            "command again to encode them"
        )
    logger.info("encoded %d questions on %d %s actors", done, shape.size, shape.device)
    return done
