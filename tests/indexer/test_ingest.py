from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.models import IndexBuild, IngestRun, Question, QuestionVector, RunStatus
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from indexer.search import open_searcher
from tests.conftest import write_csv

QUESTIONS = [
    "How do I reset my password?",
    "Where can I download my invoices?",
    "Can I pay with PayPal?",
    "How do I delete my account permanently?",
    "Why is the mobile app crashing on startup?",
]


def _csv(tmp_path: Path, texts: list[str], name: str = "q.csv") -> Path:
    rows = [{"id": f"q{i}", "question": t, "topic": "x"} for i, t in enumerate(texts)]
    return write_csv(tmp_path / name, rows)


def _stored_ids(settings: Settings) -> np.ndarray:
    """Ids of the questions with a vector in the database (the one place vectors live)."""
    from db.session import open_database

    with open_database(settings.resolved_database_url)() as session:
        ids = session.scalars(select(QuestionVector.question_id).order_by("question_id")).all()
    return np.asarray(ids, dtype=np.int64)


def _count_encoded(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = encoder.encode

    def counting(texts: list[str], **kwargs: bool) -> np.ndarray:
        calls.append(len(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(encoder, "encode", counting)
    return calls


def test_ingest_stores_encodes_and_indexes(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    path = _csv(tmp_path, QUESTIONS)
    report = ingest_file(
        path,
        "support",
        settings=settings,
        sessions=sessions,
        text_column="question",
        id_column="id",
        encoder=default_encoder,
    )
    assert (report.rows_read, report.added, report.encoded, report.index_size) == (5, 5, 5, 5)
    assert not report.nothing_done
    with sessions() as session:
        questions = session.scalars(select(Question).order_by(Question.id)).all()
        [run] = session.scalars(select(IngestRun)).all()
        [build] = session.scalars(select(IndexBuild)).all()
    assert [q.external_id for q in questions] == ["q0", "q1", "q2", "q3", "q4"]
    assert questions[0].meta == {"topic": "x"}
    assert (run.status, run.rows_added, run.vectors_encoded) == (RunStatus.DONE, 5, 5)
    assert (build.kind, build.vector_count) == ("IDMap2,Flat", 5)
    np.testing.assert_array_equal(_stored_ids(settings), [q.id for q in questions])


def test_second_ingest_encodes_only_new_questions(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = {"settings": settings, "sessions": sessions, "encoder": default_encoder}
    ingest_file(_csv(tmp_path, QUESTIONS[:3], "old.csv"), "support", **common)
    calls = _count_encoded(default_encoder, monkeypatch)
    report = ingest_file(_csv(tmp_path, QUESTIONS, "all.csv"), "support", **common)
    assert (report.added, report.already_in_corpus, report.encoded) == (2, 3, 2)
    assert sum(calls) == 2
    assert report.index_size == 5
    assert len(set(_stored_ids(settings).tolist())) == 5


def test_bad_rows_are_rejected_with_lines_and_good_rows_still_go_in(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    path = tmp_path / "messy.csv"
    lines = [
        b"question,topic",
        b"How do I reset my password?,auth",  # line 2
        b",auth",  # 3: empty
        b"   ,auth",  # 4: whitespace only
        b"how do I   RESET my password?,auth",  # 5: same question again
        b"Caf\xe9 opening hours?,misc",  # 6: latin-1, not UTF-8
        b'"' + b"x" * 102_400 + b'",spam',  # 7: a 100 kB "question"
        b"Can I pay with PayPal?,billing",  # 8
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest_file(
        path, "support", settings=settings, sessions=sessions, encoder=default_encoder
    )
    assert (report.rows_read, report.added, report.duplicates_in_file) == (7, 2, 1)
    assert report.rejected == 4
    assert dict(report.rejection_reasons) == {"empty": 2, "not UTF-8": 1, "too long": 1}
    assert [r.line for r in report.rejections] == [3, 4, 6, 7]
    assert not report.nothing_done


def test_a_file_without_one_usable_row_is_nothing_done(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("\n   \n\t\n")
    report = ingest_file(
        path, "support", settings=settings, sessions=sessions, encoder=default_encoder
    )
    assert report.nothing_done
    assert report.rejected == 3


def test_a_corpus_keeps_its_model(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    common = {"settings": settings, "sessions": sessions, "encoder": default_encoder}
    ingest_file(_csv(tmp_path, QUESTIONS), "support", **common)
    with pytest.raises(QclustError, match="encoded with 'all-MiniLM-L6-v2'"):
        ingest_file(_csv(tmp_path, QUESTIONS), "support", model="other/model", **common)


def test_a_corpus_above_the_exact_size_gets_an_ivf_index(
    tmp_path: Path, sqlite_settings: Settings, default_encoder: Encoder
) -> None:
    settings = sqlite_settings.model_copy(update={"exact_index_max": 50})
    texts = [f"How do I configure feature number {i} in the dashboard?" for i in range(120)]
    report = ingest_file(_csv(tmp_path, texts), "big", settings=settings, encoder=default_encoder)
    assert report.index_kind.startswith("IVF")
    searcher = open_searcher("big", settings=settings, encoder=default_encoder)
    assert searcher.search(texts[7], k=1)[0].text == texts[7]


def test_values_a_database_cannot_store_reject_their_own_rows_only(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    """PostgreSQL once aborted the whole file (0 of 404 rows kept) on one NUL byte in a
    metadata column or one external id over 200 characters."""
    rows = [{"id": f"q{i}", "question": f"Is question number {i} answered?", "note": "ok"}
            for i in range(404)]  # fmt: skip
    rows[3]["note"] = "bad\x00byte"
    rows[7]["id"] = "x" * 201
    path = write_csv(tmp_path / "q.csv", rows)
    report = ingest_file(
        path, "support", settings=settings, sessions=sessions, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    assert (report.added, report.rejected) == (402, 2)
    assert [r.line for r in report.rejections] == [5, 9]  # the header is line 1
    assert "NUL byte in column 'note'" in report.rejections[0].reason
    assert "200" in report.rejections[1].reason


def test_a_file_with_no_usable_question_leaves_nothing_behind(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    tiny_bert: Path,
) -> None:
    """It once created the corpus, bound to the default model, so a later --model was refused."""
    from sqlalchemy import func

    from db.models import Corpus

    empty = write_csv(tmp_path / "empty.csv", [{"question": "   "}, {"question": ""}])
    report = ingest_file(
        empty, "fresh", settings=settings, sessions=sessions, encoder=default_encoder
    )
    assert report.nothing_done
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Corpus)) == 0
        assert session.scalar(select(func.count()).select_from(IngestRun)) == 0
    good = _csv(tmp_path, QUESTIONS)
    report = ingest_file(good, "fresh", settings=settings, sessions=sessions, model=str(tiny_bert))
    assert report.encoded == len(QUESTIONS)
