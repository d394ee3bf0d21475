"""Streaming a followed job log to an HTTP client without tying up the server's threads.

Reading is not done here: ``aiflow.scheduler.logs`` reads through the job's deployer, which
decides what may be read (for local jobs: only regular files inside the logs directory).

Following is a blocking iterator (a deployer sleeps between reads of a log that has not grown).
Iterated in Starlette's thread pool, each follower would hold one of its threads for as long as
its job runs, and a few dozen followers would starve every synchronous route. So each follower
gets a thread of its own that pumps lines into a bounded queue, and the response drains that
queue from the event loop. When the client goes away the response's generator is closed, which
tells the reader (through ``stop``) to end within one status interval of the job row.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator

_POLL = 0.05  # s between looks at the queue when it was empty
_QUEUE = 1024  # lines buffered for a slow client before the reader waits
_PUT_TIMEOUT = 0.5  # s the reader waits on a full queue before checking the client is still there
_END = object()


class Follower:
    """One followed log: ``stop`` is what ``job_logs(..., stop=)`` checks."""

    def __init__(self) -> None:
        self._gone = threading.Event()

    def stop(self) -> bool:
        return self._gone.is_set()

    async def stream(self, lines: Iterator[str]) -> AsyncIterator[bytes]:
        """``lines`` as UTF-8 text, one per line, batched as they arrive."""
        pending: queue.Queue[object] = queue.Queue(maxsize=_QUEUE)
        threading.Thread(
            target=self._pump, args=(lines, pending), name="aiflow-log-follower", daemon=True
        ).start()
        try:
            while True:
                items = _drain(pending)
                if not items:
                    await asyncio.sleep(_POLL)
                    continue
                data = [item for item in items if isinstance(item, bytes)]
                if data:
                    yield b"".join(data)
                last = items[-1]
                if last is _END:
                    return
                if isinstance(last, BaseException):
                    raise last
        finally:
            self._gone.set()

    def _pump(self, lines: Iterator[str], pending: queue.Queue[object]) -> None:
        try:
            for line in lines:
                if not self._put(pending, f"{line}\n".encode()):
                    return
            self._put(pending, _END)
        except Exception as exc:  # reaches the response, which then aborts
            self._put(pending, exc)
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()

    def _put(self, pending: queue.Queue[object], item: object) -> bool:
        while not self._gone.is_set():
            try:
                pending.put(item, timeout=_PUT_TIMEOUT)
                return True
            except queue.Full:
                continue
        return False


def _drain(pending: queue.Queue[object]) -> list[object]:
    """What the queue holds now, up to and including an end marker or error."""
    items: list[object] = []
    while True:
        try:
            item = pending.get_nowait()
        except queue.Empty:
            return items
        items.append(item)
        if not isinstance(item, bytes):
            return items
