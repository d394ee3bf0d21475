"""The README demo's last step: the web dashboard over the demo's runs.

Starts ``aiflow server --dev`` (no sign-in; loopback only) in the background on the demo's meta
store, unless one already answers on the port, and prints the dashboard's URL. The server
keeps running after the demo so the pages can be explored; the PID file says how to stop it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from aiflow.config import aiflow_home
from aiflow.server.dashboard import is_built

HOST = "127.0.0.1"
PORT = int(os.environ.get("AIFLOW_DEMO_PORT", "8080"))
URL = f"http://{HOST}:{PORT}/"
AIFLOW_SERVER = [sys.executable, "-m", "aiflow", "server", "--dev"]


def answers() -> bool:
    try:
        with urllib.request.urlopen(f"{URL}health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> None:
    if not is_built():
        print("\nthe web dashboard is not built (needs Node.js 20: scripts/build_web.sh)")
        return
    home = aiflow_home()
    pid_file = home / "dashboard-server.pid"
    if not answers():
        log = (home / "logs").resolve()
        log.mkdir(parents=True, exist_ok=True)
        with (log / "dashboard-server.log").open("ab") as out:
            server = subprocess.Popen(
                [*AIFLOW_SERVER, "--host", HOST, "--port", str(PORT)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # outlives the demo (and a Ctrl-C in its terminal)
            )
        pid_file.write_text(f"{server.pid}\n")
        deadline = time.monotonic() + 30
        while not answers():
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the dashboard server did not start: see {log / 'dashboard-server.log'}")
            time.sleep(0.2)
    stop = f"kill $(cat {pid_file})" if pid_file.exists() else "stop the server on that port"
    print(f"\nweb dashboard (dev mode, this machine only): {URL}")
    print(f"  executions: {URL}executions   models: {URL}models")
    print(f"  stop it: {stop}")


if __name__ == "__main__":
    main()
