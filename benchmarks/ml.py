"""aiflow.ml beside scikit-learn, River and bare numpy: configs in JSON, one command.

    .venv/bin/python benchmarks/ml.py [--config benchmarks/ml_configs/default.json]
        [--only NAME[,NAME]] [--quick] [--out results.json]

A config is Flink ML's benchmark format (``flink-ml-benchmark``'s ``benchmark-conf.json``) in
aiflow's words: a JSON object with ``"version": 1`` and one entry per benchmark, by name::

    "KMeans": {
      "stage": {"class": "aiflow.ml.clustering.KMeans", "params": {"k": 10, "max_iter": 10}},
      "model_data": {"generator": "linear_model", "dims": 100, "seed": 3},      (optional)
      "input": {"generator": "dense", "rows": 1000000, "dims": 100, "seed": 2},
      "measure": {"kind": "kmeans_vs_sklearn", "sklearn": {...}, "goal_max_ratio": 1.2},
      "engines": ["local", "flink"],                                             (optional)
      "note": "why these params"                                                 (optional)
    }

``stage.class`` must be a stage under ``aiflow.ml.`` (built with ``params`` as keyword
arguments; a model gets ``model_data``); generators are in ``_ml_data``, measure kinds in
``_ml_measures`` / ``_ml_online``; ``engines`` other than ``local`` run the measure's engine
variant after it (``ENGINE_MEASURES``: KMeans on Flink). ``--quick`` cuts every input to 10,000
rows (a smoke run: figures of no meaning).

The results JSON is a map from benchmark name to its config plus ``"results"`` (the figures,
or ``{"error": ...}`` when the benchmark failed: the others still run), as Flink ML's
``--output-file``; ``"_run"`` says where and when. The table prints each figure beside its
goal; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _ml_data import Data, check_spec, generate, quick
from _ml_measures import Outcome, Row, classifier_vs_sklearn, kmeans_on_flink, kmeans_vs_sklearn
from _ml_online import inference_vs_numpy, online_vs_river

DEFAULT_CONFIG = Path(__file__).resolve().parent / "ml_configs" / "default.json"
MEASURES: dict[str, Callable[[Any, Data, dict[str, Any]], Outcome]] = {
    "kmeans_vs_sklearn": kmeans_vs_sklearn,
    "classifier_vs_sklearn": classifier_vs_sklearn,
    "online_vs_river": online_vs_river,
    "inference_vs_numpy": inference_vs_numpy,
}
# (measure kind, engine other than local) -> the measure on that engine, after the local one
ENGINE_MEASURES: dict[tuple[str, str], Callable[[Any, Data, dict[str, Any]], Outcome]] = {
    ("kmeans_vs_sklearn", "flink"): kmeans_on_flink,
}
HEADER = ("benchmark", "figure", "aiflow", "peer", "aiflow/peer", "goal", "met")


def load_config(path: Path) -> dict[str, dict[str, Any]]:
    """The benchmarks of a config file, checked (an error naming the file and the entry)."""
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read the config: {exc}") from None
    if not isinstance(config, dict) or config.get("version") != 1:
        raise SystemExit(f'{path}: a config is a JSON object with "version": 1')
    entries = {name: entry for name, entry in config.items() if name != "version"}
    for name, entry in entries.items():
        try:
            check_entry(name, entry)
        except ValueError as exc:
            raise SystemExit(f"{path}: {exc}") from None
    return entries


def check_entry(name: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{name}: an entry must be an object")
    stage = entry.get("stage")
    if not isinstance(stage, dict) or not isinstance(stage.get("class"), str):
        raise ValueError(f'{name}: "stage" must be {{"class": "aiflow.ml....", "params": {{}}}}')
    if not isinstance(stage.get("params", {}), dict):
        raise ValueError(f"{name}: stage.params must be an object")
    check_spec(name, entry.get("input"), "input")
    if "model_data" in entry:
        check_spec(name, entry["model_data"], "model_data")
    measure = entry.get("measure")
    if not isinstance(measure, dict) or measure.get("kind") not in MEASURES:
        raise ValueError(f"{name}: measure.kind must be one of {', '.join(MEASURES)}")


def build_stage(spec: dict[str, Any], model_data: Data | None) -> Any:
    """The stage ``spec`` names: a ``Stage`` subclass in a module under ``aiflow.ml.`` (as
    ``aiflow.ml.load`` allows), never an arbitrary import path."""
    from aiflow.ml.api import Model, Stage

    path = spec["class"]
    module_name, _, class_name = path.rpartition(".")
    if module_name != "aiflow.ml" and not module_name.startswith("aiflow.ml."):
        raise ValueError(f"stage.class {path!r} is not under aiflow.ml")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, Stage):
        raise ValueError(f"stage.class {path!r} is not an aiflow.ml stage")
    stage = cls(**spec.get("params", {}))
    if model_data is not None:
        if not isinstance(stage, Model):
            raise ValueError(f"model_data given but {class_name} is not a Model")
        stage.set_model_data(model_data.table)
    return stage


def run_one(name: str, entry: dict[str, Any], is_quick: bool) -> tuple[dict[str, Any], list[Row]]:
    """One benchmark: its figures and table rows, or the error as a row (never raises)."""
    started = time.perf_counter()
    try:
        spec = quick(entry["input"]) if is_quick else entry["input"]
        model_data = generate(entry["model_data"]) if "model_data" in entry else None
        stage = build_stage(entry["stage"], model_data)
        data = generate(spec)
        figures, rows = MEASURES[entry["measure"]["kind"]](stage, data, entry["measure"])
        for engine in entry.get("engines", ["local"]):
            if engine == "local":
                continue
            on_engine = ENGINE_MEASURES.get((entry["measure"]["kind"], engine))
            if on_engine is None:
                raise ValueError(f"no {engine} measure for {entry['measure']['kind']}")
            more, more_rows = on_engine(stage, data, entry["measure"])
            figures.update(more)
            rows += more_rows
    except Exception as exc:  # one broken benchmark must not lose the others' figures
        traceback.print_exc(file=sys.stderr)
        message = f"{type(exc).__name__}: {exc}"
        return {"error": message}, [Row("not available", message[:90])]
    figures["total_s"] = time.perf_counter() - started
    figures["load_1min_after"] = os.getloadavg()[0]  # the machine was shared if this is high
    return figures, rows


def print_table(lines: list[tuple[str, Row]]) -> None:
    cells = [HEADER] + [
        (name, r.figure, r.aiflow, r.peer, r.ratio, r.goal, r.met) for name, r in lines
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    for i, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * width for width in widths))


def machine() -> dict[str, Any]:
    import numpy
    import sklearn

    try:
        import river

        river_version = river.__version__
    except ImportError:
        river_version = None
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{p['internal_api']} x{p['num_threads']}" for p in threadpool_info()]
    except ImportError:
        blas = []
    return {
        "blas_threads": blas,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "sklearn": sklearn.__version__,
        "river": river_version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--only", default="", help="comma-separated benchmark names to run")
    parser.add_argument("--quick", action="store_true", help="at most 10,000 rows per input")
    parser.add_argument("--out", type=Path, default=Path("build/ml_bench_results.json"))
    args = parser.parse_args()
    entries = load_config(args.config)
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(entries))
        if unknown:
            raise SystemExit(f"--only: no benchmark {unknown} in {args.config}")
        entries = {name: entries[name] for name in wanted}
    print(f"{len(entries)} benchmark(s) from {args.config}{' (quick)' if args.quick else ''}")
    results: dict[str, Any] = {"_run": dict(machine(), quick=args.quick, config=str(args.config))}
    lines: list[tuple[str, Row]] = []
    for name, entry in entries.items():
        print(f"running {name} ...", flush=True)
        figures, rows = run_one(name, entry, args.quick)
        results[name] = dict(entry, results=figures)
        lines += [(name, row) for row in rows]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print_table(lines)
    print(f"\nresults: {args.out}   (load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
