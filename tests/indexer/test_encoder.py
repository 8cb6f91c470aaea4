"""Every architecture of our reference models loads and encodes through the one wrapper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import (
    LSTM,
    Normalize,
    Pooling,
    StaticEmbedding,
    WordEmbeddings,
)
from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer
from tokenizers import Tokenizer

from indexer.encoder import (
    Encoder,
    EncoderSpec,
    packaged_default_model,
    resolve_model,
)
from indexer.errors import ModelLoadError

SENTENCES = [
    "How do I reset my password?",
    "I forgot my password, how can I get a new one?",
    "When will my parcel arrive?",
]


def _unit_rows(matrix: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5))


def test_default_model_loads_offline_from_its_package(default_encoder: Encoder) -> None:
    location, local = resolve_model("all-MiniLM-L6-v2")
    assert local
    assert Path(location) == packaged_default_model()
    vectors = default_encoder.encode(SENTENCES)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert _unit_rows(vectors)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6 > similarity[0, 2]  # paraphrases are close, topics are not


def test_the_suites_remembering_encoder_gives_the_models_vectors(default_encoder: Encoder) -> None:
    """The tests' default encoder skips the model for batches it has encoded before; what it
    returns must be exactly what the model gives, whatever was encoded before it."""
    plain = Encoder(default_encoder.spec, model=default_encoder._model)
    texts = [*SENTENCES, SENTENCES[0], "a text not seen before", SENTENCES[2]]
    many = [f"question number {i}" for i in range(150)] + texts  # past one batch
    for batch in (SENTENCES, texts, many, texts, many):  # repeats come from what it kept
        np.testing.assert_array_equal(default_encoder.encode(batch), plain.encode(batch))
    kept = default_encoder.encode(texts)
    kept[:] = 0  # a caller writing into its vectors does not change what is kept
    np.testing.assert_array_equal(default_encoder.encode(texts), plain.encode(texts))


def test_matryoshka_truncation_renormalises_the_prefix(default_encoder: Encoder) -> None:
    truncated = Encoder(EncoderSpec("all-MiniLM-L6-v2", truncate_dim=64), device="cpu")
    short = truncated.encode(SENTENCES)
    full = default_encoder.encode(SENTENCES)[:, :64]
    assert short.shape == (3, 64)
    assert truncated.dimension == 64
    np.testing.assert_allclose(short, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)


def test_static_embedding_model_round_trips(tmp_path: Path) -> None:
    tokenizer = Tokenizer.from_file(str(packaged_default_model() / "tokenizer.json"))
    weights = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), 128))
    static = StaticEmbedding(tokenizer, embedding_weights=weights.astype(np.float32))
    built = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    built.save(str(tmp_path / "static"))

    encoder = Encoder(EncoderSpec(str(tmp_path / "static"), truncate_dim=32), device="cpu")
    vectors = encoder.encode(SENTENCES)
    expected = built.encode(SENTENCES, convert_to_numpy=True)[:, :32]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_word_embeddings_bilstm_mean_pooling_round_trips(tmp_path: Path) -> None:
    vocab = sorted({w.strip("?,").lower() for s in SENTENCES for w in s.split()})
    rng = np.random.default_rng(1)
    words = WordEmbeddings(
        WhitespaceTokenizer(vocab, stop_words=[], do_lower_case=True),
        rng.normal(size=(len(vocab), 24)).astype(np.float32),
    )
    lstm = LSTM(embedding_dimension=24, hidden_dim=16, bidirectional=True)
    pooling = Pooling(lstm.get_embedding_dimension(), pooling_mode="mean")
    built = SentenceTransformer(modules=[words, lstm, pooling], device="cpu")
    built.save(str(tmp_path / "glove-lstm"))

    encoder = Encoder(EncoderSpec(str(tmp_path / "glove-lstm")), device="cpu")
    vectors = encoder.encode(SENTENCES)
    expected = built.encode(SENTENCES, convert_to_numpy=True)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_e5_models_get_the_query_prompt(tmp_path: Path, default_encoder: Encoder) -> None:
    """A model named like e5 is given "query: ", and that prompt changes the vectors."""
    folder = tmp_path / "my-e5-small"
    default_encoder.model.save(str(folder))
    encoder = Encoder.for_new_corpus(str(folder), device="cpu")
    assert encoder.spec.prompt == "query: "
    with_prompt = encoder.encode(SENTENCES[:1])
    without = default_encoder.encode(SENTENCES[:1])
    assert not np.allclose(with_prompt, without, atol=1e-3)
    np.testing.assert_allclose(with_prompt, default_encoder.encode(["query: " + SENTENCES[0]]))


def test_bad_model_locations_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model folder"):
        resolve_model(str(tmp_path / "missing-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model"):
        resolve_model(str(tmp_path / "empty"))
    assert resolve_model("intfloat/multilingual-e5-small") == (
        "intfloat/multilingual-e5-small",
        False,
    )


def test_empty_input_gives_an_empty_matrix(default_encoder: Encoder) -> None:
    assert default_encoder.encode([]).shape == (0, 384)


def test_only_harmless_load_reports_are_silenced() -> None:
    import logging

    from indexer.encoder import _HarmlessLoadReport

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("transformers", logging.WARNING, "", 0, message, None, None)

    quiet = _HarmlessLoadReport()
    assert not quiet.filter(record("BertModel LOAD REPORT\nposition_ids | UNEXPECTED"))
    assert quiet.filter(record("BertModel LOAD REPORT\nencoder.layer.0 | MISSING"))
    assert quiet.filter(record("something else entirely"))
