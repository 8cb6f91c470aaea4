"""The Ray engine on a local cluster of two CPUs, started once for the module: it gives the local
path's questions (ids, texts, external ids, rejections) and vectors; killed midway, the same
command resumes and loses or duplicates nothing; and without Ray installed, `--engine ray` says
how to install it."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import IngestRun, Question, RunStatus
from db.session import open_database
from db.settings import Settings, get_settings
from db.vectors import read_all_vectors
from indexer.corpus_index import locate_corpus
from indexer.encoder import Encoder
from indexer.ingest import IngestReport, ingest_file
from tests.app.conftest import first_demo_rows
from tests.invariants import assert_consistent
from tests.processes import run_qclust, settings_env

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")]
ROWS = 200
# An unclosed quote (the next line is read again), an empty question, a control character, a
# repeat of a row above in other case and spacing, and a decimal id.
BAD_LINES = [
    'q9001,"How do I never close this quote?,topic,\n',
    "q9002,   ,topic,\n",
    "q9003,Why does this \x01 break?,topic,\n",
    "q9004,  SHORTCUT to switch   between projects?,keyboard_shortcuts,\n",
]
COLUMNS = {"text_column": "question", "id_column": "id"}


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'qclust[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def _questions_file(folder: Path) -> Path:
    path = first_demo_rows(folder / "questions.csv", ROWS)
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(BAD_LINES)
    return path


def _sqlite(tmp_path: Path, name: str) -> Settings:
    folder = tmp_path / name
    return Settings(
        data_dir=folder / "data", database_url=f"sqlite:///{folder / 'qclust.db'}", device="cpu"
    )


def _postgres(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "pg-data", database_url=url, device="cpu")


def _questions(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        rows = session.execute(
            select(Question.id, Question.text, Question.text_hash, Question.external_id,
                   Question.meta).order_by(Question.id)
        )  # fmt: skip
        return [tuple(row) for row in rows]


def _vectors(
    settings: Settings, sessions: sessionmaker[Session], corpus: str
) -> tuple[np.ndarray, np.ndarray]:
    location = locate_corpus(sessions, settings, corpus)
    with sessions() as session:
        return read_all_vectors(
            session, location.corpus_id, location.encoder_id, dimension=location.dimension,
            dtype="float32",
        )  # fmt: skip


def _counts(report: IngestReport) -> tuple[Any, ...]:
    return (report.rows_read, report.added, report.already_in_corpus, report.duplicates_in_file,
            report.rejected, dict(report.rejection_reasons), report.rejections)  # fmt: skip


def _assert_same_corpus(
    ray_side: tuple[Settings, sessionmaker[Session]],
    local_side: tuple[Settings, sessionmaker[Session]],
    corpus: str,
) -> None:
    assert _questions(ray_side[1]) == _questions(local_side[1])
    ray_ids, ray_vectors = _vectors(*ray_side, corpus)
    local_ids, local_vectors = _vectors(*local_side, corpus)
    assert ray_ids.tolist() == local_ids.tolist()
    cosines = np.sum(ray_vectors * local_vectors, axis=1)  # both normalised
    assert cosines.min() >= 0.999, f"a Ray vector differs from the local one: {cosines.min()}"


@pytest.mark.postgres
def test_ray_gives_the_local_paths_questions_and_vectors(
    ray_address: str, tmp_path: Path, postgres_schema_url: str, default_encoder: Encoder
) -> None:
    """Two files through Ray into PostgreSQL (COPY), and one after the other through the local
    path into SQLite: the same ids, texts, external ids, rejections and vectors; the second
    file's repeats of the first are found in the corpus; the index is the local one."""
    from indexer.ray_ingest import ingest_files_ray

    first = _questions_file(tmp_path)
    second = tmp_path / "more.csv"
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    second.write_text("".join([lines[0], *lines[150:]]), encoding="utf-8")  # 52 repeats, 3 bad

    ray_settings = _postgres(tmp_path, postgres_schema_url)
    ray_sessions = open_database(ray_settings.resolved_database_url)
    report = ingest_files_ray(
        [first, second], "demo", settings=ray_settings, sessions=ray_sessions,
        encoder=default_encoder, **COLUMNS,  # type: ignore[arg-type]
    )  # fmt: skip
    assert report.actors == 1  # two CPUs: one for the actor, one to read
    assert report.device == "cpu"

    local_settings = _sqlite(tmp_path, "local")
    local_sessions = open_database(local_settings.resolved_database_url)
    local = [
        ingest_file(path, "demo", settings=local_settings, sessions=local_sessions,
                    encoder=default_encoder, **COLUMNS)  # type: ignore[arg-type]
        for path in (first, second)
    ]  # fmt: skip
    assert [_counts(r) for r in report.files] == [_counts(r) for r in local]
    assert (local[0].added, local[0].duplicates_in_file, local[0].rejected) == (ROWS, 1, 3)
    assert (local[1].added, local[1].already_in_corpus, local[1].rejected) == (0, 52, 3)
    assert (report.rows_read, report.added, report.rejected) == (ROWS + 4 + 51 + 4, ROWS, 6)
    assert (report.encoded, report.index_kind, report.index_size) == (
        ROWS, local[0].index_kind, local[0].index_size,
    )  # fmt: skip
    _assert_same_corpus((ray_settings, ray_sessions), (local_settings, local_sessions), "demo")
    assert_consistent(ray_settings, ray_sessions, default_encoder, "demo")


