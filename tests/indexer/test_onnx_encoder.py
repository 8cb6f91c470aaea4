"""The int8 ONNX copy of the packaged default model, quantised for real and loaded the way
ingest and search load a model, checked against the model itself."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.encoder import Encoder, EncoderSpec
from indexer.errors import ModelLoadError
from indexer.onnx_encoder import (
    ONNX_CONFIG,
    ONNX_FILE,
    OnnxModelConfig,
    OnnxModelError,
    OnnxSentenceModel,
    available_threads,
    quantize,
)

TEXTS = [
    "How do I reset my password?",
    "I forgot my password, how can I change it?",
    "Can I get a refund for my yearly plan?",
    "Why was my card declined?",
    "Is there a dark mode in the app?",
    "How to export all my data as CSV",
    "a",
    "   leading and trailing spaces   ",
    "Ünïcödé, emoji 🙂 and 中文 characters",
]
# Measured on 2,000 STS-B and Quora sentences (bench/onnx_encode.py): mean cosine to the source
# 0.993, 1st percentile 0.985, least 0.977. The margins leave room for other CPUs' int8 kernels.
LEAST_COSINE = 0.95
MEAN_COSINE = 0.98


def _need_onnxruntime() -> None:
    pytest.importorskip(
        "onnxruntime", reason="onnxruntime is not installed (pip install 'qclust[onnx]')",
        exc_type=ImportError,
    )  # fmt: skip
    pytest.importorskip("onnx", reason="onnx is not installed (pip install 'qclust[onnx]')")


@pytest.fixture(scope="module")
def minilm_int8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 from its PyPI package, quantised once for this file (about 15 s)."""
    _need_onnxruntime()
    return quantize("all-MiniLM-L6-v2", tmp_path_factory.mktemp("onnx") / "minilm-int8")


@pytest.fixture
def int8_copy(minilm_int8: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(minilm_int8, tmp_path / "copy"))


def test_the_int8_model_loads_like_any_model_and_follows_its_source(
    minilm_int8: Path, default_encoder: Encoder
) -> None:
    int8 = Encoder.for_new_corpus(str(minilm_int8), device="cpu")
    assert int8.spec.model == str(minilm_int8)  # its own identity in the database
    assert (int8.dimension, int8.device, int8.spec.prompt) == (384, "cpu", None)
    vectors = int8.encode(TEXTS)
    source = default_encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * source, axis=1)
    assert cosines.min() >= LEAST_COSINE
    assert cosines.mean() >= MEAN_COSINE
    # Which texts are alike survives quantisation: the two password questions stay nearest.
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    assert int(similarity[0].argmax()) == 1
    # Activations are quantised with one scale per batch, so a text's vector depends a little on
    # its batch (measured: mean cosine 0.992, least 0.983 between a text alone and in a batch).
    alone = np.vstack([int8.encode_one(text) for text in TEXTS])
    assert np.sum(alone * vectors, axis=1).min() >= LEAST_COSINE


