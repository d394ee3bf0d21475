"""Reading a job's log file safely: only regular files inside the logs directory, the end of
one (``tail``), a byte range of one, and, while the job runs, what it appends.

Separate from the local deployer because any deployer whose jobs write to a file this machine
can read (local processes, a YARN client-mode driver, a mounted volume) needs the same thing.

Why "safely": ``job.log_uri`` and ``job.handle`` are rows in a database that jobs (user code)
and other processes can write, and the REST API serves logs to callers who may not read
arbitrary files on the server. So a log URI is untrusted: a crafted ``../../etc/passwd``, an
absolute path, or a log file replaced by a symlink must not turn log reading into a file-read
primitive. ``open_log`` opens a log only if its real path (every symlink resolved) is inside
the logs directory (or is a log the caller itself wrote) and is a regular file, and repeats the
check on the descriptor actually opened, so swapping a directory for a symlink between the
check and the open does not get around it. Anything else is the same ``NotFound`` as a missing
log, saying nothing about what is at that path.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from aiflow.errors import InvalidInput, NotFound

from .base import LogRange

_FOLLOW_INTERVAL = 0.05
_READ_SIZE = 64 * 1024


class LogFiles:
    """The log files one deployer instance may read: regular files inside the logs directory
    (``root()``, read at each call since settings can change), and the ones it wrote itself
    wherever they are (a test's, or a driver's that was given another log path), since this
    instance chose to write them."""

    def __init__(self, root: Callable[[], Path]) -> None:
        self._root = root
        self._own: set[Path] = set()  # resolved

    def wrote(self, path: Path) -> None:
        self._own.add(path.resolve())

    def path(self, log_uri: str) -> Path:
        """The file behind a log URI; ``NotFound`` now if it is somewhere this instance may
        not read, even if it does not exist (so a follow does not wait for it)."""
        path = path_from_uri(log_uri, self._root())
        if not may_read(path, self._root(), self._own):
            raise unreadable(path, self._root())
        return path

    def lines(
        self,
        path: Path,
        *,
        follow: bool,
        tail: int | None,
        offset: int | None,
        ended: Callable[[], bool] | None,
    ) -> Iterator[str]:
        """``read_lines`` of the log from its last ``tail`` lines or byte ``offset``; opened
        now (``NotFound`` now), except when following a log that does not exist yet."""
        if tail is not None and offset is not None:
            raise InvalidInput("use either tail or offset, not both")
        if follow and not path.exists():  # the job has not written yet: wait for it, lazily
            return self._wait_and_read(path, tail, offset, ended)
        return read_lines(self._open(path, tail, offset), follow=follow, ended=ended)

    def range(
        self, path: Path, *, offset: int | None, length: int | None, tail: int | None
    ) -> LogRange:
        if tail is not None and (offset is not None or length is not None):
            raise InvalidInput("use either tail or offset/length, not both")
        f = self._open(path, None, None)
        size = os.fstat(f.fileno()).st_size
        position(f, tail=tail, offset=offset)
        start = f.tell()
        end = size if length is None else min(size, start + length)
        return LogRange(read_range(f, end), size=size, next_offset=max(start, end))

    def _open(self, path: Path, tail: int | None, offset: int | None) -> BinaryIO:
        f = open_log(path, self._root(), self._own)
        try:
            position(f, tail=tail, offset=offset)
        except BaseException:
            f.close()
            raise
        return f

    def _wait_and_read(
        self, path: Path, tail: int | None, offset: int | None, ended: Callable[[], bool] | None
    ) -> Iterator[str]:
        if wait_for(path, ended):
            yield from read_lines(self._open(path, tail, offset), follow=True, ended=ended)


def path_from_uri(log_uri: str, root: Path) -> Path:
    """The file behind a ``file://`` URI or a plain path (``job.log_uri`` is either); a
    relative path is relative to the logs directory ``root``."""
    path = Path(log_uri.removeprefix("file://"))
    return path if path.is_absolute() else root / path


def may_read(path: Path, root: Path, own: Collection[Path] = ()) -> bool:
    """Whether ``path`` (symlinks resolved as far as they exist) is inside ``root`` or is one of
    ``own`` (resolved paths of logs the caller wrote itself). A first check, before waiting for
    a log to appear; ``open_log`` checks again on what it opens."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return real.is_relative_to(root.resolve()) or real in own


def open_log(path: Path, root: Path, own: Collection[Path] = ()) -> BinaryIO:
    """``path`` opened for reading; ``NotFound`` unless it is a regular file inside ``root``
    or one of ``own`` (resolved paths of logs the caller wrote itself)."""
    missing = unreadable(path, root)
    root = root.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise missing from None
    if not (real.is_relative_to(root) or real in own):
        raise missing
    try:
        # O_NOFOLLOW: the last component cannot have become a symlink since resolve();
        # O_NONBLOCK: a FIFO swapped in would otherwise block the open until a writer comes.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise missing from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _opened(fd, root, real):
            raise missing
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def unreadable(path: Path, root: Path) -> NotFound:
    """The one error for a log that is missing or may not be read: it does not say which."""
    return NotFound(
        f"no readable log at {path}: a job's log is a regular file in the logs directory "
        f"{root}; has the job started, or was its log deleted?"
    )


def _opened(fd: int, root: Path, real: Path) -> bool:
    """Whether the file behind ``fd`` is inside ``root`` or is ``real``, where the OS can tell
    (Linux's ``/proc/self/fd``); elsewhere the resolve() check before the open has to do."""
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return True
    return opened.is_relative_to(root) or opened == real


def seek_last_lines(f: IO[bytes], lines: int) -> None:
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


def position(f: IO[bytes], *, tail: int | None, offset: int | None) -> None:
    """Seek to the start of the last ``tail`` lines, or to byte ``offset``."""
    if tail is not None:
        seek_last_lines(f, tail)
    elif offset is not None:
        f.seek(offset)


def read_range(f: BinaryIO, end: int) -> Iterator[bytes]:
    """Bytes from the current position up to ``end``, undecoded; closes ``f``."""
    try:
        while (left := end - f.tell()) > 0:
            chunk = f.read(min(_READ_SIZE, left))
            if not chunk:
                return
            yield chunk
    finally:
        f.close()


def wait_for(path: Path, ended: Callable[[], bool] | None) -> bool:
    """Wait until ``path`` exists (a job that has not written yet); False if ``ended()``
    said the wait is over first."""
    while not path.exists():
        if ended is not None and ended():
            return False
        time.sleep(_FOLLOW_INTERVAL)
    return True


def read_lines(
    f: BinaryIO, *, follow: bool = False, ended: Callable[[], bool] | None = None
) -> Iterator[str]:
    """Yield the lines of ``f`` from its position, without line endings, undecodable bytes
    replaced; closes ``f``.

    ``follow`` keeps yielding appended lines until ``ended()`` says the writer ended (forever
    without ``ended``). A last line without a newline is yielded at the end.
    """
    try:
        pending = b""
        while True:
            chunk = f.read(_READ_SIZE)
            if not chunk and follow and (ended is None or not ended()):
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
    finally:
        f.close()


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")
