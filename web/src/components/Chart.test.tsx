// The shared Chart: the figure E2E tests count points on, the table screen readers read, and the
// ECharts instance that draws what the option says.
import { render, screen, within } from "@testing-library/react";
import * as echarts from "echarts/core";
import { Chart, type ChartOption } from "./Chart";

// jsdom has no canvas; ECharts measures label text with one (this quiets "Not implemented").
beforeAll(() => {
  HTMLCanvasElement.prototype.getContext = (() => ({
    font: "",
    measureText: (text: string) => ({ width: text.length * 6 }),
  })) as unknown as HTMLCanvasElement["getContext"];
});

const OPTION: ChartOption = {
  xAxis: { type: "value" },
  yAxis: { type: "value" },
  series: [{ type: "line", name: "accuracy", data: [[1, 0.5], [2, 0.75], [3, 0.9]] }],
};

function instanceOf(figure: HTMLElement): echarts.ECharts | undefined {
  const canvas = figure.querySelector<HTMLElement>("[role=img]");
  return canvas ? echarts.getInstanceByDom(canvas) : undefined;
}

function seriesOf(figure: HTMLElement): unknown[] {
  const option = instanceOf(figure)?.getOption() as { series?: unknown[] } | undefined;
  return option?.series ?? [];
}

describe("Chart", () => {
  it("sets data-points to the number of table rows and names the figure by testId", () => {
    render(
      <Chart
        option={OPTION}
        ariaLabel="accuracy per version"
        testId="metric-chart"
        table={{ columns: ["version", "value"], rows: [[1, 0.5], [2, 0.75], [3, 0.9]] }}
      />,
    );
    const figure = screen.getByTestId("metric-chart");
    expect(figure.tagName).toBe("FIGURE");
    expect(figure).toHaveAttribute("data-points", "3");
    expect(screen.getByRole("img", { name: "accuracy per version" })).toBeInTheDocument();
  });

  it("carries every row in a screen-reader table with the caption and column headers", () => {
    render(
      <Chart
        option={OPTION}
        ariaLabel="loss"
        testId="c"
        table={{ columns: ["step", "loss"], rows: [[0, 1.5], [1, "0.25"]] }}
      />,
    );
    const table = screen.getByRole("table", { name: "loss" });
    expect(table).toHaveClass("sr-only");
    expect(within(table).getAllByRole("columnheader").map((th) => th.textContent)).toEqual([
      "step",
      "loss",
    ]);
    const rows = within(table).getAllByRole("row").slice(1) as HTMLTableRowElement[];
    expect(rows.map((row) => [...row.cells].map((cell) => cell.textContent))).toEqual([
      ["0", "1.5"],
      ["1", "0.25"],
    ]);
  });

  it("renders cells as text, never as markup", () => {
    const hostile = "<img src=x onerror=alert(1)>";
    const { container } = render(
      <Chart option={OPTION} ariaLabel={hostile} testId="c" table={{ columns: [hostile], rows: [[hostile]] }} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByRole("cell")).toHaveTextContent(hostile);
  });

  it("has zero points for an empty table", () => {
    render(<Chart option={OPTION} ariaLabel="none" testId="c" table={{ columns: ["a"], rows: [] }} />);
    expect(screen.getByTestId("c")).toHaveAttribute("data-points", "0");
  });

  it("gives the option to ECharts and replaces it when the option changes", () => {
    const { rerender } = render(
      <Chart option={OPTION} ariaLabel="a" testId="c" table={{ columns: [], rows: [] }} />,
    );
    const figure = screen.getByTestId("c");
    expect(seriesOf(figure)).toHaveLength(1);
    const two: ChartOption = {
      ...OPTION,
      series: [
        { type: "line", data: [[1, 1]] },
        { type: "scatter", data: [[1, 1]] },
      ],
    };
    rerender(<Chart option={two} ariaLabel="a" testId="c" table={{ columns: [], rows: [] }} />);
    expect(seriesOf(figure)).toHaveLength(2);
  });

  it("disposes its ECharts instance when unmounted", () => {
    const { unmount } = render(
      <Chart option={OPTION} ariaLabel="a" testId="c" table={{ columns: [], rows: [] }} />,
    );
    const instance = instanceOf(screen.getByTestId("c"));
    expect(instance).toBeDefined();
    expect(instance?.isDisposed()).toBeFalsy();
    unmount();
    expect(instance?.isDisposed()).toBe(true);
  });

  // A new height re-creates the ECharts instance: it must be drawn again, not left empty.
  it("keeps drawing the option after its height changes", () => {
    const { rerender } = render(
      <Chart option={OPTION} ariaLabel="a" testId="c" table={{ columns: [], rows: [] }} />,
    );
    rerender(
      <Chart option={OPTION} ariaLabel="a" testId="c" height={200} table={{ columns: [], rows: [] }} />,
    );
    expect(seriesOf(screen.getByTestId("c"))).toHaveLength(1);
  });
});