def test_the_bulk_writers_fall_back_to_inserts_on_sqlite(
    tmp_path: Path, default_encoder: Encoder
) -> None:
    """The Ray engine's writers on SQLite (no COPY there): the local path's inserts."""
    from db.queries import copy_questions
    from db.vectors import copy_vectors

    settings = _sqlite(tmp_path, "copy")
    sessions = open_database(settings.resolved_database_url)
    ingest_file(
        first_demo_rows(tmp_path / "one.csv", 1), "demo", settings=settings, sessions=sessions,
        encoder=default_encoder, **COLUMNS,  # type: ignore[arg-type]
    )  # fmt: skip
    location = locate_corpus(sessions, settings, "demo")
    texts = ["How do I export my data?", "Can I pay yearly?"]
    with sessions.begin() as session:
        copy_questions(
            session,
            [{"corpus_id": location.corpus_id, "text": text, "text_hash": f"h{i}",
              "external_id": f"x{i}", "meta": {"topic": "t"} if i else None}
             for i, text in enumerate(texts)],
        )  # fmt: skip
    stored = _questions(sessions)[1:]
    assert [(row[1], row[3], row[4]) for row in stored] == [
        (texts[0], "x0", None), (texts[1], "x1", {"topic": "t"}),
    ]  # fmt: skip
    ids = np.array([row[0] for row in stored], dtype=np.int64)
    with sessions.begin() as session:
        copy_vectors(session, location.corpus_id, location.encoder_id, ids,
                     default_encoder.encode(texts), "float32")  # fmt: skip
    assert _vectors(settings, sessions, "demo")[0].tolist() == [1, *ids.tolist()]


