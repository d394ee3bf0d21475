"""Reading job logs for the API: only files under the server's logs directory, never elsewhere.

``job.log_uri`` is a row in a database that jobs (user code) and other processes can write, so
the server treats it as untrusted: a crafted ``../../etc/passwd``, an absolute path, or a log
file replaced by a symlink must not turn the logs endpoint into a file-read primitive. A log is
served only if its real path (every symlink resolved) is inside the logs directory and is a
regular file, and the check is repeated on the descriptor actually opened, so swapping a
directory for a symlink between the check and the open does not get around it. Anything else
is the same ``NotFound`` as a missing log, saying nothing about what is at that path.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool

from aiflow.deployers.logfile import _seek_last_lines
from aiflow.errors import NotFound
from aiflow.store.entities import Job
from aiflow.store.sql_store import MetaStore

_CHUNK = 64 * 1024
_READ_INTERVAL = 0.1  # s between reads of a followed log that has no new bytes
_STATUS_INTERVAL = 0.5  # s between checks whether a followed job ended or started an attempt


def open_log(job: Job, logs_dir: Path) -> BinaryIO:
    """The job's current log file opened for reading; ``NotFound`` unless it is a regular file
    inside ``logs_dir``."""
    missing = NotFound(
        f"job {job.id} has no log under the server's logs directory (status {job.status.value})"
    )
    if not job.log_uri:
        raise missing
    root = logs_dir.resolve()
    path = Path(job.log_uri.removeprefix("file://"))
    if not path.is_absolute():
        path = root / path
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise missing from None
    if not real.is_relative_to(root):
        raise missing
    try:
        # O_NOFOLLOW: the last component cannot have become a symlink since resolve();
        # O_NONBLOCK: a FIFO swapped in would otherwise block the open until a writer comes.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise missing from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _opened_inside(fd, root):
            raise missing
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _opened_inside(fd: int, root: Path) -> bool:
    """Whether the file behind ``fd`` is inside ``root``, where the OS can tell (Linux's
    ``/proc/self/fd``); elsewhere the resolve() check before the open has to do."""
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return True
    return opened.is_relative_to(root)


def position(f: BinaryIO, *, tail: int | None, offset: int | None) -> None:
    """Seek to the start of the last ``tail`` lines, or to byte ``offset``."""
    if tail is not None:
        _seek_last_lines(f, tail)
    elif offset is not None:
        f.seek(offset)


async def read_range(f: BinaryIO, end: int) -> AsyncIterator[bytes]:
    """Bytes from the current position up to ``end``; closes ``f``."""
    try:
        while (left := end - f.tell()) > 0:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                return
            yield chunk
            await asyncio.sleep(0)  # a cancellation point even when the disk is fast
    finally:
        f.close()


async def follow(
    store: MetaStore, job_id: int, f: BinaryIO | None, logs_dir: Path
) -> AsyncIterator[bytes]:
    """What the job writes from the current position of ``f`` on (``None``: the job has no log
    yet), until it ends. A retry writes a new file (one per attempt): the stream moves on to it
    from its start. Ends when the client disconnects (the server cancels the generator)."""
    job = await run_in_threadpool(store.get_job, job_id)
    uri = job.log_uri if f is not None else None
    try:
        while True:
            if f is not None:
                while chunk := f.read(_CHUNK):
                    yield chunk
            if job.status.finished:
                return
            waited = 0.0
            while waited < _STATUS_INTERVAL:
                await asyncio.sleep(_READ_INTERVAL)
                waited += _READ_INTERVAL
                if f is not None and (chunk := f.read(_CHUNK)):
                    yield chunk
            job = await run_in_threadpool(store.get_job, job_id)
            if job.log_uri and job.log_uri != uri:
                if f is not None:  # drain the previous attempt before moving on
                    while chunk := f.read(_CHUNK):
                        yield chunk
                    f.close()
                    f = None
                try:
                    f, uri = open_log(job, logs_dir), job.log_uri
                except NotFound:  # an attempt's log that may not be served: stop here
                    return
    finally:
        if f is not None:
            f.close()
