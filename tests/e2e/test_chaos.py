"""Chaos soak, short: the CI version of ``benchmarks/chaos_soak.py``.

The online-learning workflow (``benchmarks/chaos/workflow.py``) runs in stream mode behind a
real ``aiflow server`` (its scheduler inside) on a private PostgreSQL, with click files
arriving every 0.2-0.5 s, while the soak SIGKILLs, once each in random order, the training
job, the validation job, the predict job, the execution's driver and the server, and restarts
PostgreSQL once (``pg_ctl restart -m immediate``). Then it waits for the output to catch up
and checks what must hold whatever was killed:

* every record produced is predicted exactly once (lost = 0, duplicated = 0), never by a
  rejected version;
* each version is decided once and deployed at most once, one version holds ``deployed``;
* each MODEL_DEPLOYED event fires the workflow's rule (``af.action_on_model_version``) once;
* every kind of process was killed, and predictions resumed after each kill;
* the stream execution outlived every kill: the soak, acting as an operator, submits the
  workflow again when it ended, and counts that as a failure here.

The batch run is skipped for time (the first window's version is deployed instead). Failing
assertions list every figure that is wrong, with the seed: ``benchmarks/chaos_soak.py --seed
N`` replays the same kill order at full length.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.chaos.figures import format_report, violations
from benchmarks.chaos.postgres import PostgresUnavailable
from benchmarks.chaos.soak import SoakConfig, run_soak
from tests.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

CHAOS_SECONDS = 30.0  # six kills: one of each kind and the PostgreSQL restart


def test_stream_loop_survives_kill9_of_every_process(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    config = SoakConfig(
        chaos_seconds=CHAOS_SECONDS,
        seed=seed,
        kills=6,
        rows=10,
        window=100,  # a version every ~10 files: several decisions within the chaos
        batch=False,
        drain_timeout=45.0,
        drain_idle=20.0,
        run_dir=tmp_path / "soak",
        log=lambda line: print(line, flush=True),
    )
    try:
        report = run_soak(config)
    except PostgresUnavailable as exc:
        unavailable(f"PostgreSQL not available: {exc}")
    print(format_report(report))
    wrong = violations(report)
    assert not wrong, f"seed {seed}:\n" + "\n".join(wrong) + "\n\n" + format_report(report)
