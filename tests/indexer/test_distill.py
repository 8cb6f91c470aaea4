"""Distillation for real, on the tiny BERT from conftest (its vocabulary distils in seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.distill import DistillError, distill_static
from indexer.encoder import Encoder, EncoderSpec


def test_the_student_loads_like_any_model_and_follows_its_teacher(
    tiny_bert: Path, tmp_path: Path
) -> None:
    student_dir = distill_static(str(tiny_bert), tmp_path / "student", dims=16, device="cpu")
    student = Encoder(EncoderSpec(model=str(student_dir)), device="cpu")
    teacher = Encoder(EncoderSpec(model=str(tiny_bert)), device="cpu")
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


def test_a_used_folder_or_a_missing_teacher_is_refused(tiny_bert: Path, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file.txt").write_text("keep me")
    with pytest.raises(DistillError, match="not empty"):
        distill_static(str(tiny_bert), tmp_path / "used")
    assert (tmp_path / "used" / "file.txt").read_text() == "keep me"
    with pytest.raises(Exception, match="no model folder"):
        distill_static(str(tmp_path / "nowhere"), tmp_path / "out")
