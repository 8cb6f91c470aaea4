"""An int8 copy of a sentence-transformers model for the CPU: exported with `torch.onnx`,
quantised with onnxruntime's dynamic quantisation and run by onnxruntime, with the source
model's tokenizer, truncation, pooling and normalisation redone in numpy.

The folder it writes is a model like any other for `--model DIR`, under its own name in the
database: its vectors differ slightly from the source model's, so a corpus never mixes them.
It needs the `onnx` extra (onnxruntime to encode, onnx as well to quantise); optimum is not
used, as its releases pin transformers below the one sentence-transformers 6 needs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from indexer.errors import ModelLoadError

if TYPE_CHECKING:
    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.transformer import Transformer
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

ONNX_CONFIG = "qclust_onnx.json"
ONNX_FILE = "model_qint8.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1
OPSET = 17
INSTALL_HINT = "pip install 'qclust[onnx]' (or pip install onnxruntime onnx)"
Pooling = Literal["mean", "cls"]
Vectors = npt.NDArray[np.float32]


class OnnxModelError(ModelLoadError):
    """An int8 ONNX model that cannot be written or loaded; the message says why."""


def is_onnx_model(folder: str | Path) -> bool:
    return (Path(folder) / ONNX_CONFIG).is_file()


@dataclass(frozen=True)
class OnnxModelConfig:
    """What `qclust_onnx.json` records: enough to encode exactly as the source model does."""

    source: str
    dimension: int
    max_seq_length: int
    pooling: Pooling
    normalize: bool
    input_names: tuple[str, ...]
    prompts: dict[str, str] = field(default_factory=dict)
    onnx_file: str = ONNX_FILE
    quantization: str = "dynamic, QInt8 weights per channel (onnxruntime quantize_dynamic)"
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, folder: Path) -> OnnxModelConfig:
        path = folder / ONNX_CONFIG
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            config = cls(**{**raw, "input_names": tuple(raw["input_names"])})
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise OnnxModelError(f"{path} is not a valid ONNX model description: {exc}") from exc
        if config.format_version != FORMAT_VERSION or config.pooling not in get_args(Pooling):
            raise OnnxModelError(
                f"{path}: format {config.format_version} with {config.pooling} pooling is not "
                f"one this qclust reads (format {FORMAT_VERSION}); quantise the model again"
            )
        return config

    def write(self, folder: Path) -> None:
        text = json.dumps(asdict(self), indent=2) + "\n"
        (folder / ONNX_CONFIG).write_text(text, encoding="utf-8")


def available_threads() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _import_onnxruntime(purpose: str) -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxModelError(f"{purpose} needs onnxruntime: {INSTALL_HINT}") from exc
    return onnxruntime


class OnnxSentenceModel:
    """The part of `SentenceTransformer` that `Encoder` uses, on onnxruntime's CPU provider."""

    device = "cpu"

    def __init__(self, folder: str | Path, *, threads: int | None = None) -> None:
        self.folder = Path(folder)
        self.config = OnnxModelConfig.read(self.folder)
        ort = _import_onnxruntime(f"the int8 ONNX model in {self.folder}")
        self.tokenizer = self._load_tokenizer()
        self.threads = threads or available_threads()
        self.session = self._load_session(ort)

    @property
    def prompts(self) -> dict[str, str]:
        return self.config.prompts

    def get_embedding_dimension(self) -> int:
        return self.config.dimension

    def _load_tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        path = self.folder / TOKENIZER_FILE
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for any bad file
            raise OnnxModelError(f"cannot read the tokenizer {path}: {exc}") from exc
        tokenizer.enable_truncation(self.config.max_seq_length, strategy="longest_first")
        return tokenizer

    def _load_session(self, ort: Any) -> onnxruntime.InferenceSession:
        path = self.folder / self.config.onnx_file
        if not path.is_file():
            raise OnnxModelError(
                f"{path} is missing; write the model again with `qclust models quantize`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors share no base class but Exception
            raise OnnxModelError(
                f"onnxruntime cannot load {path} ({exc}); write the model again with "
                "`qclust models quantize`"
            ) from exc
        wanted = {entry.name for entry in session.get_inputs()}
        if wanted != set(self.config.input_names):
            raise OnnxModelError(
                f"{path} takes {sorted(wanted)}, but {ONNX_CONFIG} says "
                f"{sorted(self.config.input_names)}; write the model again"
            )
        return session

    def encode(
        self,
        sentences: Sequence[str],
        *,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        convert_to_numpy: bool = True,
        truncate_dim: int | None = None,
    ) -> Vectors:
        """Like `SentenceTransformer.encode`: longest first in batches, rows in input order."""
        texts = [prompt + text for text in sentences] if prompt else list(sentences)
        width = truncate_dim or self.config.dimension
        matrix = np.empty((len(texts), width), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            matrix[rows] = self.embed_batch([texts[int(row)] for row in rows])[:, :width]
        return matrix

    def embed_batch(self, texts: list[str]) -> Vectors:
        """One batch through tokenizer, network, pooling and (if the source has it) Normalize."""
        encodings = self.tokenizer.encode_batch(texts)
        length = max((len(e.ids) for e in encodings), default=0)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        types = np.zeros((len(texts), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):  # padding values never reach the pooling
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = encoding.ids, 1, encoding.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        wanted = {name: feeds[name] for name in self.config.input_names}
        tokens = np.asarray(self.session.run(None, wanted)[0], dtype=np.float32)
        return pool(tokens, mask, self.config.pooling, normalize=self.config.normalize)


def pool(
    tokens: npt.NDArray[np.float32],
    mask: npt.NDArray[np.int64],
    mode: Pooling,
    *,
    normalize: bool,
) -> Vectors:
    """sentence-transformers' Pooling (right-padded input) and Normalize modules, in numpy."""
    if mode == "cls":
        vectors = tokens[:, 0, :]
    else:
        weights = mask[:, :, None].astype(np.float32)
        counts = np.maximum(weights.sum(axis=1), 1e-9)
        vectors = (tokens * weights).sum(axis=1) / counts
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if normalize:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def quantize(source: str, output: Path) -> Path:
    """Write an int8 ONNX copy of `source` (a model folder or name) into `output`, a new or
    empty folder; a failure leaves no half-written model behind."""
    _import_onnxruntime("quantising a model")
    try:
        import onnx  # noqa: F401  (the quantiser needs it)
    except ImportError as exc:
        raise OnnxModelError(f"quantising a model needs onnx: {INSTALL_HINT}") from exc
    from indexer.encoder import load_sentence_transformer

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OnnxModelError(f"{output} exists and is not an empty folder; choose a new folder")
    st_model = load_sentence_transformer(source, device="cpu")
    config = describe(source, st_model)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = output.parent / f".{output.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()  # with the umask's permissions, which `tempfile.mkdtemp` would not give
    try:
        fp32 = work / "model_fp32.onnx"
        transformer = _transformer(source, st_model)
        export_transformer(transformer, fp32, config.input_names)
        quantize_file(fp32, work / config.onnx_file)
        fp32.unlink()
        save_tokenizer(transformer, work / TOKENIZER_FILE)
        config.write(work)
        if output.exists():
            output.rmdir()  # empty, checked above; os.replace wants it gone or empty
        os.replace(work, output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    logger.info("int8 ONNX copy of %s written to %s", source, output)
    return output


def describe(source: str, st_model: SentenceTransformer) -> OnnxModelConfig:
    """The source's tokenizer limit, pooling and normalisation; refuses what `pool` cannot redo."""
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules.pooling import (
        Pooling as PoolingModule,
    )

    modules = list(st_model)
    transformer = _transformer(source, st_model)
    pooling = modules[1] if len(modules) > 1 else None
    if (
        len(modules) not in (2, 3)
        or not isinstance(pooling, PoolingModule)
        or (len(modules) == 3 and not isinstance(modules[2], Normalize))
    ):
        kinds = " -> ".join(type(module).__name__ for module in modules)
        raise OnnxModelError(
            f"'{source}' is {kinds}; only Transformer -> Pooling [-> Normalize] models can be "
            "quantised"
        )
    mode = pooling.pooling_mode
    if mode not in get_args(Pooling) or not pooling.include_prompt:
        raise OnnxModelError(
            f"'{source}' pools with {mode!r} (include_prompt={pooling.include_prompt}); "
            f"quantising supports {', '.join(get_args(Pooling))} pooling over the whole text"
        )
    dimension = st_model.get_embedding_dimension()
    max_length = st_model.max_seq_length
    if dimension is None or max_length is None:
        raise OnnxModelError(f"'{source}' reports no embedding dimension or max_seq_length")
    tokenizer_inputs = _tokenizer(source, transformer).model_input_names
    names = tuple(
        n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer_inputs
    )
    return OnnxModelConfig(
        source=source,
        dimension=int(dimension),
        max_seq_length=int(max_length),
        pooling=cast(Pooling, mode),
        normalize=len(modules) == 3,
        input_names=names,
        prompts={k: str(v) for k, v in (getattr(st_model, "prompts", None) or {}).items()},
    )


def _transformer(source: str, st_model: SentenceTransformer) -> Transformer:
    from sentence_transformers.base.modules.transformer import Transformer

    first = st_model[0]
    if not isinstance(first, Transformer):
        raise OnnxModelError(
            f"'{source}' starts with {type(first).__name__}, not a Transformer; only "
            "transformer models can be quantised"
        )
    if getattr(first, "do_lower_case", False):
        raise OnnxModelError(f"'{source}' lowercases outside its tokenizer; not supported")
    return cast("Transformer", first)


def _tokenizer(source: str, transformer: Transformer) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    tokenizer = transformer.tokenizer
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise OnnxModelError(f"'{source}' has no fast (tokenizers) tokenizer to save")
    return tokenizer


def export_transformer(transformer: Transformer, path: Path, input_names: Sequence[str]) -> None:
    """The transformer's token embeddings as an ONNX graph with dynamic batch and length.

    The TorchScript exporter (`dynamo=False`): the dynamo one needs onnxscript, and this
    graph is what onnxruntime's quantiser and optimiser are tested on.
    """
    import torch
    from torch.jit._trace import TracerWarning

    network = transformer.auto_model
    network.eval()  # type: ignore[no-untyped-call]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            output = self.network(**dict(zip(input_names, inputs, strict=True)))
            return output.last_hidden_state  # type: ignore[no-any-return]

    sample = _tokenizer("the model", transformer)(
        ["an example question to trace", "another"], padding=True, return_tensors="pt"
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in (*input_names, "token_embeddings")}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns of branches on shapes (causal masks, cache offsets) that an encoder
        # never takes; tests check the graph against the source at other batch sizes and lengths.
        warnings.simplefilter("ignore", TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        # Deliberately the TorchScript exporter (see above); its deprecation is not news.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            TokenEmbeddings().eval(),
            tuple(sample[name] for name in input_names),
            str(path),
            input_names=list(input_names),
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def quantize_file(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: with per-tensor scales MiniLM's vectors keep a mean cosine of 0.96
    # to the source's, per channel 0.993, at about the same speed. (Weight-only MatMulNBits
    # keeps 0.9997 and is batch-independent, but runs at half this speed.)
    root = logging.getLogger()
    hint = _DropPreprocessingHint()
    root.addFilter(hint)
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(hint)


class _DropPreprocessingHint(logging.Filter):
    """The quantiser advises, on the root logger, a pre-processing step meant for static
    quantisation of image models; it only alarms someone running `qclust models quantize`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def save_tokenizer(transformer: Transformer, path: Path) -> None:
    """The tokenizer sentence-transformers runs (normaliser, special tokens included), with
    truncation and padding left to `OnnxSentenceModel`."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(_tokenizer("the model", transformer).backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(path))
