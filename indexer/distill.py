"""A static-embedding (model2vec) student of a sentence-transformers teacher, saved as an
ordinary sentence-transformers folder: any command takes it with `--model DIR`.

Distillation runs every token of the teacher's vocabulary through the teacher once, keeps a
PCA of the results (so leading dimensions carry the most variance and Matryoshka truncation
works) and weights tokens by frequency (SIF). It needs no data and no hub.
"""

from __future__ import annotations

import logging
from pathlib import Path

from indexer.encoder import Device, pick_device, resolve_model
from indexer.errors import ModelLoadError

logger = logging.getLogger(__name__)
DEFAULT_DIMS = 256


class DistillError(ModelLoadError):
    """The teacher cannot be distilled, or the output folder cannot be written."""


def distill_static(
    teacher: str, output: Path, *, dims: int = DEFAULT_DIMS, device: Device = "auto"
) -> Path:
    """Distil `teacher` (a model folder or name) into `output`; returns the folder."""
    try:
        from model2vec.distill import distill  # noqa: F401  (the optional extra is there)
    except ImportError as exc:
        raise DistillError(
            "distillation needs model2vec: pip install 'qclust[distill]' "
            "(or pip install 'model2vec[distill]')"
        ) from exc
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    if dims < 2:
        raise DistillError(f"dims must be at least 2, not {dims}")
    if output.exists() and any(output.iterdir()):
        raise DistillError(f"{output} exists and is not empty; choose a new folder")
    location, _ = resolve_model(teacher)
    if not Path(location).is_dir():
        raise DistillError(f"distillation needs the teacher on disk; '{teacher}' is not a folder")
    logger.info("distilling %s to %d dimensions", location, dims)
    static = StaticEmbedding.from_distillation(
        location,
        device=pick_device(device),
        pca_dims=dims,
    )
    student = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    output.mkdir(parents=True, exist_ok=True)
    student.save(str(output))
    return output
