// The metric plot across versions: one point per version that logged the metric, marked with
// the version's validation outcome (from the history) and whether it holds the served alias.
import { fmtNumber, fmtTime } from "../../format";
import type { ChartOption, ChartTable } from "../../components/Chart";
import { SERVING_ALIAS, type Change, type Version } from "./types";

export type Outcome = "validated" | "rejected";
export type XAxisMode = "time" | "version";

export interface ChartPoint {
  version: number;
  /** the version's creation time, ms since the epoch */
  created: number;
  createdAt: string;
  value: number;
  outcome: Outcome | null;
  aliases: string[];
  deployed: boolean;
}

const OUTCOMES: ReadonlySet<string> = new Set<Outcome>(["validated", "rejected"]);

function isOutcome(value: string | null | undefined): value is Outcome {
  return value != null && OUTCOMES.has(value);
}

/** Each version's latest validation outcome. The store records a validation as a stage change
 * (kind ``stage``) to ``validated`` or ``rejected``; a later promotion moves the stage on to
 * ``deployed`` or ``retired``, so the current stage alone would forget the outcome. */
export function validationOutcomes(history: readonly Change[]): Map<number, Outcome> {
  const outcomes = new Map<number, Outcome>();
  for (const change of [...history].sort((a, b) => a.seq - b.seq)) {
    if (change.kind === "stage" && isOutcome(change.to_value)) {
      outcomes.set(change.version, change.to_value);
    }
  }
  return outcomes;
}

/** Every metric name any version logged, sorted: the choices of the "Metric" select. */
export function metricNames(versions: readonly Version[]): string[] {
  const names = new Set<string>();
  for (const version of versions) for (const name of Object.keys(version.metrics)) names.add(name);
  return [...names].sort();
}

/** One point per version having ``metric`` (its newest value), oldest first. */
export function chartPoints(
  versions: readonly Version[],
  history: readonly Change[],
  metric: string,
): ChartPoint[] {
  const outcomes = validationOutcomes(history);
  const points: ChartPoint[] = [];
  for (const version of versions) {
    if (!Object.hasOwn(version.metrics, metric)) continue;
    const value = version.metrics[metric];
    if (typeof value !== "number") continue;
    points.push({
      version: version.version,
      created: Date.parse(version.created_at),
      createdAt: version.created_at,
      value,
      outcome:
        outcomes.get(version.version) ?? (isOutcome(version.stage) ? version.stage : null),
      aliases: version.aliases,
      deployed: version.aliases.includes(SERVING_ALIAS),
    });
  }
  return points.sort((a, b) => a.created - b.created || a.version - b.version);
}

/** The numbers for screen readers: exactly one row per point (the figure's data-points). */
export function chartTable(points: readonly ChartPoint[], metric: string): ChartTable {
  return {
    columns: ["version", "created", metric, "validation", "aliases"],
    rows: points.map((p) => [
      p.version,
      fmtTime(p.createdAt),
      p.value,
      p.outcome ?? "not validated",
      p.aliases.join(", ") || "—",
    ]),
  };
}

const COLORS = { validated: "#1f8a4c", rejected: "#c93535", none: "#8a94a3", deployed: "#2f6fdf" };

interface PointDatum {
  value: [number, number];
  point: ChartPoint;
}

/** Tooltip text. Plain text rendered by ECharts itself (``renderMode: "richText"``), never
 * HTML, so an alias or metric name cannot inject markup. */
export function pointLabel(point: ChartPoint): string {
  return [
    `version ${point.version}`,
    `value ${fmtNumber(point.value)}`,
    point.outcome ?? "not validated",
    fmtTime(point.createdAt),
    point.aliases.length ? `aliases: ${point.aliases.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

export function chartOption(
  points: readonly ChartPoint[],
  metric: string,
  xMode: XAxisMode,
): ChartOption {
  const datum = (point: ChartPoint): PointDatum => ({
    value: [xMode === "time" ? point.created : point.version, point.value],
    point,
  });
  const scatter = (name: string, symbol: string, color: string, chosen: ChartPoint[]) => ({
    type: "scatter",
    name,
    symbol,
    symbolSize: 11,
    itemStyle: { color },
    data: chosen.map(datum),
    z: 3,
  });
  const deployed = points.find((p) => p.deployed);
  return {
    grid: { left: 56, right: 24, top: 40, bottom: 40 },
    legend: { top: 0 },
    tooltip: {
      trigger: "item",
      renderMode: "richText",
      formatter: (params: { data?: PointDatum }) => (params.data ? pointLabel(params.data.point) : ""),
    },
    xAxis:
      xMode === "time"
        ? { type: "time", name: "created" }
        : { type: "value", name: "version", minInterval: 1 },
    yAxis: { type: "value", name: metric, scale: true },
    series: [
      {
        type: "line",
        name: "value",
        data: points.map(datum),
        showSymbol: false,
        lineStyle: { color: COLORS.none },
        itemStyle: { color: COLORS.none },
        markLine: deployed
          ? {
              symbol: "none",
              lineStyle: { color: COLORS.deployed, type: "dashed" },
              label: { formatter: `${SERVING_ALIAS}: v${deployed.version}`, position: "insideEndTop" },
              data: [{ xAxis: datum(deployed).value[0] }],
            }
          : undefined,
      },
      scatter("validated", "circle", COLORS.validated, points.filter((p) => p.outcome === "validated")),
      scatter("rejected", "triangle", COLORS.rejected, points.filter((p) => p.outcome === "rejected")),
      scatter("not validated", "emptyCircle", COLORS.none, points.filter((p) => p.outcome === null)),
      {
        // a ring around the served version's point (its outcome still shows inside)
        ...scatter(SERVING_ALIAS, "emptyCircle", COLORS.deployed, deployed ? [deployed] : []),
        symbolSize: 22,
        itemStyle: { color: COLORS.deployed, borderWidth: 3 },
        z: 2,
      },
    ],
  };
}
