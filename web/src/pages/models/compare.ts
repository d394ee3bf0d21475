// Two versions side by side, at a stable URL (``?compare=3,5``).
import type { Comparison } from "./types";

export interface ComparePair {
  a: number | null;
  b: number | null;
}

function versionNumber(text: string | undefined): number | null {
  if (!text || !/^\d+$/.test(text.trim())) return null;
  const number = Number(text);
  return number >= 1 ? number : null;
}

/** ``"3,5"`` -> {a: 3, b: 5}; a side that is missing or not a version number is null. */
export function parseCompare(param: string | null): ComparePair {
  const [a, b] = (param ?? "").split(",");
  return { a: versionNumber(a), b: versionNumber(b) };
}

/** The search parameter for a pair, or null when neither side is chosen. */
export function formatCompare(pair: ComparePair): string | null {
  if (pair.a == null && pair.b == null) return null;
  return `${pair.a ?? ""},${pair.b ?? ""}`;
}

export interface MetricRow {
  name: string;
  a: number | null;
  b: number | null;
  /** b - a, when both versions have the metric */
  delta: number | null;
}

export function metricRows(comparison: Comparison): MetricRow[] {
  return Object.entries(comparison.metrics)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([name, [a, b]]) => ({
      name,
      a,
      b,
      delta: a != null && b != null ? b - a : null,
    }));
}

/** Any lineage value as text: strings as they are, structures as JSON, nothing as a dash. */
export function showValue(value: unknown): string {
  if (value == null) return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export interface LineageRow {
  field: string;
  a: string;
  b: string;
}

export function lineageRows(comparison: Comparison): LineageRow[] {
  return Object.entries(comparison.lineage_diff)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([field, [a, b]]) => ({ field, a: showValue(a), b: showValue(b) }));
}

/** A signed delta (``+0.02``, ``-3``); a dash when one side lacks the metric. */
export function fmtDelta(delta: number | null, format: (value: number) => string): string {
  if (delta == null) return "—";
  if (delta === 0) return "0";
  return delta > 0 ? `+${format(delta)}` : `−${format(-delta)}`;
}
