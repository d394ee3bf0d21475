// What the execution pages compute from API data, kept free of React so that it is tested on
// its own: statuses that are over, a job's graph box, its attempts on a timeline, its row counts,
// its Flink UI address. The API types come from the generated schema only.
import type { Schemas } from "../../api/client";
import type { EventRecord } from "../../api/events";
import type { DagEdge, DagNode } from "../../components/DagGraph";
import type { TimelineBar, TimelineRow } from "../../components/Timeline";
import { elapsed, fmtDuration, fmtNumber } from "../../format";

export type Execution = Schemas["ExecutionPublic"];
export type ExecutionDetail = Schemas["ExecutionDetail"];
export type Job = Schemas["JobPublic"];

export const EXECUTION_STATUSES: Schemas["ExecutionStatus"][] = [
  "queued",
  "running",
  "stopping",
  "succeeded",
  "failed",
  "killed",
];
const JOB_STATUSES = new Set<string>([
  "queued",
  "running",
  "succeeded",
  "failed",
  "killed",
  "upstream_failed",
]);
const FINISHED = new Set<string>(["succeeded", "failed", "killed", "upstream_failed"]);

/** Whether an execution or job status is final (nothing about it changes any more). */
export function isFinished(status: string): boolean {
  return FINISHED.has(status);
}

/** One logical node of a job's spec, as far as the page needs it (the spec is free JSON). */
export interface SpecNode {
  id: string;
  kind: string;
  engine?: string;
  model?: string;
}

/** The fused logical nodes of a job, in execution order; tolerant of a spec it cannot read. */
export function specNodes(job: Job): SpecNode[] {
  const nodes = job.spec?.nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes.flatMap((node: unknown) => {
    if (typeof node !== "object" || node === null) return [];
    const record = node as Record<string, unknown>;
    if (typeof record.id !== "string") return [];
    return [
      {
        id: record.id,
        kind: typeof record.kind === "string" ? record.kind : "?",
        engine: typeof record.engine === "string" ? record.engine : undefined,
        model: typeof record.model === "string" ? record.model : undefined,
      },
    ];
  });
}

/** The engine this job's nodes fell back from (`--engine flink` training runs locally). */
export function fallbackFrom(job: Job): string | null {
  const value = job.spec?.fallback_from;
  return typeof value === "string" ? value : null;
}

/** Rows a node read and wrote, from the job's result (`result.rows[node] = {in, out}`). */
export function nodeRows(job: Job, node: string): { in: number; out: number } | null {
  const rows = (job.result as { rows?: unknown } | null)?.rows;
  if (typeof rows !== "object" || rows === null) return null;
  const slot = (rows as Record<string, unknown>)[node];
  if (typeof slot !== "object" || slot === null) return null;
  const { in: read, out: wrote } = slot as { in?: unknown; out?: unknown };
  return {
    in: typeof read === "number" ? read : 0,
    out: typeof wrote === "number" ? wrote : 0,
  };
}

/** "1,200 rows", or "1,200 → 1,180 rows" for a node that read and wrote. */
export function fmtRows(rows: { in: number; out: number } | null): string | null {
  if (!rows || (rows.in === 0 && rows.out === 0)) return rows ? "0 rows" : null;
  if (rows.in && rows.out) return `${fmtNumber(rows.in)} → ${fmtNumber(rows.out)} rows`;
  return `${fmtNumber(rows.in || rows.out)} rows`;
}

/** The rows a job produced: its last node's output (or input, for a sink). */
export function jobRows(job: Job): string | null {
  const nodes = specNodes(job);
  const last = nodes[nodes.length - 1];
  if (!last) return null;
  const rows = nodeRows(job, last.id);
  if (!rows) return null;
  return fmtNumber(rows.out || rows.in);
}

/** "attempt 2/3": the attempt running or last run, of 1 + retries. */
export function fmtAttempt(job: Job): string {
  if (job.attempt <= 0) return "not started";
  return `attempt ${job.attempt}/${job.max_retries + 1}`;
}

export function jobDuration(job: Job): number | null {
  return elapsed(job.started_at, job.ended_at);
}

