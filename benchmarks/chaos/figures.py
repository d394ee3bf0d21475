"""The soak's figures, computed after the run from the output parts, the meta store and what
the actors recorded: record accounting, the model center's decisions, the rule's fires, the
longest time without predictions, and every kill with how long predictions took to resume.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.chaos.actors import Dropped, Kill, Resubmission
    from benchmarks.chaos.stack import Stack

MODEL = "ctr"
RULE = "ctr.on_deployed.0"  # the rule trigger of the workflow's on_deployed job
DECIDED = ("validated", "rejected", "failed")


@dataclass
class Records:
    produced: int = 0
    predicted: int = 0  # distinct produced records found in the output
    lost: int = 0  # produced, never predicted
    duplicated: int = 0  # output rows beyond the first for a record
    unknown: int = 0  # output rows of records nobody produced
    by_rejected: int = 0  # rows predicted by a version that was rejected or failed


@dataclass
class Models:
    registered: int = 0  # versions, the batch run's included
    stages: dict[str, int] = field(default_factory=dict)  # stage now -> versions
    validated: int = 0  # versions that passed validation (validated, deployed, retired now)
    deployed: int = 0  # versions that ever held the alias deployed
    deployed_holders: int = 0  # versions holding ``deployed`` now (1 expected)
    decided_twice: list[int] = field(default_factory=list)  # versions with > 1 decision
    deployed_twice: list[int] = field(default_factory=list)  # versions given deployed > 1 time
    undecided: list[int] = field(default_factory=list)  # still ``generated`` at the end
    retrained_batches: int = 0  # micro-batches in the windows of more than one version


@dataclass
class Rules:
    covered: bool = True
    events: int = 0  # MODEL_DEPLOYED events of the model
    fired_once: int = 0  # events that started exactly one execution of the rule's job
    missed: list[int] = field(default_factory=list)  # seqs that started none
    fired_twice: list[int] = field(default_factory=list)  # seqs that started more than one
    ran_once: int = 0  # events whose job recorded it exactly once
    job_runs: int = 0  # lines the rule's job wrote


@dataclass
class Report:
    seed: int
    chaos_seconds: float
    records: Records
    models: Models
    rules: Rules
    kills: list[Kill]
    resubmissions: list[Resubmission]
    longest_gap: float  # s without a new prediction part, while records kept arriving
    longest_gap_at: float  # s after the stream started, where that gap began
    latency_p50: float  # s from a file's drop to its prediction part appearing
    latency_max: float
    attempts: dict[str, int]  # job name -> attempts, over every stream execution
    final_status: str
    resumed: list[float | None] = field(default_factory=list)  # per kill: s to the next part
    wall_seconds: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    problems: list[str] = field(default_factory=list)  # actors that crashed, timeouts


def count_records(stack: Stack, dropped: list[Dropped], stages: dict[int, str]) -> Records:
    import pandas as pd

    parts = sorted(stack.scores_dir.glob("part-*.csv"))
    frames = [pd.read_csv(p, usecols=["rid", "model_version"]) for p in parts]
    out = pd.concat(frames) if frames else pd.DataFrame({"rid": [], "model_version": []})
    expected = {rid for d in dropped for rid in range(d.first_rid, d.first_rid + d.rows)}
    seen = Counter(int(r) for r in out["rid"])
    bad = {v for v, stage in stages.items() if stage in ("rejected", "failed")}
    return Records(
        produced=len(expected),
        predicted=len(expected & set(seen)),
        lost=len(expected - set(seen)),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        unknown=sum(n for rid, n in seen.items() if rid not in expected),
        by_rejected=int(out["model_version"].isin(list(bad)).sum()),
    )


def model_figures(store: Any) -> Models:
    versions = store.list_model_versions(MODEL)
    history = store.model_history(MODEL)
    decisions = Counter(
        c.version
        for c in history
        if c.kind == "stage" and c.from_value == "generated" and c.to_value in DECIDED
    )
    deployments = Counter(
        int(c.to_value)
        for c in history
        if c.kind == "alias" and c.field == "deployed" and c.to_value is not None
    )
    batches = Counter(
        batch
        for v in versions
        for batch in ((v.lineage or {}).get("window") or {}).get("micro_batches", [])
    )
    stages = Counter(v.stage for v in versions)
    return Models(
        registered=len(versions),
        stages=dict(sorted(stages.items())),
        validated=sum(stages[s] for s in ("validated", "deployed", "retired")),
        deployed=len(deployments),
        deployed_holders=sum("deployed" in v.aliases for v in versions),
        decided_twice=sorted(v for v, n in decisions.items() if n > 1),
        deployed_twice=sorted(v for v, n in deployments.items() if n > 1),
        undecided=sorted(v.version for v in versions if v.stage == "generated"),
        retrained_batches=sum(1 for n in batches.values() if n > 1),
    )


def rule_figures(store: Any, events_file: Path) -> Rules:
    try:
        rule = store.get_trigger(RULE)
    except Exception:
        return Rules(covered=False)
    # every deployment after the rule was made (a resubmission keeps it and its cursor)
    deployed = store.list_events(type="MODEL_DEPLOYED", key=MODEL, limit=1_000_000)
    events = [e.seq for e in deployed if e.created_at >= rule.created_at]
    executions = store.list_executions(trigger=RULE, limit=1_000_000)
    fires = Counter(e.trigger_event_seq for e in executions if e.trigger_event_seq is not None)
    lines = events_file.read_text().split("\n") if events_file.exists() else []
    runs = Counter(int(line.split()[0]) for line in lines if line and line[0].isdigit())
    return Rules(
        events=len(events),
        fired_once=sum(1 for seq in events if fires[seq] == 1),
        missed=[seq for seq in events if fires[seq] == 0],
        fired_twice=[seq for seq in events if fires[seq] > 1],
        ran_once=sum(1 for seq in events if runs[seq] == 1),
        job_runs=sum(runs.values()),
    )


def prediction_gaps(
    first_seen: dict[str, float], dropped: list[Dropped], start: float
) -> tuple[float, float, float, float]:
    """(longest gap, when it began, p50 latency, max latency): the gap between consecutive
    prediction parts appearing while records kept arriving (from the first part to the last
    file's part), latency from a file's drop to its part appearing."""
    times = sorted(first_seen.values())
    gap, gap_at = 0.0, 0.0
    for before, after in itertools.pairwise(times):
        if after - before > gap:
            gap, gap_at = after - before, before - start
    latencies = sorted(
        first_seen[part] - d.at for d in dropped if (part := part_name(d)) in first_seen
    )
    if not latencies:
        return gap, gap_at, float("nan"), float("nan")
    return gap, gap_at, latencies[len(latencies) // 2], latencies[-1]


def resumed_after(kill: Kill, first_seen: dict[str, float], dropped: list[Dropped]) -> float | None:
    """Seconds from the kill to the first prediction of a record that arrived after it (None:
    none was predicted): the whole recovery, restart and backlog included."""
    if kill.at is None:
        return None
    later = [
        first_seen[part] for d in dropped if d.at > kill.at and (part := part_name(d)) in first_seen
    ]
    return min(later) - kill.at if later else None


def part_name(dropped: Dropped) -> str:
    """The prediction part a stream file leads to (named after its micro-batch)."""
    return f"part-{dropped.name.removesuffix('.csv')}.csv"


def format_report(report: Report) -> str:
    """The figures as the benchmark prints them."""
    r, m, rules = report.records, report.models, report.rules
    lines = [
        f"chaos soak: seed {report.seed}, {report.chaos_seconds:.0f}s of chaos, "
        f"{report.wall_seconds:.0f}s in all, load average {report.load[0]:.1f} "
        f"{report.load[1]:.1f} {report.load[2]:.1f} on {_cpus()} CPUs",
        f"records: {r.produced} produced, {r.predicted} predicted, lost={r.lost}, "
        f"duplicated={r.duplicated}, unknown={r.unknown}, predicted by a rejected/failed "
        f"version={r.by_rejected}",
        f"versions: {m.registered} registered, {m.validated} validated, {m.deployed} deployed; "
        f"stages now {m.stages}; holders of 'deployed' now: {m.deployed_holders}",
        f"decisions: decided twice {m.decided_twice or 'none'}, deployed twice "
        f"{m.deployed_twice or 'none'}, undecided {m.undecided or 'none'}; micro-batches "
        f"trained into more than one version: {m.retrained_batches}",
    ]
    if rules.covered:
        lines.append(
            f"rule on MODEL_DEPLOYED: {rules.events} events, {rules.fired_once} fired exactly "
            f"once, missed {rules.missed or 'none'}, fired twice {rules.fired_twice or 'none'}; "
            f"its job recorded {rules.job_runs} runs, {rules.ran_once} events exactly once"
        )
    else:
        lines.append("rule on MODEL_DEPLOYED: not covered (no rule trigger was made)")
    lines += [
        f"longest time without predictions: {report.longest_gap:.1f}s (from "
        f"{report.longest_gap_at:.0f}s after the stream started); record latency p50 "
        f"{report.latency_p50:.1f}s, max {report.latency_max:.1f}s",
        f"job attempts: {report.attempts}; stream executions resubmitted after they ended: "
        f"{len(report.resubmissions)}; final stop: {report.final_status}",
        "kills:",
    ]
    for kill, resumed in zip(report.kills, report.resumed, strict=True):
        what = f"{kill.kind:<9} pid {kill.pid}" if kill.at else f"{kill.kind:<9} skipped"
        extra = f", down {kill.down:.1f}s" if kill.down is not None else ""
        extra += f", next new record predicted after {resumed:.1f}s" if resumed is not None else ""
        lines.append(f"  {kill.planned:6.1f}s {what}{extra} {kill.note}".rstrip())
    for again in report.resubmissions:
        lines.append(
            f"  resubmitted: execution {again.ended} ended {again.status} ({again.error}); "
            f"now {again.started}"
        )
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def violations(report: Report) -> list[str]:
    """What the run got wrong, one line each (empty: every correctness figure is right)."""
    from benchmarks.chaos.actors import KINDS, POSTGRES

    r, m, rules = report.records, report.models, report.rules
    found = [
        f"{name}: {value}"
        for name, value in (
            ("records lost", r.lost),
            ("records duplicated", r.duplicated),
            ("records nobody produced", r.unknown),
            ("records predicted by a rejected or failed version", r.by_rejected),
        )
        if value
    ]
    found += [
        f"versions {m.decided_twice} were decided more than once" if m.decided_twice else "",
        f"versions {m.deployed_twice} were deployed more than once" if m.deployed_twice else "",
        f"{m.deployed_holders} versions hold 'deployed'" if m.deployed_holders != 1 else "",
        f"versions {m.undecided} were never decided" if m.undecided else "",
        f"only {m.registered} versions registered" if m.registered < 2 else "",
    ]
    if rules.covered:
        found += [
            f"deployments {rules.missed} did not fire the rule" if rules.missed else "",
            f"deployments {rules.fired_twice} fired it twice" if rules.fired_twice else "",
            f"the rule's job recorded {rules.ran_once} of {rules.events} deployments once"
            if rules.ran_once != rules.events
            else "",
        ]
    done = {k.kind for k in report.kills if k.at is not None}
    found += [f"no {kind} was killed" for kind in (*KINDS, POSTGRES) if kind not in done]
    found += [
        f"predictions did not resume after the {k.kind} kill at {k.planned:.0f}s"
        for k, resumed in zip(report.kills, report.resumed, strict=True)
        if k.at is not None and resumed is None
    ]
    found += [
        f"stream execution {again.ended} ended ({again.status}: {again.error}); the soak had "
        f"to submit the workflow again"
        for again in report.resubmissions
    ]
    return [line for line in found if line] + report.problems
