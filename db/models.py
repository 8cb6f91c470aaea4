"""The schema: corpora, their questions, the encoder each corpus uses, index builds, ingest runs."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


Timestamp = DateTime(timezone=True)


class Corpus(Base):
    __tablename__ = "corpus"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Names the corpus's folder under the data directory, unique across databases.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    description: Mapped[str | None] = mapped_column(Text)
    duplicate_threshold: Mapped[float | None] = mapped_column(Float)
    encoder_id: Mapped[int | None] = mapped_column(ForeignKey("encoder.id"))
    # Bumped in every transaction that changes what a search of the corpus can find (vectors,
    # the encoder): caches record the revision they were built at.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Bumped by every change a reader may have cached: vectors, threshold, calibration, a
    # clustering run, an analyst's edit (`db.changes`). Long-lived readers (the HTTP
    # service, the UI) compare it on each request, so a change anywhere is seen at once.
    state_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    encoder: Mapped[Encoder | None] = relationship(lazy="raise")


class Encoder(Base):
    """How a corpus's vectors are made; queries must be encoded exactly the same way."""

    __tablename__ = "encoder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(Text)
    dimension: Mapped[int] = mapped_column(Integer)
    normalize: Mapped[bool] = mapped_column(Boolean, default=True)
    prompt: Mapped[str | None] = mapped_column(Text)
    truncate_dim: Mapped[int | None] = mapped_column(Integer)
    vector_dtype: Mapped[str] = mapped_column(
        String(10), default="float32", server_default="float32"
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Question(Base):
    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("corpus_id", "text_hash"),
        Index("ix_question_corpus_external", "corpus_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class QuestionVector(Base):
    """One question's vector under one encoder: written in the transaction that makes the
    question searchable, so "stored but not encoded" is a state the database knows."""

    __tablename__ = "question_vector"

    corpus_id: Mapped[int] = mapped_column(
        ForeignKey("corpus.id", ondelete="CASCADE"), primary_key=True
    )
    encoder_id: Mapped[int] = mapped_column(
        ForeignKey("encoder.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32 or float16


class CorpusLock(Base):
    """The one writer of a corpus, across processes and machines; keyed by name, so that the
    ingest that creates a corpus holds it before the corpus exists."""

    __tablename__ = "corpus_lock"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(20))  # ingest, reindex
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class IndexBuild(Base):
    __tablename__ = "index_build"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    encoder_id: Mapped[int] = mapped_column(ForeignKey("encoder.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(100))
    vector_count: Mapped[int] = mapped_column(BigInteger)
    built_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABANDONED = "abandoned"  # its process died (kill -9, a crash): found and closed later


class IngestRun(Base):
    """One `qclust ingest` call, with what it found in its file."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[RunStatus] = mapped_column(
        Enum(
            RunStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        )
    )
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_existing: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    vectors_encoded: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ClusterRun(Base):
    """One `qclust cluster` run: its parameters, what it found, how it relates to the last."""

    __tablename__ = "cluster_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    encoder_id: Mapped[int] = mapped_column(ForeignKey("encoder.id", ondelete="CASCADE"))
    status: Mapped[RunStatus] = mapped_column(
        Enum(
            RunStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        )
    )
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    cluster_count: Mapped[int] = mapped_column(Integer, default=0)
    noise_share: Mapped[float] = mapped_column(Float, default=0.0)
    group_count: Mapped[int] = mapped_column(Integer, default=0)
    # Keys of the previous run's clusters that did not survive, and where their members went.
    changes: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    message: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ClusterIdentity(Base):
    """A topic cluster as analysts know it, across runs: its stable key and their name for it."""

    __tablename__ = "cluster_identity"
    __table_args__ = (UniqueConstraint("corpus_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"))
    key: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(Text)  # given by an analyst; survives re-runs
    created_run_id: Mapped[int] = mapped_column(ForeignKey("cluster_run.id", ondelete="CASCADE"))


class Cluster(Base):
    """A topic cluster as one run found it."""

    __tablename__ = "cluster"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("cluster_run.id", ondelete="CASCADE"))
    key: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    auto_name: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JsonDoc)
    representative_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("question.id", ondelete="SET NULL")
    )
    change: Mapped[str] = mapped_column(String(10))  # new, kept, merged, split
    sources: Mapped[list[int] | None] = mapped_column(JsonDoc)  # previous keys it came from
    # 0: the topics questions belong to; 1, 2, ...: coarser topics, each holding whole
    # clusters of the level below (their `parent_key`). Keys are unique across levels.
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent_key: Mapped[int | None] = mapped_column(Integer)


class DuplicateGroup(Base):
    """Questions that ask the same thing, as one run found them."""

    __tablename__ = "duplicate_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_run.id", ondelete="CASCADE"), index=True
    )
    canonical_id: Mapped[int] = mapped_column(BigId, ForeignKey("question.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(Integer)


class ClusterMember(Base):
    """Where one run put one question: topic, strength, near-duplicate group, map position."""

    __tablename__ = "cluster_member"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_run.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_key: Mapped[int] = mapped_column(Integer)  # -1: outlier (or unassigned if placed)
    strength: Mapped[float] = mapped_column(Float)  # HDBSCAN membership, or vote share
    centrality: Mapped[float] = mapped_column(Float)  # cosine to the cluster's mean direction
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("duplicate_group.id", ondelete="SET NULL")
    )
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    # For outliers: the nearest cluster and how similar; for placed questions: how they got here.
    nearest_key: Mapped[int | None] = mapped_column(Integer)
    nearest_similarity: Mapped[float | None] = mapped_column(Float)
    placed: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        # The group rides along so that a cluster's groups are read from the index alone.
        Index("ix_cluster_member_run_key_group", "run_id", "cluster_key", "group_id"),
        Index("ix_cluster_member_run_group", "run_id", "group_id"),
        Index("ix_cluster_member_run_placed", "run_id", "placed", "cluster_key"),
    )


def _value_enum(kind: type[enum.StrEnum]) -> Enum:
    """A portable enum column that stores the values ('merge'), not the member names."""
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class EditKind(enum.StrEnum):
    MERGE = "merge"  # the clusters holding `member_ids` go into `target_key`
    MOVE = "move"  # `question_id` goes to `target_key` (-1: out of every cluster)
    CANONICAL = "canonical"  # `question_id` speaks for its near-duplicate group
    NEW = "new"  # `member_ids` make a cluster of their own, under the new key `target_key`


class ClusterEdit(Base):
    """An analyst's change to the clusters, replayed on every later run so it is never lost.

    Merges remember the merged cluster's members rather than its key: a later run may find
    those questions under another key, and the members are what the analyst meant.
    """

    __tablename__ = "cluster_edit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EditKind] = mapped_column(_value_enum(EditKind))
    target_key: Mapped[int | None] = mapped_column(Integer)
    question_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("question.id", ondelete="CASCADE")
    )
    member_ids: Mapped[list[int] | None] = mapped_column(JsonDoc)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # The run the change was made on, and what it replaced there: enough to take it back.
    run_id: Mapped[int | None] = mapped_column(Integer)
    undo: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class PairVerdict(enum.StrEnum):
    DUPLICATE = "duplicate"
    NOT_DUPLICATE = "not_duplicate"
    SKIPPED = "skipped"  # seen and passed over: kept out of the queue, not used for metrics


class PairLabel(Base):
    """An analyst's verdict on two questions; the pair is stored smaller id first."""

    __tablename__ = "pair_label"
    __table_args__ = (UniqueConstraint("corpus_id", "first_id", "second_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(BigId, ForeignKey("question.id", ondelete="CASCADE"))
    second_id: Mapped[int] = mapped_column(BigId, ForeignKey("question.id", ondelete="CASCADE"))
    verdict: Mapped[PairVerdict] = mapped_column(_value_enum(PairVerdict))
    similarity: Mapped[float] = mapped_column(Float)  # cosine when labelled, for calibration
    labelled_by: Mapped[str] = mapped_column(String(200))
    labelled_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class EvalResult(Base):
    """One `qclust eval` run: which model, on which data (by content hash), what it scored."""

    __tablename__ = "eval_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # pairs, sts, retrieval, clusters
    model: Mapped[str] = mapped_column(Text)
    data_path: Mapped[str] = mapped_column(Text)
    data_sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ThresholdCalibration(Base):
    """A duplicate threshold fitted from labels, with the probability curve fitted beside it."""

    __tablename__ = "threshold_calibration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpus.id", ondelete="CASCADE"), index=True)
    threshold: Mapped[float] = mapped_column(Float)
    target_precision: Mapped[float | None] = mapped_column(Float)  # None: F1-optimal
    source: Mapped[str] = mapped_column(Text)  # "labels", a pairs file, or both
    positives: Mapped[int] = mapped_column(Integer)
    negatives: Mapped[int] = mapped_column(Integer)
    cv_precision: Mapped[float] = mapped_column(Float)
    cv_recall: Mapped[float] = mapped_column(Float)
    knots_x: Mapped[list[float]] = mapped_column(JsonDoc)  # isotonic fit: cosine ...
    knots_y: Mapped[list[float]] = mapped_column(JsonDoc)  # ... -> P(duplicate)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class TokenScope(enum.StrEnum):
    READ = "read"  # search, duplicate checks, listings
    WRITE = "write"  # and adding questions, labels, edits, thresholds


class ApiToken(Base):
    """A caller of the HTTP API (or an analyst of an exposed UI); only the token's hash is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[TokenScope] = mapped_column(_value_enum(TokenScope))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
