"""Short encode calls from many threads, combined into one model call.

Eight searches at once are eight one-question forward passes, each paying the model's fixed
cost; one pass over the eight questions costs little more than one. A caller that finds no
call running leads: it takes every waiting request (up to a batch), encodes them together and
hands each caller its rows; if more arrived meanwhile, the first of them leads next, so no
caller waits longer than its own batch. Results are exactly those of separate calls, up to
float rounding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(eq=False)
class _Request:
    texts: Sequence[str]
    wake: threading.Event = field(default_factory=threading.Event)
    result: Vectors | None = None
    error: BaseException | None = None
    leads: bool = False


class EncodeCombiner:
    def __init__(self, encode: Callable[[list[str]], Vectors], *, max_rows: int) -> None:
        self._encode = encode
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._leading = False

    def encode(self, texts: Sequence[str]) -> Vectors:
        request = _Request(texts)
        with self._lock:
            self._waiting.append(request)
            if not self._leading:
                self._leading = request.leads = True
        while True:
            if request.leads:
                request.leads = False
                self._lead()
            request.wake.wait()
            if request.result is not None or request.error is not None:
                break
            request.wake.clear()  # woken to lead the next batch
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _lead(self) -> None:
        with self._lock:
            batch: list[_Request] = []
            rows = 0
            while self._waiting and (
                not batch or rows + len(self._waiting[0].texts) <= self._max_rows
            ):
                taken = self._waiting.pop(0)
                batch.append(taken)
                rows += len(taken.texts)
        try:
            vectors = self._encode([text for taken in batch for text in taken.texts])
            start = 0
            for taken in batch:
                taken.result = vectors[start : start + len(taken.texts)]
                start += len(taken.texts)
        except BaseException as exc:  # every caller of the batch gets the error
            for taken in batch:
                taken.error = exc
        with self._lock:
            if self._waiting:
                self._waiting[0].leads = True  # the next batch's leader
                self._waiting[0].wake.set()
            else:
                self._leading = False
        for taken in batch:
            taken.wake.set()
