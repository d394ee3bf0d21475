"""Boots a Flink job's Python worker inside the job process, in milliseconds.

Run by path as the embedded mini-cluster's ``python.executable`` (``loopback.install``), with
``python -I -S``: the standard library only, no site-packages, nothing of aiflow imported.

On the mini-cluster PyFlink runs its Python workers in the job process itself ("loopback"),
yet Flink still starts a process per worker, ``python -m pyflink.fn_execution.beam.beam_boot
--id=... --provision_endpoint=...``, whose only job is one gRPC call back to the job process
("start worker <id>"); importing gRPC and Beam's protocol modules for it takes ~0.7 s of CPU
(more when the two cores are busy) on every job. This program makes that call over a Unix
socket the job process listens on (``loopback.BootServer``) instead: the worker's id, its
endpoints and this process's environment (as ``beam_boot`` sends them), then it waits, as
``beam_boot`` does, until the job process answers that the worker ended.

Anything else it is asked to run (no loopback address in its environment, another module, the
socket gone) is run by the real interpreter, unchanged: ``os.execv``.
"""

from __future__ import annotations

import json
import os
import socket
import sys

_BOOT = "pyflink.fn_execution.beam.beam_boot"


def _options(args: list[str]) -> dict[str, str]:
    """``--name=value`` and ``--name value`` arguments, as beam_boot's argparse reads them."""
    found: dict[str, str] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            found[name] = value
        elif arg.startswith("--") and position + 1 < len(args):
            found[arg[2:]] = args[position + 1]
            position += 1
        position += 1
    return found


def main(argv: list[str]) -> int:
    python, path, args = argv[1], argv[2], argv[3:]
    options = _options(args[2:]) if args[:2] == ["-m", _BOOT] else {}
    if "PYTHON_LOOPBACK_SERVER_ADDRESS" not in os.environ or not options.get("id"):
        os.execv(python, [python, *args])
    request = {
        "id": options["id"],
        "provision_endpoint": options.get("provision_endpoint", ""),
        "semi_persist_dir": options.get("semi_persist_dir", "/tmp"),
        "env": dict(os.environ),
    }
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(path)
    except OSError:
        os.execv(python, [python, *args])  # the job process stopped listening: the long way
    with connection:
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = connection.makefile("rb").readline()  # when the worker ends
    error = json.loads(answer).get("error") if answer.strip() else "the job process went away"
    if error:
        print(f"Error starting worker: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
