"""Chaos soak: the online-learning workflow in stream mode on PostgreSQL, records arriving
all along, while a killer SIGKILLs the training, validation and predict jobs, the execution's
driver and the server (with its scheduler) at random intervals, and restarts PostgreSQL once.

    .venv/bin/python benchmarks/chaos_soak.py [--minutes 10] [--seed N] [--kills K] [--keep]

Prints the figures: record accounting (every record predicted exactly once: lost = 0,
duplicated = 0), versions registered / validated / deployed and the model center's
consistency (each version decided once, one holder of ``deployed``), the rule on
MODEL_DEPLOYED (each event fired its job exactly once), the longest time without predictions,
and each kill with how long predictions took to resume; then each figure that is wrong
(``WRONG: ...``, exit status 1). How it works: ``benchmarks/chaos/soak.py``; figures of a run:
docs/benchmarks.md ("Chaos soak").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="chaos duration")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--kills", type=int, default=None, help="default: one per 20 s")
    parser.add_argument("--rows", type=int, default=10, help="records per stream file")
    parser.add_argument("--window", type=int, default=200, help="training window (records)")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch run")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    seconds = args.minutes * 60
    sys.path.insert(0, str(ROOT))
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"aiflow-chaos-client-{os.getpid()}"
    for name in [n for n in os.environ if n.startswith("AIFLOW")]:
        del os.environ[name]  # this process reads the store directly: no stray settings
    os.environ["AIFLOW_HOME"] = str(home)

    from benchmarks.chaos.figures import format_report, violations
    from benchmarks.chaos.soak import SoakConfig, run_soak

    config = SoakConfig(
        chaos_seconds=seconds,
        seed=seed,
        kills=args.kills if args.kills is not None else max(6, round(seconds / 20)),
        rows=args.rows,
        window=args.window,
        batch=not args.no_batch,
        keep=args.keep,
        log=lambda line: print(line, flush=True),
    )
    report = run_soak(config)
    print(format_report(report), flush=True)
    wrong = violations(report)
    for line in wrong:
        print(f"WRONG: {line}", flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
