// Test data: API shapes with defaults, so each test states only what it is about.
import type { Change, Comparison, Lineage, Version } from "./types";

export const HOSTILE = "<img src=x onerror=alert(1)>";

/** jsdom has no canvas; ECharts measures label text with one (quiets "Not implemented"). */
export function stubCanvas(): void {
  HTMLCanvasElement.prototype.getContext = (() => ({
    font: "",
    measureText: (text: string) => ({ width: text.length * 6 }),
  })) as unknown as HTMLCanvasElement["getContext"];
}

export function version(number: number, over: Partial<Version> = {}): Version {
  return {
    id: number,
    model_id: 1,
    model_name: "iris",
    version: number,
    artifact_uri: `file:///models/iris/${number}`,
    flavor: "pickle",
    stage: "generated",
    aliases: [],
    metrics: {},
    execution_id: null,
    job_id: null,
    node_id: null,
    parent_version: null,
    checksum: null,
    lineage: {},
    tags: {},
    created_at: `2026-01-0${Math.min(number, 9)}T10:00:00Z`,
    ...over,
  };
}

let seq = 0;

export function change(over: Partial<Change> & Pick<Change, "version" | "kind">): Change {
  seq += 1;
  return {
    seq,
    model_name: "iris",
    field: over.kind === "stage" ? "stage" : "deployed",
    from_value: null,
    to_value: null,
    actor: "aiflow",
    reason: null,
    metrics: {},
    created_at: "2026-01-10T10:00:00Z",
    ...over,
  };
}

/** A validation as the store records it: a stage change to validated/rejected. */
export function validation(number: number, outcome: "validated" | "rejected", from = "generated"): Change {
  return change({ version: number, kind: "stage", from_value: from, to_value: outcome });
}

export function aliasMove(alias: string, from: number | null, to: number | null, over: Partial<Change> = {}): Change {
  return change({
    version: to ?? from ?? 1,
    kind: "alias",
    field: alias,
    from_value: from == null ? null : String(from),
    to_value: to == null ? null : String(to),
    ...over,
  });
}

export function lineage(over: Partial<Lineage> = {}): Lineage {
  return {
    model_name: "iris",
    version: 3,
    workflow: "train_iris",
    workflow_version: 2,
    execution_id: 12,
    job_id: 40,
    node_id: "train",
    parent_version: 2,
    ancestors: [2, 1],
    data: { data: [{ example: "iris_train", uri: "file:///data/iris", fingerprint: "sha256:0123456789abcdef0123" }] },
    ...over,
  };
}

export function comparison(over: Partial<Comparison> = {}): Comparison {
  return {
    model_name: "iris",
    versions: [3, 5],
    metrics: { accuracy: [0.9, 0.95], loss: [0.4, 0.3], f1: [null, 0.8] },
    lineage_diff: { execution_id: [12, 15], "lineage.data": [[{ uri: "a" }], [{ uri: "b" }]] },
    ...over,
  };
}
