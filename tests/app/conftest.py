"""A small support corpus, ingested once per session, and env vars that point the UI at it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from db.session import open_database
from db.settings import Settings, get_settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file

CORPUS = "support"
ENTRYPOINT = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
DEMO_QUESTIONS = Path(__file__).resolve().parents[2] / "demo" / "questions.csv"
CLUSTERED = "demo"
CLUSTERED_ROWS = 300
# Small topics, so that 300 questions make a dozen or more clusters; a seed, so that every
# session clusters them the same way.
CLUSTER_PARAMS = ClusterParams(min_cluster_size=5, random_state=0)

# Twenty support questions; several come in paraphrase pairs (s04/s17, s06/s18, s07/s19).
SUPPORT_QUESTIONS = {
    "s01": "How do I reset my password?",
    "s02": "I forgot my password and cannot log in",
    "s03": "How can I change the email address on my account?",
    "s04": "How do I cancel my subscription?",
    "s05": "Can I get a refund for my last payment?",
    "s06": "Where can I download my invoices?",
    "s07": "How do I enable two-factor authentication?",
    "s08": "Is there a dark mode in the mobile app?",
    "s09": "How do I export my data to CSV?",
    "s10": "Can I invite teammates to my workspace?",
    "s11": "Why was my credit card declined?",
    "s12": "How do I delete my account permanently?",
    "s13": "What are your customer support hours?",
    "s14": "Can I change my billing plan from monthly to yearly?",
    "s15": "How do I upload a profile picture?",
    "s16": "Does the app work offline?",
    "s17": "How can I stop my subscription from renewing?",
    "s18": "Where do I find my past invoices and receipts?",
    "s19": "How do I turn on 2FA for my login?",
    "s20": "Is my data encrypted at rest?",
}


@dataclass(frozen=True)
class UiCorpus:
    root: Path
    name: str = CORPUS

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'qclust.db'}"

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir, database_url=self.database_url, device="cpu", ngpu=0
        )


def point_app_at(monkeypatch: pytest.MonkeyPatch, data_dir: Path, database_url: str) -> None:
    """Env vars the app's `Settings()` reads; a missing config file keeps a local toml out."""
    monkeypatch.setenv("QCLUST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QCLUST_DATABASE_URL", database_url)
    monkeypatch.setenv("QCLUST_DEVICE", "cpu")
    monkeypatch.setenv("QCLUST_NGPU", "0")
    monkeypatch.setenv("QCLUST_CONFIG", str(data_dir / "no-such-qclust.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def support_corpus(tmp_path_factory: pytest.TempPathFactory, default_encoder: Encoder) -> UiCorpus:
    root = tmp_path_factory.mktemp("ui-corpus")
    csv = tmp_path_factory.mktemp("ui-source") / "support.csv"
    lines = ["id,question", *(f"{key},{text}" for key, text in SUPPORT_QUESTIONS.items())]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = UiCorpus(root)
    settings = Settings(
        data_dir=corpus.data_dir, database_url=corpus.database_url, device="cpu", ngpu=0
    )
    report = ingest_file(
        csv,
        CORPUS,
        settings=settings,
        text_column="question",
        id_column="id",
        encoder=default_encoder,
    )
    assert report.added == len(SUPPORT_QUESTIONS)
    return corpus


def first_demo_rows(target: Path, count: int) -> Path:
    with DEMO_QUESTIONS.open(encoding="utf-8") as source:
        lines = [next(source) for _ in range(count + 1)]  # the header, then `count` rows
    target.write_text("".join(lines), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def clustered_corpus(
    tmp_path_factory: pytest.TempPathFactory, support_corpus: UiCorpus, default_encoder: Encoder
) -> UiCorpus:
    """The support corpus plus the first 300 demo questions as corpus 'demo', clustered once."""
    root = shutil.copytree(support_corpus.root, tmp_path_factory.mktemp("ui-clustered") / "db")
    corpus = UiCorpus(root, name=CLUSTERED)
    csv = first_demo_rows(tmp_path_factory.mktemp("ui-demo") / "demo.csv", CLUSTERED_ROWS)
    report = ingest_file(
        csv,
        CLUSTERED,
        settings=corpus.settings,
        text_column="question",
        id_column="id",
        encoder=default_encoder,
    )
    assert report.added == CLUSTERED_ROWS
    sessions = open_database(corpus.database_url)
    run_clustering(CLUSTERED, settings=corpus.settings, sessions=sessions, params=CLUSTER_PARAMS)
    sessions.kw["bind"].dispose()
    return corpus


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, support_corpus: UiCorpus) -> UiCorpus:
    point_app_at(monkeypatch, support_corpus.data_dir, support_corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", support_corpus.name)
    return support_corpus


@pytest.fixture
def own_corpus_env(
    monkeypatch: pytest.MonkeyPatch, support_corpus: UiCorpus, tmp_path: Path
) -> UiCorpus:
    """A private copy of the corpus (database, WAL and vectors) for tests that change it."""
    corpus = UiCorpus(shutil.copytree(support_corpus.root, tmp_path / "copy"))
    point_app_at(monkeypatch, corpus.data_dir, corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", corpus.name)
    return corpus


@pytest.fixture
def empty_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> UiCorpus:
    """A fresh database with no corpus at all."""
    corpus = UiCorpus(tmp_path)
    point_app_at(monkeypatch, corpus.data_dir, corpus.database_url)
    monkeypatch.delenv("QCLUST_DEFAULT_CORPUS", raising=False)
    return corpus


@pytest.fixture
def clustered_env(monkeypatch: pytest.MonkeyPatch, clustered_corpus: UiCorpus) -> UiCorpus:
    point_app_at(monkeypatch, clustered_corpus.data_dir, clustered_corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", clustered_corpus.name)
    return clustered_corpus


@pytest.fixture
def own_clustered_env(
    monkeypatch: pytest.MonkeyPatch, clustered_corpus: UiCorpus, tmp_path: Path
) -> UiCorpus:
    """A private copy of the clustered corpus for tests that rename, ingest or re-cluster."""
    corpus = UiCorpus(shutil.copytree(clustered_corpus.root, tmp_path / "copy"), CLUSTERED)
    point_app_at(monkeypatch, corpus.data_dir, corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", corpus.name)
    return corpus


@pytest.fixture
def cli_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], CliRunner]]:
    """A Typer runner whose `qclust` commands read the given settings (through the env)."""

    def runner(settings: Settings) -> CliRunner:
        monkeypatch.setenv("QCLUST_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("QCLUST_DATABASE_URL", settings.resolved_database_url)
        monkeypatch.setenv("QCLUST_DEVICE", "cpu")
        get_settings.cache_clear()
        return CliRunner()

    yield runner
    get_settings.cache_clear()