@pytest.mark.postgres
def test_a_ray_ingest_killed_midway_resumes(
    ray_address: str, tmp_path: Path, postgres_schema_url: str, default_encoder: Encoder
) -> None:
    """`qclust ingest --engine ray` killed with -9 after two chunks of vectors: the same
    command stores nothing twice and encodes only what is missing."""
    from indexer.ray_ingest import ingest_files_ray

    path = _questions_file(tmp_path)
    settings = _postgres(tmp_path, postgres_schema_url)
    # ray.init() turned on token auth in this process's environment (RAY_AUTH_MODE=token); a
    # child forked from a server started before it would lack that, and be refused.
    ray_env = {name: value for name, value in os.environ.items() if name.startswith("RAY_")}
    env = (
        settings_env(settings)
        | ray_env
        | {
            "QCLUST_ENCODE_CHUNK_ROWS": "50",
            "QCLUST_FAULT_AT": "encode:wrote-vectors:2",
        }
    )
    argv = ["ingest", str(path), "-c", "demo", "--text-column", "question", "--id-column", "id",
            "-q", "--engine", "ray", "--address", ray_address]  # fmt: skip
    child = run_qclust(argv, env, tmp_path / "killed.log", timeout=120)
    assert child.process.exitcode == -signal.SIGKILL, child.output
    sessions = open_database(settings.resolved_database_url)
    assert len(_questions(sessions)) == ROWS  # every question stored before the first vector
    written = len(_vectors(settings, sessions, "demo")[0])
    assert 0 < written < ROWS

    report = ingest_files_ray(
        [path], "demo", settings=settings, sessions=sessions, encoder=default_encoder,
        address=ray_address, **COLUMNS,  # type: ignore[arg-type]
    )  # fmt: skip
    assert (report.added, report.already_in_corpus) == (0, ROWS)
    assert report.encoded == ROWS - written
    assert_consistent(settings, sessions, default_encoder, "demo")
    with sessions() as session:
        statuses = [r.status for r in session.scalars(select(IngestRun).order_by(IngestRun.id))]
    assert statuses == [RunStatus.ABANDONED, RunStatus.DONE]


@pytest.mark.parametrize(
    ("resources", "device", "expected"),
    [
        ({"CPU": 2.0}, "auto", (1, 1, 0, "cpu")),  # one core left to read the questions
        ({"CPU": 16.0}, "auto", (3, 4, 0, "cpu")),
        ({"CPU": 16.0, "GPU": 2.0}, "auto", (2, 1, 1, "cuda")),  # one GPU per actor
        ({"CPU": 16.0, "GPU": 2.0}, "cpu", (3, 4, 0, "cpu")),  # QCLUST_DEVICE=cpu wins
    ],
)
def test_the_actor_pool_follows_the_clusters_resources(
    resources: dict[str, float], device: str, expected: tuple[Any, ...], tmp_path: Path
) -> None:
    from indexer.ray_workers import actor_shape

    settings = Settings(data_dir=tmp_path, device=device)  # type: ignore[arg-type]
    shape = actor_shape(resources, settings)
    assert (shape.size, shape.num_cpus, shape.num_gpus, shape.device) == expected


def test_without_ray_the_command_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main

    path = _questions_file(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    monkeypatch.setenv("QCLUST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("QCLUST_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["qclust", "ingest", str(path), "-c", "demo", "--engine",
                                      "ray", "--text-column", "question"])  # fmt: skip
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        get_settings.cache_clear()
    stderr = capfd.readouterr().err
    assert exited.value.code == 1
    assert "pip install 'qclust[ray]'" in stderr
    assert "Traceback" not in stderr


def test_a_cluster_that_cannot_be_reached_is_named_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray retries for minutes before it gives up; a stand-in Ray that refuses at once checks
    what qclust says then."""
    import types

    from indexer.ray_ingest import RayConnectionError, ingest_files_ray

    def refuse(**_: Any) -> None:
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.9:6379")

    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: False  # type: ignore[attr-defined]
    fake.init = refuse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(sys.modules, "ray.data", types.ModuleType("ray.data"))
    settings = _sqlite(tmp_path, "unreachable")
    sessions = open_database(settings.resolved_database_url)
    with pytest.raises(RayConnectionError, match="10.0.0.9:6379.*RAY_AUTH_MODE=token"):
        ingest_files_ray(
            [_questions_file(tmp_path)], "demo", settings=settings, sessions=sessions,
            address="10.0.0.9:6379", **COLUMNS,  # type: ignore[arg-type]
        )  # fmt: skip
    assert _questions(sessions) == []
