// The API shapes the model pages use, by the names they read as here (generated types only).
import type { Schemas } from "../../api/client";

export type ModelInfo = Schemas["ModelPublic"];
export type Version = Schemas["ModelVersionPublic"];
export type Change = Schemas["ModelChangePublic"];
export type Lineage = Schemas["ModelLineagePublic"];
export type Comparison = Schemas["ModelComparisonPublic"];
export type MetricPoint = Schemas["MetricPublic"];

/** The alias a model server follows (aiflow.schemas.entities.SERVING_ALIAS). */
export const SERVING_ALIAS = "deployed";

/** Where a model's or a version's page lives (names are URL-safe by the name rule; encoded
 * anyway, for names stored before the rule existed). */
export function modelHref(name: string): string {
  return `/models/${encodeURIComponent(name)}`;
}

export function versionHref(name: string, version: number): string {
  return `${modelHref(name)}/versions/${version}`;
}
