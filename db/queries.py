"""Queries shared by every layer. Each takes a `Session` first; callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.changes import note_change
from db.errors import CorpusNotFoundError
from db.models import Corpus, Encoder, IngestRun, Question, QuestionVector, utcnow

IN_CHUNK = 900  # ids per IN (...): stays under SQLite's bound-parameter limit


def corpus_names(session: Session) -> list[str]:
    return list(session.scalars(select(Corpus.name).order_by(Corpus.name)))


def get_corpus(session: Session, name: str) -> Corpus:
    corpus = session.scalar(select(Corpus).where(Corpus.name == name))
    if corpus is None:
        raise CorpusNotFoundError(name, corpus_names(session))
    return corpus


def get_or_create_corpus(session: Session, name: str) -> Corpus:
    corpus = session.scalar(select(Corpus).where(Corpus.name == name))
    if corpus is None:
        corpus = Corpus(name=name)
        session.add(corpus)
        session.flush()
    return corpus


def get_encoder(session: Session, encoder_id: int) -> Encoder:
    return session.get_one(Encoder, encoder_id)


@dataclass(frozen=True)
class CorpusSummary:
    name: str
    questions: int
    duplicate_threshold: float | None
    model: str | None
    last_ingest: datetime | None
    not_encoded: int = 0  # stored, not searchable yet: an ingest is running or was killed


def summaries_fingerprint(session: Session) -> tuple[Any, ...]:
    """What `summarize_corpora` depends on, read from indexes alone: every corpus row's
    revisions and settings, the newest question id and the newest ingest run. It moves with
    every question stored (ids only grow; only a corpus's deletion removes questions, and that
    removes its row), every vector written or dropped, every ingest started. At a million
    questions the summaries take 0.4 s to count and this a millisecond."""
    corpora = session.execute(
        select(
            Corpus.id, Corpus.uid, Corpus.name, Corpus.revision, Corpus.state_revision,
            Corpus.encoder_id, Corpus.duplicate_threshold,
        ).order_by(Corpus.id)
    ).all()  # fmt: skip
    newest_question = session.scalar(select(func.max(Question.id)))
    newest_ingest = session.scalar(select(func.max(IngestRun.id)))
    return (tuple(tuple(row) for row in corpora), newest_question, newest_ingest)


def summarize_corpora(session: Session) -> list[CorpusSummary]:
    counts = dict(
        session.execute(select(Question.corpus_id, func.count()).group_by(Question.corpus_id)).all()
    )
    last_runs = dict(
        session.execute(
            select(IngestRun.corpus_id, func.max(IngestRun.started_at)).group_by(
                IngestRun.corpus_id
            )
        ).all()
    )
    encoded = dict(
        session.execute(
            select(QuestionVector.corpus_id, func.count())
            .join(Corpus, Corpus.id == QuestionVector.corpus_id)
            .where(QuestionVector.encoder_id == Corpus.encoder_id)
            .group_by(QuestionVector.corpus_id)
        ).all()
    )
    rows = session.execute(
        select(Corpus, Encoder.model).outerjoin(Encoder, Corpus.encoder_id == Encoder.id)
    ).all()
    return [
        CorpusSummary(
            name=corpus.name,
            questions=counts.get(corpus.id, 0),
            duplicate_threshold=corpus.duplicate_threshold,
            model=model,
            last_ingest=last_runs.get(corpus.id),
            not_encoded=max(counts.get(corpus.id, 0) - encoded.get(corpus.id, 0), 0),
        )
        for corpus, model in sorted(rows, key=lambda row: row[0].name)
    ]


def count_questions(session: Session, corpus_id: int) -> int:
    return session.scalar(select(func.count()).where(Question.corpus_id == corpus_id)) or 0


def existing_hashes(session: Session, corpus_id: int, hashes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), IN_CHUNK):
        chunk = hashes[start : start + IN_CHUNK]
        found.update(
            session.scalars(
                select(Question.text_hash).where(
                    Question.corpus_id == corpus_id, Question.text_hash.in_(chunk)
                )
            )
        )
    return found


def insert_questions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert: one executemany, no ORM objects (ingest speed depends on it)."""
    if rows:
        session.execute(insert(Question), list(rows))


def copy_questions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """`insert_questions` with PostgreSQL's COPY; other databases get the same executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(Question), list(rows))
        return
    raw: Any = session.connection().connection.driver_connection  # inside this transaction
    now = utcnow()
    statement = (
        f"COPY {Question.__tablename__} (corpus_id, text, text_hash, external_id, meta, "
        "created_at) FROM STDIN (FORMAT BINARY)"
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(["int4", "text", "varchar", "varchar", "jsonb", "timestamptz"])
        for row in rows:
            copy.write_row(
                (row["corpus_id"], row["text"], row["text_hash"], row["external_id"],
                 row["meta"], now)
            )  # fmt: skip


def question_texts(session: Session, ids: Iterable[int]) -> dict[int, str]:
    id_list = list(ids)
    texts: dict[int, str] = {}
    for start in range(0, len(id_list), IN_CHUNK):
        chunk = id_list[start : start + IN_CHUNK]
        rows = session.execute(select(Question.id, Question.text).where(Question.id.in_(chunk)))
        texts.update((question_id, text) for question_id, text in rows)
    return texts


def questions_by_id(session: Session, ids: Iterable[int]) -> dict[int, Question]:
    id_list = list(ids)
    found: dict[int, Question] = {}
    for start in range(0, len(id_list), IN_CHUNK):
        chunk = id_list[start : start + IN_CHUNK]
        found.update(
            (q.id, q) for q in session.scalars(select(Question).where(Question.id.in_(chunk)))
        )
    return found


def find_by_hash(session: Session, corpus_id: int, text_hash: str) -> Question | None:
    return session.scalar(
        select(Question).where(Question.corpus_id == corpus_id, Question.text_hash == text_hash)
    )


def last_ingest_runs(session: Session, corpus_id: int, limit: int = 10) -> list[IngestRun]:
    return list(
        session.scalars(
            select(IngestRun)
            .where(IngestRun.corpus_id == corpus_id)
            .order_by(IngestRun.id.desc())
            .limit(limit)
        )
    )


def set_duplicate_threshold(session: Session, name: str, threshold: float | None) -> Corpus:
    """Set (or with None, clear) a corpus's own duplicate threshold."""
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise ValueError(f"a duplicate threshold is a cosine in (0, 1], not {threshold}")
    corpus = get_corpus(session, name)
    corpus.duplicate_threshold = threshold
    session.flush()
    note_change(session, corpus.id)
    return corpus
