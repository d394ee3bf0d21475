// The logical and physical plans as DagGraph boxes: pure functions, so what a box says (its
// colour, its second line, its hover text) is tested without drawing anything.
import type { Schemas } from "../../api/client";
import type { DagEdge, DagNode } from "../../components/DagGraph";

export type GraphNode = Schemas["GraphNode"];
export type WorkflowGraph = Schemas["WorkflowGraph"];
export type PhysicalPlan = Schemas["PhysicalPlanView"];

/** The order modes are shown in: what applies everywhere first. */
const MODE_ORDER = ["common", "batch", "stream"];

/** One property value as a reader would write it: strings bare, the rest as JSON. */
export function propertyText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value) ?? String(value);
}

/** The node's property groups (`common`, `batch`, `stream`, then any other), skipping empty ones. */
export function propertyGroups(node: GraphNode): [string, [string, string][]][] {
  const properties = node.properties ?? {};
  const modes = Object.keys(properties).sort((a, b) => {
    const rank = (mode: string) => (MODE_ORDER.includes(mode) ? MODE_ORDER.indexOf(mode) : 99);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  return modes
    .map((mode): [string, [string, string][]] => [
      mode,
      Object.entries(properties[mode] ?? {}).map(([key, value]) => [key, propertyText(value)]),
    ])
    .filter(([, entries]) => entries.length > 0);
}

/** Seconds as the shortest readable text: 90 -> "1 min 30 s". */
export function fmtSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const parts: string[] = [];
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (s) parts.push(`${s} s`);
  return parts.join(" ");
}

/** The node's second line: kind, engine, and the model or example it works on. */
export function nodeDetail(node: GraphNode): string {
  const parts = [node.kind, node.engine];
  if (node.model) parts.push(`model ${node.model}`);
  if (node.example) parts.push(`example ${node.example}`);
  return parts.join(" · ");
}

/** The hover text: what the node runs, its retries and timeout, its properties per mode. */
export function nodeTitle(node: GraphNode): string {
  const lines = [`${node.id} (${node.kind}) on ${node.engine}`];
  if (node.component) lines.push(`component: ${node.component}`);
  if (node.model) lines.push(`model: ${node.model}`);
  if (node.example) lines.push(`example: ${node.example}`);
  lines.push(
    `retries: ${node.retries ?? 0}, timeout: ${node.timeout != null ? fmtSeconds(node.timeout) : "none"}`,
  );
  const groups = propertyGroups(node);
  if (groups.length === 0) lines.push("no properties");
  for (const [mode, entries] of groups) {
    lines.push(`${mode}:`);
    for (const [key, value] of entries) lines.push(`  ${key} = ${value}`);
  }
  return lines.join("\n");
}

/** The logical plan's boxes, one per node, coloured by kind. */
export function logicalNodes(graph: WorkflowGraph): DagNode[] {
  return graph.nodes.map((node) => ({
    id: node.id,
    label: node.id,
    detail: nodeDetail(node),
    tone: `kind-${node.kind}`,
    title: nodeTitle(node),
  }));
}

/** The logical plan's edges, keeping their kind (data, model, control). */
export function logicalEdges(graph: WorkflowGraph): DagEdge[] {
  return graph.edges.map((edge) => ({ source: edge.source, target: edge.target, kind: edge.kind }));
}

/** The physical plan's boxes: one per job, listing the logical nodes fused into it. */
export function physicalNodes(plan: PhysicalPlan): DagNode[] {
  return plan.jobs.map((job) => {
    const fallback = job.fallback_from ? ` (fell back from ${job.fallback_from})` : "";
    const after = job.depends_on.length ? `\nafter: ${job.depends_on.join(", ")}` : "";
    return {
      id: job.name,
      label: job.name,
      detail: `${job.engine}${fallback}`,
      tone: `engine-${job.engine}`,
      lines: [...job.nodes],
      title: `job ${job.name} on ${job.engine}${fallback}\nnodes: ${job.nodes.join(", ")}${after}`,
    };
  });
}

/** A job-dependency edge from each job it waits for; unknown names are dropped. */
export function physicalEdges(plan: PhysicalPlan): DagEdge[] {
  const names = new Set(plan.jobs.map((job) => job.name));
  return plan.jobs.flatMap((job) =>
    job.depends_on
      .filter((upstream) => names.has(upstream))
      .map((upstream): DagEdge => ({ source: upstream, target: job.name, kind: "job" })),
  );
}

/** A path of the source snapshot as a URL tail: each segment encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

/** The URL of a version's tab (`plan`, `jobs`, `source`), names encoded. */
export function versionUrl(name: string, version: number, tab: string): string {
  return `/workflows/${encodeURIComponent(name)}/versions/${version}/${tab}`;
}
