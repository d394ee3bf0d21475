"""The README's demo: the wine workflow offline (batch), then online (stream) from one file.

1. batch:  train, evaluate on held-out records, predict; prints the summary (model version,
           metrics, outputs)
   flink:  the same batch run on the Flink engine (embedded mini-cluster), same predictions
2. stream: starts the same file in stream mode in the background, drops the holdout rows into
           the watched directory as four files, waits until every row is predicted, stops it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
AIFLOW = [sys.executable, "-m", "aiflow.cli.main"]


def aiflow(*args: str, capture: bool = False) -> str:
    print(f"\n$ aiflow {' '.join(args)}", flush=True)
    done = subprocess.run([*AIFLOW, *args], check=True, text=True, capture_output=capture)
    return done.stdout


def main() -> None:
    sys.path.insert(0, str(HERE))
    import prepare_data

    prepare_data.main()
    stream_dir, out_dir = HERE / "data" / "wine_stream", HERE / "out" / "preds_stream"
    for d in (stream_dir, out_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)

    aiflow("run", str(HERE / "workflow.py"), "--mode", "batch")
    local = pd.read_csv(HERE / "out" / "preds.csv")

    # The same file on Flink (embedded mini-cluster): features and predictions run as Flink
    # jobs, training in between on the local engine; the predictions must not change.
    aiflow("run", str(HERE / "workflow.py"), "--mode", "batch", "--engine", "flink")
    flink = pd.read_csv(HERE / "out" / "preds.csv")
    same = flink.drop(columns="model_version").equals(local.drop(columns="model_version"))
    print(f"\nFlink batch predicted {len(flink)} rows, identical to the local engine: {same}")
    if not same:
        sys.exit(1)

    started = json.loads(
        aiflow(
            "run", str(HERE / "workflow.py"), "--mode", "stream", "--detach", "--json", capture=True
        )
    )
    execution = str(started["execution"])
    print(f"stream execution {execution} is running; dropping files into {stream_dir}")
    expected = 0
    stamp = time.strftime("%Y%m%d%H%M%S")
    for src in sorted((HERE / "data" / "holdout").glob("*.csv")):
        expected += len(pd.read_csv(src))
        tmp = stream_dir / f".{src.name}.tmp"
        shutil.copy(src, tmp)
        tmp.rename(stream_dir / f"{stamp}_{src.name}")  # atomic: the watcher sees whole files
        time.sleep(1.0)
    deadline = time.monotonic() + 120
    predicted = 0
    while time.monotonic() < deadline:
        parts = list(out_dir.glob("part-*.csv"))
        predicted = sum(len(pd.read_csv(p)) for p in parts)
        if predicted >= expected:
            break
        time.sleep(0.5)
    aiflow("execution", "stop", execution)
    aiflow("model", "versions", "wine_sgd")
    print(f"\nstream mode predicted {predicted} of {expected} dropped rows -> {out_dir}")
    if predicted != expected:
        sys.exit(1)


if __name__ == "__main__":
    main()