def test_the_tokenizer_truncates_and_pads_as_the_source_does(
    minilm_int8: Path, default_encoder: Encoder
) -> None:
    model = OnnxSentenceModel(minilm_int8)
    assert model.config.max_seq_length == default_encoder.model.max_seq_length == 256
    long_text = " ".join(["password reset question"] * 200)
    texts = [*TEXTS, long_text]
    expected = default_encoder.model.preprocess(texts)["input_ids"].tolist()
    got = [encoding.ids for encoding in model.tokenizer.encode_batch(texts)]
    assert [row[: len(ids)] for row, ids in zip(expected, got, strict=True)] == got
    assert [sum(1 for t in row if t != 0) for row in expected] == [len(ids) for ids in got]
    assert len(got[-1]) == 256
    saved = json.loads((minilm_int8 / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["truncation"] is None  # the folder's max_seq_length sets the limit, once
    long_cosine = float(model.encode([long_text])[0] @ default_encoder.encode([long_text])[0])
    assert long_cosine >= LEAST_COSINE


def test_the_export_alone_matches_the_source_exactly(
    default_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without quantisation (float32 weights kept), tokenizer, graph, pooling and normalisation
    redo the source model to float precision: what the int8 model loses is quantisation only."""
    _need_onnxruntime()
    monkeypatch.setattr("indexer.onnx_encoder.quantize_file", shutil.copyfile)
    folder = quantize("all-MiniLM-L6-v2", tmp_path / "fp32")
    exact = Encoder(EncoderSpec(model=str(folder)), device="cpu", batch_size=4)
    assert np.allclose(exact.encode(TEXTS), default_encoder.encode(TEXTS), atol=1e-5)
    # Padding beside a text 256 tokens long changes nothing: the mask reaches every layer.
    texts = [*TEXTS, " ".join(["password reset question"] * 200)]
    batch = OnnxSentenceModel(folder).encode(texts, batch_size=len(texts))
    alone = np.vstack([OnnxSentenceModel(folder).encode([text]) for text in texts[-2:]])
    assert np.allclose(batch[-2:], alone, atol=1e-5)


def test_truncate_dim_and_threads(minilm_int8: Path) -> None:
    truncated = Encoder(EncoderSpec(model=str(minilm_int8), truncate_dim=128), device="cpu")
    vectors = truncated.encode(TEXTS[:3])
    assert vectors.shape == (3, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert OnnxSentenceModel(minilm_int8).threads == available_threads()
    assert OnnxSentenceModel(minilm_int8, threads=1).threads == 1


def test_an_int8_model_is_for_encoding_not_training(minilm_int8: Path) -> None:
    encoder = Encoder(EncoderSpec(model=str(minilm_int8)), device="cpu")
    with pytest.raises(ModelLoadError, match="for encoding only; train its source model"):
        _ = encoder.model


def test_a_missing_or_broken_onnx_file_says_what_to_do(int8_copy: Path) -> None:
    spec = EncoderSpec(model=str(int8_copy))
    (int8_copy / ONNX_FILE).write_bytes(b"not an onnx graph")
    with pytest.raises(OnnxModelError, match="onnxruntime cannot load .*qclust models quantize"):
        Encoder(spec, device="cpu")
    (int8_copy / ONNX_FILE).unlink()
    with pytest.raises(OnnxModelError, match=f"{ONNX_FILE} is missing; write the model again"):
        Encoder(spec, device="cpu")
    (int8_copy / ONNX_CONFIG).write_text("{not json")
    with pytest.raises(OnnxModelError, match="not a valid ONNX model description"):
        Encoder(spec, device="cpu")


def test_a_used_output_folder_or_an_unsupported_model_is_refused(
    tmp_path: Path, tiny_bert: Path
) -> None:
    _need_onnxruntime()
    used = tmp_path / "used"
    used.mkdir()
    (used / "file.txt").write_text("keep me")
    with pytest.raises(OnnxModelError, match="not an empty folder"):
        quantize("all-MiniLM-L6-v2", used)
    assert (used / "file.txt").read_text() == "keep me"
    with pytest.raises(ModelLoadError, match="no model folder"):
        quantize(str(tmp_path / "nowhere"), tmp_path / "out")
    from indexer.distill import distill_static

    pytest.importorskip("model2vec", reason="model2vec is not installed (the distill extra)")
    static = distill_static(str(tiny_bert), tmp_path / "static", dims=8, device="cpu")
    with pytest.raises(OnnxModelError, match="not a Transformer"):
        quantize(str(static), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_without_onnxruntime_both_ways_say_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "int8"
    folder.mkdir()
    OnnxModelConfig(
        source="all-MiniLM-L6-v2", dimension=384, max_seq_length=256, pooling="mean",
        normalize=True, input_names=("input_ids", "attention_mask", "token_type_ids"),
    ).write(folder)  # fmt: skip
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(OnnxModelError, match=r"needs onnxruntime: pip install 'qclust\[onnx\]'"):
        Encoder(EncoderSpec(model=str(folder)), device="cpu")
    from typer.testing import CliRunner

    from app.cli import app

    result = CliRunner().invoke(app, ["models", "quantize", str(tmp_path / "out")])
    assert isinstance(result.exception, OnnxModelError)
    assert "pip install 'qclust[onnx]'" in str(result.exception)
    assert not (tmp_path / "out").exists()
