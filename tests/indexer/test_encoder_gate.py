"""Many threads on one model: short calls go before a big batch's next chunk, chunks of long
text are smaller, and a batch encoded in chunks equals the batch encoded at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from indexer.encode_combiner import EncodeCombiner
from indexer.encoder import CHARS_PER_ROW, Encoder
from indexer.encoder_gate import EncoderGate


def test_a_waiting_short_call_goes_before_a_waiting_long_one() -> None:
    gate = EncoderGate()
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with gate.turn(short=False):
            holding.set()
            release.wait(10)
            order.append("first")

    def waiting(name: str, *, short: bool, queued: threading.Event) -> None:
        queued.set()
        with gate.turn(short=short):
            order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(10)
    long_queued, short_queued = threading.Event(), threading.Event()
    threads.append(threading.Thread(target=waiting, args=("long",), kwargs={"short": False,
                                    "queued": long_queued}))  # fmt: skip
    threads[-1].start()
    assert long_queued.wait(10)
    threads.append(threading.Thread(target=waiting, args=("short",), kwargs={"short": True,
                                    "queued": short_queued}))  # fmt: skip
    threads[-1].start()
    assert short_queued.wait(10)
    # Both wait on the gate's condition (or are about to): give them the turn.
    while gate._short_waiting == 0:  # the short caller has registered itself
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "short", "long"]


def test_long_texts_get_smaller_chunks(default_encoder: Encoder) -> None:
    texts = ["short question"] * 100 + ["word " * 400] * 10
    order = np.argsort([-len(t) for t in texts], kind="stable")
    chunks = default_encoder._chunks(order, texts)
    assert sorted(int(row) for chunk in chunks for row in chunk) == list(range(len(texts)))
    budget = default_encoder.batch_size * CHARS_PER_ROW
    long_chunks = [chunk for chunk in chunks if all(len(texts[int(r)]) > 1000 for r in chunk)]
    assert long_chunks
    assert all(len(chunk) <= budget // 2000 for chunk in long_chunks)
    assert all(len(chunk) == 1 or sum(min(len(texts[int(r)]), 2000) for r in chunk) <= budget
               for chunk in chunks)  # fmt: skip
    assert max(len(chunk) for chunk in chunks) == default_encoder.batch_size  # short ones: full


def test_chunked_batches_equal_one_by_one(default_encoder: Encoder) -> None:
    texts = [f"question number {n} about {'refunds ' * (n % 7)}" for n in range(150)]
    together = default_encoder.encode(texts)  # more than a batch: chunked under the gate
    alone = np.vstack([default_encoder.encode([text]) for text in texts[::15]])
    np.testing.assert_allclose(together[::15], alone, atol=1e-5)


def test_threads_share_one_model(default_encoder: Encoder) -> None:
    expected = default_encoder.encode(["How do I reset my password?"])
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(default_encoder.encode(["How do I reset my password?"]))
        except BaseException as exc:  # a tokenizer used by two threads at once raises
            errors.append(exc)

    big = threading.Thread(target=default_encoder.encode, args=(["refund " * 50] * 200,))
    threads = [big, *(threading.Thread(target=work) for _ in range(4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert len(results) == 20
    for vector in results:
        np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_waiting_short_calls_are_combined_and_each_gets_its_own_rows() -> None:
    calls: list[list[str]] = []
    first_running, release = threading.Event(), threading.Event()

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        if len(calls) == 1:  # hold the first call so that the others queue behind it
            first_running.set()
            release.wait(10)
        return np.array([[float(len(text)), float(text.count("a"))] for text in texts])

    combiner = EncodeCombiner(encode, max_rows=4)
    results: dict[str, np.ndarray] = {}

    def ask(texts: list[str]) -> None:
        results[texts[0]] = combiner.encode(texts)

    leader = threading.Thread(target=ask, args=(["first"],))
    leader.start()
    assert first_running.wait(10)
    askers = [["a"], ["aa", "aaa"], ["bbbb"], ["aaaaa"]]
    threads = [threading.Thread(target=ask, args=(texts,)) for texts in askers]
    for thread in threads:
        thread.start()
    while len(combiner._waiting) < len(askers):  # all four queued behind the held call
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *threads]:
        thread.join(10)
    assert calls[0] == ["first"]
    assert sorted(len(call) for call in calls[1:]) == [1, 4]  # 5 rows, batches of at most 4
    for texts in [["first"], *askers]:
        expected = np.array([[float(len(t)), float(t.count("a"))] for t in texts])
        np.testing.assert_array_equal(results[texts[0]], expected)


def test_an_error_reaches_every_caller_of_its_batch() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model broke")

    combiner = EncodeCombiner(encode, max_rows=8)
    with pytest.raises(RuntimeError, match="model broke"):
        combiner.encode(["x"])
    assert not combiner._leading  # the next caller leads again
