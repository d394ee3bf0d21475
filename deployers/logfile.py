"""Reading a job's log file: the end of it (``tail``) and, while the job runs, what it appends.

Separate from the local deployer because any deployer whose jobs write to a file this machine
can read (local processes, a YARN client-mode driver, a mounted volume) needs the same thing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_FOLLOW_INTERVAL = 0.05
_READ_SIZE = 64 * 1024


def path_from_uri(log_uri: str) -> Path:
    """The file behind a ``file://`` URI or a plain path (``job.log_uri`` is either)."""
    return Path(log_uri.removeprefix("file://"))


def read_lines(
    path: Path,
    *,
    follow: bool = False,
    tail: int | None = None,
    running: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Yield the lines of ``path`` without line endings, undecodable bytes replaced.

    ``tail`` starts at the last ``tail`` lines. ``follow`` then keeps yielding appended lines
    until ``running()`` says the writer ended (forever without ``running``); a missing file is
    waited for in that case. A last line without a newline is yielded at the end.
    """
    while not path.exists():  # only reached when following: the job has not written yet
        if running is not None and not running():
            return
        time.sleep(_FOLLOW_INTERVAL)
    with open(path, "rb") as f:
        if tail is not None:
            _seek_last_lines(f, tail)
        pending = b""
        while True:
            chunk = f.read(_READ_SIZE)
            if not chunk and follow and (running is None or running()):
                time.sleep(_FOLLOW_INTERVAL)
                continue
            if not chunk and follow:
                # The writer ended: what it wrote is on disk now, so one more pass drains it.
                chunk = f.read()
                follow = False
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            yield from (_decode(line) for line in lines)
        if pending:
            yield _decode(pending)


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")


def _seek_last_lines(f: IO[bytes], lines: int) -> None:
    """Position ``f`` at the start of its last ``lines`` lines, reading backwards in blocks so a
    large log is not read whole to show its end."""
    end = f.seek(0, os.SEEK_END)
    if lines <= 0 or end == 0:
        return
    f.seek(end - 1)
    pos = end - 1 if f.read(1) == b"\n" else end  # a final newline ends a line, starts none
    found = 0
    while pos > 0:
        size = min(_READ_SIZE, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            found += 1
            if found == lines:
                f.seek(pos + idx + 1)
                return
    f.seek(0)
