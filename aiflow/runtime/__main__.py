"""Job entry point: ``python -m aiflow.runtime --job-id N``.

Everything the job needs comes from the meta store (its spec) and the source snapshot; the
deployer only starts this process and watches its exit code (0 = succeeded). The result summary
is written to the job row even when the job fails, so partial progress is visible.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from types import FrameType

from aiflow.errors import AiflowError

log = logging.getLogger("aiflow.runtime")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflow.runtime")
    parser.add_argument("--job-id", type=int, required=True)
    args = parser.parse_args(argv)
    # aiflow's own progress at INFO; libraries (alembic, fsspec) only when they warn
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    # aiflow's records get a handler of their own: PyFlink's in-process (loopback) worker
    # empties the root logger's handlers when a Flink job starts, which would silence them.
    own = logging.getLogger("aiflow")
    own.setLevel(logging.INFO)
    own.addHandler(logging.getLogger().handlers[0])
    own.propagate = False
    from aiflow.runtime.job import run_job

    try:
        run_job(args.job_id, on_context=_install_stop_handler)
        return 0
    except AiflowError as exc:
        traceback.print_exc()
        log.error("job %s failed: %s", args.job_id, exc)
        return 1
    except Exception as exc:
        traceback.print_exc()
        log.error("job %s crashed: %s: %s", args.job_id, type(exc).__name__, exc)
        return 1


def _install_stop_handler(ctx: object) -> None:
    """Stream jobs stop gracefully on SIGTERM (finish the micro-batch, commit, exit 0); batch
    jobs keep the default SIGTERM (end now) — they have nothing worth finishing."""
    from aiflow.translators.context import JobContext

    assert isinstance(ctx, JobContext)
    if ctx.mode != "stream":
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stop requested (signal %s): finishing the current micro-batch", signum)
        ctx.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


if __name__ == "__main__":
    sys.exit(main())
