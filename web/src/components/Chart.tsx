// Charts with ECharts (tree-shaken core, SVG renderer: crisp, and no inline script for the CSP).
// Every chart also carries its numbers as a table for screen readers and keyboard users.
import { LineChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef, useState } from "react";

echarts.use([
  LineChart,
  ScatterChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  MarkLineComponent,
  SVGRenderer,
]);

/** Whether the page is dark now: ECharts takes its theme when an instance is made, so a
 * switch of theme makes a new one. */
function useDarkTheme(): boolean {
  const read = () => document.documentElement.dataset.theme === "dark";
  const [dark, setDark] = useState(read);
  useEffect(() => {
    const observer = new MutationObserver(() => setDark(read()));
    observer.observe(document.documentElement, { attributeFilter: ["data-theme"] });
    return () => observer.disconnect();
  }, []);
  return dark;
}

export type ChartOption = echarts.EChartsCoreOption;

export interface ChartTable {
  columns: string[];
  rows: (string | number)[][];
}

export function Chart({
  option,
  table,
  ariaLabel,
  height = 300,
  testId,
}: {
  option: ChartOption;
  table: ChartTable;
  ariaLabel: string;
  height?: number;
  testId?: string;
}) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const dark = useDarkTheme();
  useEffect(() => {
    if (!element.current) return;
    const instance = echarts.init(element.current, dark ? "dark" : undefined, {
      renderer: "svg",
      width: element.current.clientWidth || 600,
      height,
    });
    chart.current = instance;
    const resize = () => instance.resize({ width: element.current?.clientWidth || 600 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      instance.dispose();
      chart.current = null;
    };
  }, [height, dark]);
  // after the instance effect, and again when it made a new instance (a new height or theme)
  useEffect(() => {
    chart.current?.setOption({ backgroundColor: "transparent", ...option }, true);
  }, [option, height, dark]);
  return (
    <figure className="chart" data-testid={testId} data-points={table.rows.length}>
      <div ref={element} style={{ height, width: "100%" }} role="img" aria-label={ariaLabel} />
      <table className="sr-only">
        <caption>{ariaLabel}</caption>
        <thead>
          <tr>
            {table.columns.map((column) => (
              <th key={column}>{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
