"""Pausing Python's cyclic garbage collector while a whole plan is processed at once.

Validating, translating and recording a 100,000-node plan allocates millions of small
containers that all stay alive until the pass ends. CPython runs a full collection each time
the long-lived objects grew by a quarter, and each one walks every live object: a third of the
CPU time of a 100,000-node submission was such walks, which found nothing to free. Reference
counting still frees everything as usual meanwhile; only cycles wait for the next collection.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is re-enabled after it if it was
    enabled before (nested or concurrent blocks leave it to the outermost one)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class FreezeAsItGrows:
    """Keeps the collector from walking a plan under construction again and again: every
    ``step`` nodes, ``gc.freeze()`` sets what exists aside (the nodes so far), so collections
    walk only what came since; ``release`` hands it all back to the collector at the end.

    Used by ``af.workflow`` for big plans only (nothing happens below ``step`` nodes). The
    price: a reference cycle already garbage at a freeze is freed at ``release`` instead of
    earlier. Left alone when something else froze objects (a fork server keeps its imports
    frozen so that forked children do not copy them) or disabled the collector."""

    def __init__(self, step: int = 5_000) -> None:
        self.step = step
        self._next = step
        self._froze = False

    def grown(self, size: int) -> None:
        """Call as the plan grows; ``size`` is its number of nodes."""
        if size < self._next:
            return
        self._next = size + self.step
        if not self._froze and (gc.get_freeze_count() or not gc.isenabled()):
            self._next = sys.maxsize  # the collector is someone else's to manage
            return
        gc.freeze()
        self._froze = True

    def release(self) -> None:
        if self._froze:
            gc.unfreeze()
            self._froze = False
