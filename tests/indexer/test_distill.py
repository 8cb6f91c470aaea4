"""Distillation for real, on a tiny BERT built here (a 300-token vocabulary distils in seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.distill import DistillError, distill_static
from indexer.encoder import Encoder, EncoderSpec

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


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
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


def test_the_student_loads_like_any_model_and_follows_its_teacher(
    tiny_teacher: Path, tmp_path: Path
) -> None:
    student_dir = distill_static(str(tiny_teacher), tmp_path / "student", dims=16, device="cpu")
    student = Encoder(EncoderSpec(model=str(student_dir)), device="cpu")
    teacher = Encoder(EncoderSpec(model=str(tiny_teacher)), device="cpu")
    assert student.dimension == 16
    texts = ["reset my password", "forgot password", "cancel subscription", "dark mode app"]
    vectors = student.encode(texts)
    assert vectors.shape == (4, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The student keeps the teacher's sense of which texts are alike.
    teacher_sims = (teacher.encode(texts) @ teacher.encode(texts).T)[np.triu_indices(4, 1)]
    student_sims = (vectors @ vectors.T)[np.triu_indices(4, 1)]
    assert np.corrcoef(teacher_sims, student_sims)[0, 1] > 0.5

    truncated = Encoder(EncoderSpec(model=str(student_dir), truncate_dim=8), device="cpu")
    assert truncated.encode(texts).shape == (4, 8)


def test_a_used_folder_or_a_missing_teacher_is_refused(tiny_teacher: Path, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file.txt").write_text("keep me")
    with pytest.raises(DistillError, match="not empty"):
        distill_static(str(tiny_teacher), tmp_path / "used")
    assert (tmp_path / "used" / "file.txt").read_text() == "keep me"
    with pytest.raises(Exception, match="no model folder"):
        distill_static(str(tmp_path / "nowhere"), tmp_path / "out")
