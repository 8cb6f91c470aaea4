"""One model, many threads: encode calls take turns, and a short call never waits for a big one.

A model's tokenizer is not safe to call from two threads at once, and two forward passes at
once only share the same cores; so calls take turns. A big batch is encoded one batch-sized
chunk per turn, and a waiting short call (one chunk or less) goes before the big batch's next
chunk: a 1,000-question upload delays a search by one chunk, not by the whole upload. At most
`max_big` big batches run at once; the rest queue (the bounded pool).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class EncoderGate:
    def __init__(self, *, max_big: int = 1) -> None:
        self._turns = threading.Condition()
        self._busy = False
        self._short_waiting = 0
        self._big = threading.BoundedSemaphore(max_big)

    @contextmanager
    def turn(self, *, short: bool) -> Iterator[None]:
        """Hold the model for one chunk; short turns go before waiting long ones."""
        with self._turns:
            if short:
                self._short_waiting += 1
            try:
                while self._busy or (not short and self._short_waiting):
                    self._turns.wait()
            finally:
                if short:
                    self._short_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._turns:
                self._busy = False
                self._turns.notify_all()

    @contextmanager
    def big_batch(self) -> Iterator[None]:
        """A place in the bounded pool of big batches."""
        with self._big:
            yield
