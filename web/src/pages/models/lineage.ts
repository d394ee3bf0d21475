// A version's lineage as a graph: the data it was trained on -> the job that trained it -> the
// version, and the chain of versions it continued training from (oldest on the left).
import type { DagEdge, DagNode } from "../../components/DagGraph";
import type { Lineage } from "./types";
import { versionHref } from "./types";

/** One example (or intermediate) a batch training job read (translators/lineage.py). */
export interface DataEntry {
  example: string | null;
  uri: string | null;
  fingerprint: string | null;
  error: string | null;
}

/** The stream window a streaming version was trained on. */
export interface WindowEntry {
  source: string | null;
  microBatches: number;
  records: number | null;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function record(value: unknown): Record<string, unknown> | null {
  return value != null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** The lineage dict's ``data`` list, read defensively: it is whatever the job recorded. */
export function dataEntries(data: Lineage["data"]): DataEntry[] {
  const list = Array.isArray(data.data) ? data.data : [];
  return list.flatMap((item) => {
    const entry = record(item);
    if (!entry) return [];
    return [
      {
        example: text(entry.example),
        uri: text(entry.uri),
        fingerprint: text(entry.fingerprint),
        error: text(entry.error),
      },
    ];
  });
}

export function windowEntry(data: Lineage["data"]): WindowEntry | null {
  const window = record(data.window);
  if (!window) return null;
  return {
    source: text(window.source),
    microBatches: Array.isArray(window.micro_batches) ? window.micro_batches.length : 0,
    records: typeof window.records === "number" ? window.records : null,
  };
}

export interface LineageGraph {
  nodes: DagNode[];
  edges: DagEdge[];
  /** where clicking a node goes (examples, the execution, versions) */
  links: Map<string, { href: string; label: string }>;
}

export const versionNodeId = (version: number) => `version:${version}`;

function shortFingerprint(fingerprint: string | null): string | null {
  return fingerprint ? fingerprint.slice(0, 19) : null;
}

export function lineageGraph(lineage: Lineage, stage: string | undefined): LineageGraph {
  const { model_name: model, version } = lineage;
  const nodes: DagNode[] = [];
  const edges: DagEdge[] = [];
  const links: LineageGraph["links"] = new Map();
  const versionId = versionNodeId(version);

  const sources: string[] = [];
  dataEntries(lineage.data).forEach((entry, i) => {
    const id = `data:${i}`;
    nodes.push({
      id,
      label: entry.example ?? entry.uri ?? `input ${i + 1}`,
      detail: entry.example ? "example" : "data",
      tone: "lineage-data",
      title: [entry.uri, entry.fingerprint, entry.error].filter(Boolean).join("\n") || undefined,
      lines: [shortFingerprint(entry.fingerprint) ?? (entry.error ? "unreadable" : "")].filter(
        Boolean,
      ),
    });
    if (entry.example) {
      links.set(id, {
        href: `/examples/${encodeURIComponent(entry.example)}`,
        label: `example ${entry.example}`,
      });
    }
    sources.push(id);
  });
  const window = windowEntry(lineage.data);
  if (window) {
    nodes.push({
      id: "window",
      label: window.source ?? "stream window",
      detail: "stream window",
      tone: "lineage-data",
      lines: [
        `${window.microBatches} micro-batches`,
        window.records != null ? `${window.records} records` : "",
      ].filter(Boolean),
    });
    sources.push("window");
  }

  let producer: string | null = null;
  if (lineage.job_id != null || lineage.execution_id != null) {
    producer = lineage.job_id != null ? `job:${lineage.job_id}` : `execution:${lineage.execution_id}`;
    nodes.push({
      id: producer,
      label: lineage.job_id != null ? `job ${lineage.job_id}` : `execution ${lineage.execution_id}`,
      detail: lineage.node_id ? `node ${lineage.node_id}` : undefined,
      tone: "lineage-job",
      lines: [
        lineage.workflow
          ? `${lineage.workflow}${lineage.workflow_version != null ? ` v${lineage.workflow_version}` : ""}`
          : "",
        lineage.job_id != null && lineage.execution_id != null ? `execution ${lineage.execution_id}` : "",
      ].filter(Boolean),
    });
    if (lineage.execution_id != null) {
      links.set(producer, {
        href: `/executions/${lineage.execution_id}`,
        label: `execution ${lineage.execution_id}`,
      });
    }
    for (const source of sources) edges.push({ source, target: producer, kind: "data" });
    edges.push({ source: producer, target: versionId, kind: "model" });
  } else {
    for (const source of sources) edges.push({ source, target: versionId, kind: "data" });
  }

  nodes.push({
    id: versionId,
    label: `${model} v${version}`,
    detail: "this version",
    status: stage,
    tone: "lineage-version lineage-current",
  });
  links.set(versionId, { href: versionHref(model, version), label: `version ${version}` });

  // ancestors: nearest first, each continued from the next one (the parent alone if the
  // chain is unknown)
  const chain =
    lineage.ancestors.length > 0
      ? lineage.ancestors
      : lineage.parent_version != null
        ? [lineage.parent_version]
        : [];
  let child = versionId;
  for (const ancestor of chain) {
    const id = versionNodeId(ancestor);
    if (nodes.some((node) => node.id === id)) break; // a cycle in bad data: stop, do not loop
    nodes.push({
      id,
      label: `${model} v${ancestor}`,
      detail: ancestor === lineage.parent_version ? "parent version" : "ancestor",
      tone: "lineage-version",
    });
    links.set(id, { href: versionHref(model, ancestor), label: `version ${ancestor}` });
    edges.push({ source: id, target: child, kind: "lineage" });
    child = id;
  }
  return { nodes, edges, links };
}
