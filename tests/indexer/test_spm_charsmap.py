"""A compiled charsmap, read back by tokenizers' own `Precompiled` normalizer."""

from __future__ import annotations

import random

from tokenizers import normalizers

from indexer.spm_charsmap import build_precompiled_charsmap

TABLE = {
    ord("Ａ"): "A",  # full width
    ord("ﬁ"): "fi",  # one codepoint to two
    ord("①"): "1",
    0x00A0: " ",  # no-break space
    0x200B: "",  # zero-width space: removed
    ord("ｶ"): "カ",  # half-width kana
    0x1D400: "A",  # four UTF-8 bytes
}


def _normalize(table: dict[int, str], text: str) -> str:
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    return str(normalizer.normalize_str(text))


def test_each_rule_fires_and_everything_else_is_kept() -> None:
    assert _normalize(TABLE, "Ａﬁ① x\u00a0y\u200bz ｶ 𝐀 B é") == "Afi1 x yz カ A B é"


def test_a_large_random_table_round_trips() -> None:
    rng = random.Random(0)
    codepoints = rng.sample([c for c in range(1, 0x30000) if not 0xD800 <= c <= 0xDFFF], 6000)
    table = {
        c: "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(3)))
        for c in codepoints
    }
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    probes = codepoints + rng.sample(range(1, 0xD800), 3000)
    assert [normalizer.normalize_str(chr(c)) for c in probes] == [
        table.get(c, chr(c)) for c in probes
    ]


def test_an_empty_table_changes_nothing() -> None:
    assert _normalize({}, "anything at all") == "anything at all"