/** The execution's jobs as graph boxes (id = job name) and their dependencies as edges. */
export function jobGraph(detail: ExecutionDetail): { nodes: DagNode[]; edges: DagEdge[] } {
  const byId = new Map(detail.jobs.map((job) => [job.id, job.name]));
  const names = new Set(detail.jobs.map((job) => job.name));
  const nodes: DagNode[] = detail.jobs.map((job) => {
    const lines = specNodes(job).map((node) => {
      const rows = fmtRows(nodeRows(job, node.id));
      return `${node.id} (${node.kind})${rows ? `: ${rows}` : ""}`;
    });
    const duration = jobDuration(job);
    const detailText = [job.engine, fmtAttempt(job), duration == null ? null : fmtDuration(duration)]
      .filter(Boolean)
      .join(" · ");
    return {
      id: job.name,
      label: job.name,
      detail: detailText,
      status: job.status,
      tone: `engine-${job.engine}`,
      title: [detailText, job.error].filter(Boolean).join("\n"),
      lines,
    };
  });
  const edges: DagEdge[] = [];
  for (const job of detail.jobs) {
    let upstream = job.depends_on.map((id) => byId.get(id)).filter((n): n is string => !!n);
    if (upstream.length === 0 && Array.isArray(job.spec?.depends_on)) {
      upstream = (job.spec.depends_on as unknown[]).filter(
        (n): n is string => typeof n === "string" && names.has(n),
      );
    }
    for (const source of upstream) edges.push({ source, target: job.name, kind: "job" });
  }
  return { nodes, edges };
}

/** One timeline row per job, one bar per attempt.
 *
 * From the execution's job events (`JOB_<STATUS>`, value = job name): each JOB_RUNNING starts
 * an attempt and the job's next status event ends it with that status. An attempt ended by
 * JOB_QUEUED is one the driver retries, so it failed (shown as failed, "retried"). A job with
 * no RUNNING event (no events, or events cut off) falls back to its started_at/ended_at. */
export function attemptRows(jobs: Job[], events: EventRecord[]): TimelineRow[] {
  const rows = new Map<string, TimelineRow>();
  for (const job of jobs) rows.set(job.name, { id: job.name, label: job.name, bars: [] });
  const open = new Map<string, TimelineBar>();
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  for (const event of sorted) {
    if (!event.type.startsWith("JOB_")) continue;
    const status = event.type.slice(4).toLowerCase();
    if (!JOB_STATUSES.has(status)) continue; // JOB_RETRY and the like carry no status
    const at = Date.parse(event.created_at);
    if (Number.isNaN(at)) continue;
    let row = rows.get(event.value);
    if (!row) {
      row = { id: event.value, label: event.value, bars: [] };
      rows.set(event.value, row);
    }
    const current = open.get(event.value);
    if (current) {
      current.end = at;
      current.status = status === "queued" || status === "running" ? "failed" : status;
      if (status === "queued") current.label += " (retried)";
      open.delete(event.value);
    }
    if (status === "running") {
      const bar: TimelineBar = {
        start: at,
        end: null,
        status: "running",
        label: `attempt ${row.bars.length + 1}`,
      };
      row.bars.push(bar);
      open.set(event.value, bar);
    }
  }
  for (const job of jobs) {
    const row = rows.get(job.name);
    if (!row || row.bars.length > 0 || !job.started_at) continue;
    const start = Date.parse(job.started_at);
    const end = job.ended_at ? Date.parse(job.ended_at) : null;
    if (Number.isNaN(start)) continue;
    row.bars.push({
      start,
      end: end != null && !Number.isNaN(end) ? end : null,
      status: job.status,
      label: `attempt ${Math.max(job.attempt, 1)}`,
    });
  }
  return [...rows.values()];
}

/** The job's page in the Flink web UI, when the Flink engine recorded one: a session cluster's
 * job (`result.engine.flink.web_ui`, written as the job started, so a finished job's page is
 * moved from "running" to "completed"). None for the embedded mini-cluster, which has no UI
 * left once the job ended, and for anything that is not an http(s) address. */
export function flinkUiUrl(job: Job): string | null {
  const engine = (job.result as { engine?: unknown } | null)?.engine;
  const flink = (engine as { flink?: unknown } | undefined)?.flink as
    | { web_ui?: unknown; job_id?: unknown }
    | undefined;
  const url = flink?.web_ui;
  if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return null;
  if (isFinished(job.status)) return url.replace("/#/job/running/", "/#/job/completed/");
  return url;
}

/** The Flink job id the engine recorded, if any (also without a UI: the mini-cluster). */
export function flinkJobId(job: Job): string | null {
  const engine = (job.result as { engine?: { flink?: { job_id?: unknown } } } | null)?.engine;
  const id = engine?.flink?.job_id;
  return typeof id === "string" ? id : null;
}
