"""The job the deployer contract runs: what it does is its first argument.

``python job_program.py KIND DIR NAME [ARG]``. ``DIR`` is a directory the test can read (on a
remote target: a shared volume); the program publishes what the test must observe there under
``NAME.<what>``, each file written under a temporary name and renamed into place, so the test
never reads half a file. Kinds:

* ``ok`` — print a line and exit 0; ``fail CODE`` — print to stderr and exit ``CODE``;
* ``flaky N`` — exit 3 on the first ``N`` runs (counted in ``NAME.runs``), then 0;
* ``sleep`` — publish its pid and sleep for an hour (for timeouts and stops);
* ``tree`` — start a child that starts a grandchild, publish the three pids, sleep;
* ``talk`` — print ``first``, wait until ``NAME.go`` exists, print ``second``, exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HOUR = 3600


def publish(directory: Path, name: str, text: str) -> None:
    tmp = directory / f".{name}.tmp"
    tmp.write_text(text)
    tmp.rename(directory / name)


def runs_before(directory: Path, name: str) -> int:
    counter = directory / f"{name}.runs"
    n = int(counter.read_text()) if counter.exists() else 0
    publish(directory, counter.name, str(n + 1))
    return n


def main(kind: str, directory: Path, name: str, arg: str = "") -> int:
    if kind == "ok":
        print(f"{name} ok", flush=True)
        return 0
    if kind == "fail":
        print(f"{name} fails with {arg}", file=sys.stderr, flush=True)
        return int(arg)
    if kind == "flaky":
        return 3 if runs_before(directory, name) < int(arg) else 0
    if kind == "sleep":
        publish(directory, f"{name}.pid", str(os.getpid()))
        time.sleep(HOUR)
    if kind == "tree":  # the child's own child is the grandchild; each reports one line up
        level = int(arg or 0)
        pids = [os.getpid()]
        if level < 2:
            child = subprocess.Popen(
                [sys.executable, __file__, "tree", str(directory), name, str(level + 1)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            pids += [int(pid) for pid in child.stdout.readline().split()]
        if level > 0:
            print(*pids, flush=True)
        else:
            publish(directory, f"{name}.tree", " ".join(map(str, pids)))
        time.sleep(HOUR)
    if kind == "talk":
        print("first", flush=True)
        while not (directory / f"{name}.go").exists():
            time.sleep(0.01)
        print("second", flush=True)
        return 0
    raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:]))
