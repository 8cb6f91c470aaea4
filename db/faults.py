"""Named points where the fault-injection tests stop a process, as a crash or Ctrl-C would.

`QCLUST_FAULT_AT=<point>[:<n>]` stops the process the n-th time (default: the first) it
passes `<point>`; `QCLUST_FAULT_SIGNAL` says how: `KILL` (the default), `INT` (Ctrl-C), or
`SLEEP:<seconds>` to hold the process there, alive, while a test starts another one, or
`WAIT:<path>` to hold it until the file at `path` exists (at most 5 minutes): a test that must
see a second process queue behind the first releases the first only once it has.
Unset, a fault point costs one comparison (the variable is read once per process). The points
sit between the steps whose order matters for what a crash leaves behind, so each test lands
exactly there.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

_passed: Counter[str] = Counter()
_UNREAD = "\0"
_spec = _UNREAD  # read on the first call, not at import: a forked child sets it after


def fault_point(name: str) -> None:
    global _spec
    if _spec == _UNREAD:
        _spec = os.environ.get("QCLUST_FAULT_AT", "")
    spec = _spec
    if not spec:
        return
    target, _, nth = spec.rpartition(":")
    if not nth.isdigit():
        target, nth = spec, "1"
    if target != name:
        return
    _passed[name] += 1
    if _passed[name] == int(nth or 1):  # once: a held (SLEEP) process then goes on
        how = os.environ.get("QCLUST_FAULT_SIGNAL", "KILL").upper()
        if how.startswith("SLEEP:"):
            time.sleep(float(how.partition(":")[2]))
            return
        if how.startswith("WAIT:"):
            go = os.environ["QCLUST_FAULT_SIGNAL"].partition(":")[2]  # the path as given
            deadline = time.monotonic() + 300
            while not os.path.exists(go) and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        os.kill(os.getpid(), getattr(signal, f"SIG{how}"))
