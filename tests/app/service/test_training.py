"""Training, reindexing and evaluating called on the service itself, for real on small models:
what another front end (HTTP, UI) gets back, and what is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.service import Service
from app.service.training import TrainRequestError
from db.errors import QclustError
from db.models import Encoder as EncoderRow
from db.models import EvalResult, PairVerdict, Question
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.app.test_cli_eval import PAIRS
from tests.app.test_cli_train import TOPICS
from tests.conftest import write_csv

CORPUS = "support"


def questions_csv(folder: Path) -> Path:
    return write_csv(folder / "q.csv", [{"question": t} for pair in TOPICS for t in pair])


@pytest.fixture
def service(sqlite_settings: Settings, default_encoder: Encoder, tmp_path: Path) -> Service:
    """A corpus encoded with the default model, which this service already has loaded."""
    ingest_file(questions_csv(tmp_path), CORPUS, settings=sqlite_settings, encoder=default_encoder)
    service = Service(sqlite_settings)
    service.searchers.adopt(default_encoder)
    return service


@pytest.fixture
def tiny_service(sqlite_settings: Settings, tiny_bert: Path, tmp_path: Path) -> Service:
    """A corpus encoded with the tiny model, quick to fine-tune."""
    service = Service(sqlite_settings)
    service.ingest_file(questions_csv(tmp_path), CORPUS, model=str(tiny_bert))
    return service


def test_a_reindexed_corpus_answers_with_the_new_model(service: Service, tiny_bert: Path) -> None:
    before = service.search(CORPUS, "forgot password", k=1).revision
    report = service.training.reindex(CORPUS, str(tiny_bert))
    assert (report.old_model, report.new_model) == ("all-MiniLM-L6-v2", str(tiny_bert))
    assert report.encoded == report.index_size == 2 * len(TOPICS)
    state = service.state(CORPUS)
    assert state.revision > before
    assert state.searcher.encoder.dimension == 32  # the tiny model's width
    assert state.searcher.encoder.spec.model == str(tiny_bert)
    assert service.search(CORPUS, "forgot password", k=1).hits[0].text == "forgot password"
    with pytest.raises(QclustError, match="already encoded with"):
        service.training.reindex(CORPUS, str(tiny_bert))


def test_training_on_the_analysts_labels_registers_a_model_in_the_data_folder(
    tiny_service: Service, sqlite_settings: Settings
) -> None:
    with tiny_service.sessions() as session:
        ids = {text: id_ for text, id_ in session.execute(select(Question.text, Question.id))}
    for i, (first, second) in enumerate(TOPICS):
        stranger = TOPICS[(i + 3) % len(TOPICS)][1]
        label = tiny_service.label_pair
        label(CORPUS, ids[first], ids[second], PairVerdict.DUPLICATE, by="ana")
        label(CORPUS, ids[first], ids[stranger], PairVerdict.NOT_DUPLICATE, by="ana")
    stages: list[str] = []
    report = tiny_service.training.train(
        corpus=CORPUS, held_out=0.0, batch_size=4,
        progress=lambda stage, done, total: stages.append(stage),
    )  # fmt: skip
    assert report.output == sqlite_settings.data_dir / "models" / f"{CORPUS}-v1"
    assert (report.output / "modules.json").exists()
    assert report.train_pairs == 2 * len(TOPICS)
    assert set(stages) == {"training"}
    with tiny_service.sessions() as session:
        assert str(report.output.resolve()) in session.scalars(select(EncoderRow.model)).all()


def test_a_training_request_without_data_or_with_two_models_is_refused(
    tiny_service: Service, tiny_bert: Path
) -> None:
    with pytest.raises(TrainRequestError, match="nothing to train on"):
        tiny_service.training.train(corpus=CORPUS)  # no labels yet
    with pytest.raises(TrainRequestError, match="give one"):
        tiny_service.training.train(corpus=CORPUS, model=str(tiny_bert))
    with pytest.raises(TrainRequestError, match="loss must be one of"):
        tiny_service.training.train(corpus=CORPUS, loss="hinge")


def test_a_pairs_evaluation_returns_and_stores_its_metrics(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    rows = [{"question1": a, "question2": b, "is_duplicate": y} for a, b, y in PAIRS]
    path = write_csv(tmp_path / "pairs.csv", rows)
    service = Service(sqlite_settings)
    report = service.evaluation.pairs(path)
    assert (report.kind, report.rows, report.file) == ("pairs", len(PAIRS), path)
    assert report.model == "all-MiniLM-L6-v2"
    assert set(report.metrics) == {"cosine", "dot", "manhattan", "euclidean"}
    assert report.metrics["cosine"].accuracy == pytest.approx(1.0)  # these pairs are easy
    with service.sessions() as session:
        stored = session.scalars(select(EvalResult)).one()
    assert (stored.id, stored.kind, stored.data_sha256) == (report.id, "pairs", report.sha256)
    assert stored.metrics == report.stored_metrics
    assert stored.metrics["cosine"]["f1"] == pytest.approx(report.metrics["cosine"].f1)
    record = report.record()
    assert list(record) == ["id", "kind", "model", "file", "sha256", "rows", "seconds", "metrics"]
    assert record["file"] == str(path)
