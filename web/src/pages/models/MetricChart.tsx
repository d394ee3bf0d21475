// A metric across versions (ECharts via the shared Chart): which metric and which x axis are
// search parameters, so a plot is a link.
import { useMemo } from "react";
import { Chart } from "../../components/Chart";
import { chartOption, chartPoints, chartTable, metricNames, type XAxisMode } from "./chartData";
import type { Change, Version } from "./types";

export function MetricChart({
  versions,
  history,
  metric,
  xMode,
  onMetric,
  onXMode,
}: {
  versions: readonly Version[];
  history: readonly Change[];
  /** the chosen metric (URL), null for the first one */
  metric: string | null;
  xMode: XAxisMode;
  onMetric: (metric: string) => void;
  onXMode: (mode: XAxisMode) => void;
}) {
  const names = useMemo(() => metricNames(versions), [versions]);
  const chosen = metric != null && names.includes(metric) ? metric : (names[0] ?? null);
  const points = useMemo(
    () => (chosen == null ? [] : chartPoints(versions, history, chosen)),
    [versions, history, chosen],
  );
  const option = useMemo(() => chartOption(points, chosen ?? "", xMode), [points, chosen, xMode]);
  const table = useMemo(() => chartTable(points, chosen ?? ""), [points, chosen]);
  if (chosen == null) return <p className="muted">No version has logged a metric yet.</p>;
  return (
    <>
      <div className="toolbar">
        <label>
          Metric
          <select value={chosen} onChange={(e) => onMetric(e.target.value)}>
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          X axis
          <select value={xMode} onChange={(e) => onXMode(e.target.value as XAxisMode)}>
            <option value="time">created time</option>
            <option value="version">version number</option>
          </select>
        </label>
      </div>
      {metric != null && metric !== chosen && (
        <p className="muted">No version has logged a metric of that name; showing {chosen}.</p>
      )}
      <Chart
        option={option}
        table={table}
        ariaLabel={`${chosen} per version`}
        testId="metric-chart"
      />
    </>
  );
}
