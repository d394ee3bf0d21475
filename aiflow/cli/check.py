"""``aiflow check FILE``: the same records through the local and Flink engines, batch and stream,
compared column by column (``aiflow.check``)."""

from __future__ import annotations

from pathlib import Path

import typer

from aiflow.cli.output import JSON_OPTION, print_json, print_table


def check_command(
    file: Path = typer.Argument(..., help="Python file that defines the workflow."),
    workflow: str | None = typer.Option(
        None, "--workflow", "-w", help="Workflow name, if the file defines several."
    ),
    rows: int = typer.Option(50, "--rows", min=1, help="Sample size: first N records."),
    engines: str | None = typer.Option(
        None, "--engines", help="Comma-separated engines (default: every installed engine)."
    ),
    modes: str = typer.Option("batch,stream", "--modes", help="Comma-separated modes."),
    tolerance: float = typer.Option(1e-9, "--tolerance", help="Largest float difference."),
    serve: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="Also send the sample to the prediction service (aiflow serve --workflow FILE).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check that every engine and mode computes the same outputs from the same sample.

    Runs the workflow's read/transform/predict chains (not training) on each path, compares
    each output to the first path's; with flink among the engines, also fits each aiflow.ml
    estimator of a train node locally and on Flink (ml-fit/<node>). Exits 1 on any
    difference. JSON gives, per output column, [rows differing, largest float difference]."""
    from aiflow.check import SERVE_PATH, check_workflow
    from aiflow.cli.run import load_workflow
    from aiflow.errors import InvalidInput
    from aiflow.translators.engine import available_engines

    # local first by default: the first path is the reference the others are compared to
    chosen = _split(engines) or sorted(available_engines(), key=lambda e: (e != "local", e))
    paths = tuple((e, m) for e in chosen for m in _split(modes))
    for _, mode in paths:
        if mode not in ("batch", "stream"):
            raise InvalidInput(f"--modes: unknown mode {mode!r} (batch, stream)")
    if serve:
        paths = (*paths, SERVE_PATH)  # left out by check_workflow when nothing predicts
    wf = load_workflow(file, workflow)
    results = check_workflow(wf, rows=rows, paths=paths, tolerance=tolerance)
    if as_json:
        print_json(
            [
                {
                    "path": r.name,
                    "ok": r.ok,
                    "rows": r.rows,
                    "problems": r.problems,
                    "columns": {
                        out: {d.column: [d.differing, d.max_abs] for d in ds}
                        for out, ds in r.diffs.items()
                    },
                }
                for r in results
            ]
        )
    else:
        reference = results[0].name
        table = []
        for r in results:
            worst = [
                f"{out}.{d.column}: {d.differing} row(s)"
                + (f", max |diff| {d.max_abs:.3g}" if d.max_abs is not None else "")
                for out, ds in r.diffs.items()
                for d in ds
                if d.differing
            ]
            verdict = "reference" if r.name == reference else ("same" if r.ok else "DIFFERS")
            rows_out = ", ".join(f"{k}={v}" for k, v in r.rows.items())
            table.append((r.name, verdict, rows_out, "; ".join([*r.problems, *worst]) or "-"))
        print_table(f"consistency of {wf.name}", ["path", "verdict", "rows", "details"], table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _split(text: str | None) -> list[str]:
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]
