"""What the Ray engine runs on the cluster's workers: each file read into question rows, the
pending questions of an id range read from the database, and the encoder actor.

Ray imports this module on the workers by name (qclust is installed there), so nothing heavy
is imported at the top: torch and the model load once per actor, in its constructor.

Files are read with qclust's own readers and validated by `indexer.ingest.new_questions`, the
local path's code: Ray Data's CSV and JSON readers (pyarrow) infer types (an id "007" comes
back as 7), stop a whole block at one stray quote, know no line numbers, and decode
differently, so they could not give the same questions and the same rejections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from db.settings import Settings
from indexer.encoder import Device, EncoderSpec
from indexer.readers import FileFormat

if TYPE_CHECKING:
    import pyarrow as pa

    from indexer.ingest import IngestReport

QUESTION, SUMMARY = "question", "summary"
ROWS_PER_BLOCK = 10_000
Batch = dict[str, npt.NDArray[Any]]


@cache
def row_schema() -> pa.Schema:
    """One row per new question of a file, then one summary row with the file's counts; the
    explicit schema keeps blocks of questions and blocks of summaries unifiable."""
    import pyarrow as pa

    return pa.schema(
        [
            ("file", pa.int64()),
            ("kind", pa.string()),
            ("text", pa.string()),
            ("text_hash", pa.string()),
            ("external_id", pa.string()),
            ("meta", pa.string()),  # JSON: a row's meta can hold anything a JSON line holds
            ("summary", pa.string()),  # JSON: the file's IngestReport counts and rejections
        ]
    )


@dataclass(frozen=True)
class ReadOptions:
    text_column: str | None
    id_column: str | None
    file_format: FileFormat | None
    max_chars: int


def read_files(batch: Batch, *, options: ReadOptions) -> Iterator[pa.Table]:
    """The new questions of each file in `batch`, in line order, then the file's summary."""
    from indexer.ingest import IngestReport, new_questions
    from indexer.readers import read_rows

    for index, path in zip(batch["file"].tolist(), batch["path"].tolist(), strict=True):
        report = IngestReport(corpus="", source=str(path))
        rows = read_rows(
            Path(path), text_column=options.text_column, id_column=options.id_column,
            file_format=options.file_format,
        )  # fmt: skip
        block: list[dict[str, Any]] = []
        for question in new_questions(rows, report, max_chars=options.max_chars):
            block.append(question)
            if len(block) >= ROWS_PER_BLOCK:
                yield _question_table(index, block)
                block = []
        if block:
            yield _question_table(index, block)
        yield _summary_table(index, report)


def _question_table(index: int, block: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pydict(
        {
            "file": [index] * len(block),
            "kind": [QUESTION] * len(block),
            "text": [row["text"] for row in block],
            "text_hash": [row["text_hash"] for row in block],
            "external_id": [row["external_id"] for row in block],
            "meta": [None if row["meta"] is None else json.dumps(row["meta"]) for row in block],
            "summary": [None] * len(block),
        },
        schema=row_schema(),
    )


def _summary_table(index: int, report: IngestReport) -> pa.Table:
    import pyarrow as pa

    summary = {
        "rows_read": report.rows_read,
        "duplicates_in_file": report.duplicates_in_file,
        "rejected": report.rejected,
        "reasons": dict(report.rejection_reasons),
        "rejections": [[r.line, r.reason] for r in report.rejections],
    }
    return pa.Table.from_pydict(
        {"file": [index], "kind": [SUMMARY], "text": [None], "text_hash": [None],
         "external_id": [None], "meta": [None], "summary": [json.dumps(summary)]},
        schema=row_schema(),
    )  # fmt: skip


_sessions: dict[str, Any] = {}  # one engine per worker process and database


def read_pending(
    batch: Batch, *, database_url: str, corpus_id: int, encoder_id: int
) -> Iterator[Batch]:
    """(id, text) of the questions without a vector in each id range of `batch`."""
    from db.session import make_engine, session_factory
    from db.vectors import unencoded_between

    if database_url not in _sessions:
        _sessions[database_url] = session_factory(make_engine(database_url))
    for first, last in zip(batch["first"].tolist(), batch["last"].tolist(), strict=True):
        with _sessions[database_url]() as session:
            rows = unencoded_between(session, corpus_id, encoder_id, first, last)
        if rows:
            yield {
                "id": np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
                "text": np.array([row[1] for row in rows], dtype=object),
            }


@dataclass(frozen=True)
class ActorShape:
    """How the encoder actors are laid out on the cluster."""

    size: int
    num_cpus: float
    num_gpus: float
    device: Device


def actor_shape(resources: dict[str, float], settings: Settings) -> ActorShape:
    """One actor per GPU; without GPUs (or with QCLUST_DEVICE=cpu), CPU actors of up to four
    cores each, one core left for the tasks that read the pending questions."""
    gpus = int(resources.get("GPU", 0))
    if gpus and settings.device != "cpu":
        return ActorShape(size=gpus, num_cpus=1, num_gpus=1, device="cuda")
    cpus = max(1, int(resources.get("CPU", 1)))
    per_actor = max(1, min(4, cpus // 2))
    return ActorShape(
        size=max(1, (cpus - 1) // per_actor), num_cpus=per_actor, num_gpus=0, device="cpu"
    )


class EncodeActor:
    """Holds one copy of the corpus's model; encodes batches of (id, text) into (id, vector)."""

    def __init__(self, spec: EncoderSpec, device: Device, batch_size: int, threads: int) -> None:
        import torch

        from indexer.encoder import Encoder

        if device == "cpu":
            torch.set_num_threads(threads)
        self.encoder = Encoder(spec, device=device, batch_size=batch_size)

    def __call__(self, batch: Batch) -> Batch:
        texts = [str(text) for text in batch["text"].tolist()]
        return {"id": batch["id"].astype(np.int64), "vector": self.encoder.encode(texts)}
