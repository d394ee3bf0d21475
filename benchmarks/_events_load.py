"""Senders and counters for ``benchmarks/events.py``.

A burst is N events sent as fast as possible by S sender *processes* (spawned, so each has its
own interpreter, connections and GIL), released together once all are ready: ``af.send_event``
(the Python API, straight to the meta store), ``Client.send_event`` (``POST /api/v1/events``)
or a raw ``INSERT`` of an event row through the store's own engine (same connection settings:
WAL and ``BEGIN IMMEDIATE`` on SQLite; no store layer, and on PostgreSQL no advisory lock that
keeps commit order equal to seq order), the floor the database itself sets.

Firings are counted from the executions the rule recorded (``trigger_event_seq``): one per
event sent, none missing, none twice.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

PATHS = ("python", "rest", "raw")


@dataclass
class Burst:
    seqs: list[int]  # the seqs of the events sent (empty for raw inserts)
    began: float  # wall clock, the first send
    ended: float  # wall clock, the last send returned

    @property
    def rate(self) -> float:
        return len(self.seqs) / (self.ended - self.began)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def burst(path: str, n: int, senders: int, *, key: str, uri: str, base: str, token: str) -> Burst:
    """Send ``n`` events (value ``<path>-<sender>-<i>``) over ``senders`` processes."""
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(senders + 1)
    results: Any = ctx.Queue()
    share = [n // senders + (1 if i < n % senders else 0) for i in range(senders)]
    procs = [
        ctx.Process(target=_sender, args=(path, i, count, key, uri, base, token, ready, results))
        for i, count in enumerate(share)
    ]
    for proc in procs:
        proc.start()
    ready.wait(timeout=120)  # all set up (imports, connections): go
    parts = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
    errors = [p for p in parts if isinstance(p, str)]
    if errors:
        raise RuntimeError(f"{path} sender failed: {errors[0]}")
    seqs = [seq for part in parts for seq in part[0]]
    return Burst(seqs, min(p[1] for p in parts), max(p[2] for p in parts))


def _sender(
    path: str,
    index: int,
    count: int,
    key: str,
    uri: str,
    base: str,
    token: str,
    ready: Any,
    results: Any,
) -> None:
    try:
        send = _send_function(path, key, uri, base, token)  # connected: then the clock starts
        ready.wait(timeout=120)
        began = time.time()
        seqs = [send(f"{path}-{index}-{i}") for i in range(count)]
        results.put((seqs if path != "raw" else [], began, time.time()))
    except BaseException as exc:  # reported by the parent, which would wait for us otherwise
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def _send_function(path: str, key: str, uri: str, base: str, token: str) -> Any:
    if path == "python":
        import aiflow as af

        af.send_event(f"{key}-warm", "warm")  # opens the store once (schema check, pool)
        return lambda value: af.send_event(key, value).seq
    if path == "rest":
        from aiflow.client import Client

        client = Client(base, token)
        client.send_event(f"{key}-warm", "warm")
        return lambda value: client.send_event(key, value).seq
    from aiflow.store import db
    from aiflow.store.orm import SqlEvent, utcnow

    engine = db.get_engine(uri)
    stmt = insert(SqlEvent)

    def raw(value: str) -> int:
        with engine.begin() as conn:
            conn.execute(stmt, {"key": key, "type": "user", "value": value, "created_at": utcnow()})
        return 0

    raw("warm")
    return raw


def fired(uri: str, trigger_id: int, seqs: list[int]) -> dict[int, tuple[int, int, datetime]]:
    """For each of ``seqs`` the rule fired on: (times fired, first execution id, when)."""
    from aiflow.store import db
    from aiflow.store.orm import SqlExecution

    stmt = (
        select(
            SqlExecution.trigger_event_seq,
            func.count(),
            func.min(SqlExecution.id),
            func.min(SqlExecution.created_at),
        )
        .where(
            SqlExecution.trigger_id == trigger_id,
            SqlExecution.trigger_event_seq >= min(seqs),
            SqlExecution.trigger_event_seq <= max(seqs),
        )
        .group_by(SqlExecution.trigger_event_seq)
    )
    with db.session_scope(db.get_engine(uri), write=False) as session:
        rows = session.execute(stmt).all()
    wanted = set(seqs)
    return {seq: (count, id, at) for seq, count, id, at in rows if seq in wanted}


def tally(seqs: list[int], fires: dict[int, tuple[int, int, datetime]]) -> tuple[int, int]:
    """(lost, duplicated): events sent that never fired the rule, extra fires of one event."""
    lost = sum(1 for seq in seqs if seq not in fires)
    duplicated = sum(count - 1 for count, _, _ in fires.values())
    return lost, duplicated


def wait_drained(
    uri: str, rule: str, seqs: list[int], *, settle: float, stall: float = 60.0
) -> dict[int, tuple[int, int, datetime]]:
    """Wait until the rule's cursor is past every seq (or no progress for ``stall`` s), then
    one more ``settle`` (a pass): a duplicate fire would show by then."""
    from aiflow.store.sql_store import MetaStore

    store = MetaStore(uri)
    last, progressed = -1, time.monotonic()
    while time.monotonic() - progressed < stall:
        cursor = store.get_trigger(rule).event_cursor or 0
        if cursor >= max(seqs):
            break
        if cursor != last:
            last, progressed = cursor, time.monotonic()
        time.sleep(0.05)
    time.sleep(settle)
    return fired(uri, store.get_trigger(rule).id, seqs)
