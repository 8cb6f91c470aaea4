"""Vectors in the database: one row per question and encoder, float32 or float16 bytes.

Every function takes a `Session` first; the caller owns the transaction. `write_vectors` bumps
the corpus's revision in the same transaction, so a cache built at revision R is stale exactly
when the corpus has moved past R.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from db.errors import StoredVectorError
from db.models import Corpus, Encoder, Question, QuestionVector
from db.queries import IN_CHUNK
from db.sampling import seeded_ids

VectorDtype = Literal["float32", "float16"]
Ids = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]
READ_CHUNK = 20_000


def stored_dtype(encoder: Encoder) -> VectorDtype:
    """How this encoder's vectors are stored (its row's `vector_dtype`)."""
    return "float16" if encoder.vector_dtype == "float16" else "float32"


def _wire_dtype(dtype: VectorDtype) -> np.dtype[np.floating]:
    return np.dtype("<f2") if dtype == "float16" else np.dtype("<f4")


def bump_revision(session: Session, corpus_id: int) -> None:
    """The vectors changed: index caches are stale, and so is every reader's state."""
    session.execute(
        update(Corpus)
        .where(Corpus.id == corpus_id)
        .values(revision=Corpus.revision + 1, state_revision=Corpus.state_revision + 1)
        .execution_options(synchronize_session=False)
    )


def corpus_revision(session: Session, corpus_id: int) -> int:
    return int(session.scalar(select(Corpus.revision).where(Corpus.id == corpus_id)) or 0)


def write_vectors(
    session: Session,
    corpus_id: int,
    encoder_id: int,
    ids: Ids,
    vectors: Matrix,
    dtype: VectorDtype,
) -> None:
    """Store one vector per id and bump the corpus's revision, in the caller's transaction."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if not len(ids):
        return
    wire = np.ascontiguousarray(vectors, dtype=_wire_dtype(dtype))
    session.execute(
        insert(QuestionVector),
        [
            {"corpus_id": corpus_id, "encoder_id": encoder_id, "question_id": int(question_id),
             "vector": row.tobytes()}
            for question_id, row in zip(ids, wire, strict=True)
        ],
    )  # fmt: skip
    bump_revision(session, corpus_id)


def copy_vectors(
    session: Session,
    corpus_id: int,
    encoder_id: int,
    ids: Ids,
    vectors: Matrix,
    dtype: VectorDtype,
) -> None:
    """As `write_vectors`, streamed with PostgreSQL's binary COPY (the bulk engine's writer);
    other databases get `write_vectors` itself."""
    if session.get_bind().dialect.name != "postgresql":
        write_vectors(session, corpus_id, encoder_id, ids, vectors, dtype)
        return
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if not len(ids):
        return
    wire = np.ascontiguousarray(vectors, dtype=_wire_dtype(dtype))
    # psycopg's own connection, inside the session's open transaction
    psycopg_connection: Any = session.connection().connection.driver_connection
    table = QuestionVector.__tablename__
    statement = (
        f"COPY {table} (corpus_id, encoder_id, question_id, vector) FROM STDIN (FORMAT BINARY)"
    )
    with psycopg_connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(["int4", "int4", "int8", "bytea"])
        for question_id, row in zip(ids.tolist(), wire, strict=True):
            copy.write_row((corpus_id, encoder_id, question_id, row.tobytes()))
    bump_revision(session, corpus_id)


def _unencoded(corpus_id: int, encoder_id: int):  # type: ignore[no-untyped-def]
    return ~exists().where(
        QuestionVector.corpus_id == corpus_id,
        QuestionVector.encoder_id == encoder_id,
        QuestionVector.question_id == Question.id,
    )


def count_unencoded(session: Session, corpus_id: int, encoder_id: int) -> int:
    """Questions of the corpus stored but without a vector from this encoder."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Question)
            .where(Question.corpus_id == corpus_id, _unencoded(corpus_id, encoder_id))
        )
        or 0
    )


def unencoded_questions(
    session: Session, corpus_id: int, encoder_id: int, limit: int
) -> list[tuple[int, str]]:
    """The next `limit` questions without a vector, in id order: gaps get filled too."""
    rows = session.execute(
        select(Question.id, Question.text)
        .where(Question.corpus_id == corpus_id, _unencoded(corpus_id, encoder_id))
        .order_by(Question.id)
        .limit(limit)
    )
    return [(int(question_id), text) for question_id, text in rows]


def unencoded_span(session: Session, corpus_id: int, encoder_id: int) -> tuple[int, int] | None:
    """The lowest and highest id of the questions without a vector; None when there is none."""
    low, high = session.execute(
        select(func.min(Question.id), func.max(Question.id)).where(
            Question.corpus_id == corpus_id, _unencoded(corpus_id, encoder_id)
        )
    ).one()
    return None if low is None else (int(low), int(high))


def unencoded_between(
    session: Session, corpus_id: int, encoder_id: int, first: int, last: int
) -> list[tuple[int, str]]:
    """The questions without a vector whose ids lie in [first, last], in id order."""
    rows = session.execute(
        select(Question.id, Question.text)
        .where(
            Question.corpus_id == corpus_id,
            Question.id.between(first, last),
            _unencoded(corpus_id, encoder_id),
        )
        .order_by(Question.id)
    )
    return [(int(question_id), text) for question_id, text in rows]


