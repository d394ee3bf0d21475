"""``stream_latency.py``'s two ends of a stream: a paced producer and a watcher of the sink.

* ``Producer``: a thread writing one record at a time into a stream source -- a small csv file
  per record (``FileSource``: written under a dot-name, then renamed into the watched
  directory, so the source never sees half a file) or a Kafka message per record
  (``KafkaSource``: JSON, acks=all, no linger). It stamps the produced time of every record id.
  It produces warm-up records (one a second) until ``measure`` is set, then ``records``
  records at ``rate`` per second on a fixed schedule (a late record does not push the next).
* Watchers: a thread noting when each record id is first seen in the sink -- new part files
  in an output directory (``DirectoryWatcher``; parts are written atomically, so a part seen
  is whole) or the records of a topic as a ``read_committed`` consumer sees them
  (``TopicWatcher``: what an exactly-once sink has committed). Every copy of an id is counted,
  so duplicates show.

``Ledger`` holds both sides' stamps (wall-clock seconds: the job's transformer stamps
``processed_at`` with the same clock in its own process).
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

WARMUP_RATE = 1.0  # records per second until the first output appears


@dataclass
class Ledger:
    produced: dict[int, float] = field(default_factory=dict)  # rid -> produced (wall clock)
    acked: dict[int, float] = field(default_factory=dict)  # Kafka: rid -> broker's ack
    measured: list[int] = field(default_factory=list)  # rids produced after the warm-up
    seen: dict[int, float] = field(default_factory=dict)  # rid -> first seen in the sink
    processed: dict[int, float] = field(default_factory=dict)  # rid -> the transformer's stamp
    written: dict[int, float] = field(default_factory=dict)  # files: rid -> its part's mtime
    copies: Counter[int] = field(default_factory=Counter)  # rid -> times seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, rows: Iterable[tuple[int, float]], now: float, written: float | None) -> None:
        with self.lock:
            for rid, processed_at in rows:
                self.copies[rid] += 1
                if rid not in self.seen:
                    self.seen[rid] = now
                    self.processed[rid] = processed_at
                    if written is not None:
                        self.written[rid] = written

    def missing(self) -> int:
        with self.lock:
            return len(self.produced.keys() - self.seen.keys())

    def duplicated(self) -> int:
        with self.lock:
            return sum(n - 1 for n in self.copies.values() if n > 1)


# -- sources ------------------------------------------------------------------------------------


class Source(Protocol):
    def emit(self, rid: int) -> float:
        """Make record ``rid`` available to the job; the time it was produced."""

    def close(self) -> None: ...


class FileSource:
    """One csv file per record in ``directory``, renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def emit(self, rid: int) -> float:
        staging = self.directory / f".in-{rid:07d}.csv.tmp"
        staging.write_text(f"rid,x,produced_at\n{rid},{rid * 0.5},{time.time()}\n")
        staging.rename(self.directory / f"in-{rid:07d}.csv")
        return time.time()  # the file appeared

    def close(self) -> None:
        pass


class KafkaSource:
    """One JSON message per record on ``topic``: acks=all, sent at once (linger 0)."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger) -> None:
        from confluent_kafka import Producer

        self.topic, self.ledger, self.failed = topic, ledger, 0
        self.closed = threading.Event()
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "linger.ms": 0,
                "enable.idempotence": True,
            }
        )
        self.poller = threading.Thread(target=self._serve, daemon=True)
        self.poller.start()

    def emit(self, rid: int) -> float:
        now = time.time()
        value = json.dumps({"rid": rid, "x": rid * 0.5, "produced_at": now})

        def delivered(err: Any, _msg: Any, rid: int = rid) -> None:
            if err is None:
                self.ledger.acked[rid] = time.time()
            else:
                self.failed += 1

        self.producer.produce(self.topic, value.encode(), on_delivery=delivered)
        return now  # the record was handed to the producer

    def _serve(self) -> None:
        """Delivery reports as they come (they run in ``poll``), so an ack is stamped on time."""
        while not self.closed.is_set():
            self.producer.poll(0.005)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.poller.join()
        left = self.producer.flush(30)
        if left or self.failed:
            raise RuntimeError(
                f"{left} record(s) undelivered, {self.failed} failed, to {self.topic}"
            )


class Producer(threading.Thread):
    """Warm-up records (``WARMUP_RATE`` a second) until ``measure`` is set, then ``records``
    records at ``rate`` a second; ``done`` once they are all out."""

    def __init__(self, source: Source, ledger: Ledger, records: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.source, self.ledger, self.records, self.rate = source, ledger, records, rate
        self.measure, self.done, self.stop = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.warmup = 0

    def _emit(self, rid: int) -> None:
        produced = self.source.emit(rid)
        with self.ledger.lock:
            self.ledger.produced[rid] = produced

    def run(self) -> None:
        try:
            rid = 0
            while not self.measure.is_set() and not self.stop.is_set():
                self._emit(rid)
                rid, self.warmup = rid + 1, self.warmup + 1
                self.measure.wait(1.0 / WARMUP_RATE)
            began = time.monotonic()
            for i in range(self.records):
                if self.stop.is_set():
                    return
                delay = began + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._emit(rid)
                self.ledger.measured.append(rid)
                rid += 1
        except BaseException as exc:  # reported by the benchmark, which stops the job
            self.error = exc
        finally:
            self.done.set()


# -- sinks --------------------------------------------------------------------------------------


class Watcher(threading.Thread):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__(daemon=True)
        self.ledger = ledger
        self.stop = threading.Event()
        self.first_output = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.watch()
        except BaseException as exc:
            self.error = exc

    def watch(self) -> None:
        raise NotImplementedError


class DirectoryWatcher(Watcher):
    """New part files of ``directory``, looked for every ``interval`` seconds."""

    def __init__(self, directory: Path, ledger: Ledger, interval: float) -> None:
        super().__init__(ledger)
        self.directory, self.interval = directory, interval
        self.parts: set[str] = set()

    def scan(self) -> None:
        if not self.directory.is_dir():
            return
        for entry in os.scandir(self.directory):
            if entry.name in self.parts or entry.name.startswith((".", "_")):
                continue
            now = time.time()
            self.parts.add(entry.name)
            with open(entry.path, newline="") as part:
                text = part.read()
            rows = [
                (int(float(row["rid"])), float(row["processed_at"]))
                for row in csv.DictReader(io.StringIO(text))
            ]
            self.ledger.saw(rows, now, entry.stat().st_mtime)
            self.first_output.set()

    def watch(self) -> None:
        while not self.stop.wait(self.interval):
            self.scan()
        self.scan()


class TopicWatcher(Watcher):
    """The records of ``topic`` (partition 0, from the start) as a ``read_committed``
    consumer sees them; it asks the broker for news every 10 ms at most (``fetch.wait.max.ms``;
    librdkafka's 500 ms default would be the consumer's latency, not the job's)."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger) -> None:
        super().__init__(ledger)
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-latency-{topic}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def watch(self) -> None:
        try:
            while not self.stop.is_set():
                message = self.consumer.poll(0.1)
                if message is None or message.error() is not None:
                    continue
                now = time.time()
                record = json.loads(message.value() or b"{}")
                self.ledger.saw([(int(record["rid"]), float(record["processed_at"]))], now, None)
                self.first_output.set()
        finally:
            self.consumer.close()