def count_vectors(session: Session, corpus_id: int, encoder_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(QuestionVector)
            .where(QuestionVector.corpus_id == corpus_id, QuestionVector.encoder_id == encoder_id)
        )
        or 0
    )


def vector_ids(session: Session, corpus_id: int, encoder_id: int) -> Ids:
    """Ids of every stored vector, ascending."""
    found = session.scalars(
        select(QuestionVector.question_id)
        .where(QuestionVector.corpus_id == corpus_id, QuestionVector.encoder_id == encoder_id)
        .order_by(QuestionVector.question_id)
    ).all()
    return np.asarray(found, dtype=np.int64)


def sample_vector_ids(
    session: Session, corpus_id: int, encoder_id: int, count: int, *, seed: int = 0
) -> list[int]:
    """About `count` distinct ids of stored vectors, ascending: for each of `count` seeded
    points of the id range, the first stored id at or after it (one index seek each, however
    many vectors there are). Ids after a gap are a little likelier; a sample for a queue, not
    a statistic."""
    where = (QuestionVector.corpus_id == corpus_id, QuestionVector.encoder_id == encoder_id)
    return sorted(seeded_ids(session, QuestionVector.question_id, where, count, seed=seed))


def iter_vectors(
    session: Session,
    corpus_id: int,
    encoder_id: int,
    *,
    dimension: int,
    dtype: VectorDtype,
    chunk: int = READ_CHUNK,
) -> Iterator[tuple[Ids, Matrix]]:
    """Every stored vector, in id order, `chunk` rows at a time (keyset pages, bounded memory)."""
    after = -1
    while True:
        rows = session.execute(
            select(QuestionVector.question_id, QuestionVector.vector)
            .where(
                QuestionVector.corpus_id == corpus_id,
                QuestionVector.encoder_id == encoder_id,
                QuestionVector.question_id > after,
            )
            .order_by(QuestionVector.question_id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield _decode(rows, dimension, dtype)
        after = int(rows[-1][0])


def read_all_vectors(
    session: Session, corpus_id: int, encoder_id: int, *, dimension: int, dtype: VectorDtype
) -> tuple[Ids, Matrix]:
    """Every stored vector, filled into arrays sized once (no second copy of a million rows)."""
    expected = count_vectors(session, corpus_id, encoder_id)
    ids = np.empty(expected, dtype=np.int64)
    vectors = np.empty((expected, dimension), dtype=np.float32)
    filled = 0
    for chunk_ids, chunk in iter_vectors(
        session, corpus_id, encoder_id, dimension=dimension, dtype=dtype
    ):
        if filled + len(chunk_ids) > expected:  # written meanwhile (PostgreSQL reads committed)
            ids, vectors = (
                np.resize(ids, filled + len(chunk_ids)),
                _grown(vectors, filled + len(chunk_ids)),
            )
        ids[filled : filled + len(chunk_ids)] = chunk_ids
        vectors[filled : filled + len(chunk_ids)] = chunk
        filled += len(chunk_ids)
    return ids[:filled], vectors[:filled]


def _grown(vectors: Matrix, rows: int) -> Matrix:
    bigger = np.empty((rows, vectors.shape[1]), dtype=np.float32)
    bigger[: len(vectors)] = vectors
    return bigger


def vectors_of(
    session: Session,
    corpus_id: int,
    encoder_id: int,
    ids: Sequence[int],
    *,
    dimension: int,
    dtype: VectorDtype,
) -> tuple[Ids, Matrix]:
    """The stored vectors of these ids (those that have one), in id order."""
    wanted = sorted({int(i) for i in ids})
    rows: list[tuple[int, bytes]] = []
    for start in range(0, len(wanted), IN_CHUNK):
        found = session.execute(
            select(QuestionVector.question_id, QuestionVector.vector).where(
                QuestionVector.corpus_id == corpus_id,
                QuestionVector.encoder_id == encoder_id,
                QuestionVector.question_id.in_(wanted[start : start + IN_CHUNK]),
            )
        )
        rows += [(int(question_id), vector) for question_id, vector in found]
    rows.sort(key=lambda row: row[0])
    return _decode(rows, dimension, dtype)


def drop_vectors(session: Session, corpus_id: int, encoder_id: int) -> None:
    session.execute(
        delete(QuestionVector).where(
            QuestionVector.corpus_id == corpus_id, QuestionVector.encoder_id == encoder_id
        )
    )


def encoders_with_vectors(session: Session, corpus_id: int) -> list[int]:
    return list(
        session.scalars(
            select(QuestionVector.encoder_id)
            .where(QuestionVector.corpus_id == corpus_id)
            .distinct()
            .order_by(QuestionVector.encoder_id)
        )
    )


def _decode(
    rows: Sequence[tuple[int, bytes]], dimension: int, dtype: VectorDtype
) -> tuple[Ids, Matrix]:
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.empty((0, dimension), dtype=np.float32)
    raw = np.frombuffer(b"".join(row[1] for row in rows), dtype=_wire_dtype(dtype))
    if raw.size != len(rows) * dimension:
        raise StoredVectorError(
            f"stored vectors are not {dimension}-d {dtype} (got {raw.size} values "
            f"for {len(rows)} rows)"
        )
    return ids, raw.reshape(len(rows), dimension).astype(np.float32)
