import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Timeline, type TimelineRow } from "./Timeline";

const rows: TimelineRow[] = [
  {
    id: "prepare",
    label: "prepare",
    bars: [
      { start: 0, end: 2_000, status: "failed", label: "attempt 1" },
      { start: 4_000, end: 6_000, status: "succeeded", label: "attempt 2" },
    ],
  },
  { id: "train", label: "train", bars: [{ start: 6_000, end: null, status: "running", label: "attempt 1" }] },
];

const percent = (value: string) => Number(value.replace("%", ""));

describe("Timeline", () => {
  it("places bars in order on one axis, from the first start to the last end", () => {
    render(<Timeline rows={rows} now={10_000} />);
    expect(screen.getAllByTestId("timeline-row").map((row) => row.textContent)).toEqual(["prepare", "train"]);
    const bars = screen.getAllByTestId("timeline-bar");
    expect(bars).toHaveLength(3);
    const lefts = bars.map((bar) => percent(bar.style.left));
    expect(lefts).toEqual([0, 40, 60]);
    expect(bars.map((bar) => percent(bar.style.width))).toEqual([20, 20, 40]);
    expect(bars[0]).toHaveClass("status-failed");
    expect(bars[1]).toHaveAttribute("aria-label", "attempt 2: succeeded, 2.0 s");
  });

  it("ends a running bar at now", () => {
    render(<Timeline rows={rows} now={16_000} />);
    const running = screen.getAllByTestId("timeline-bar")[2];
    expect(percent(running.style.left)).toBeCloseTo(37.5);
    expect(percent(running.style.width)).toBeCloseTo(62.5);
    expect(running).toHaveAttribute("aria-label", "attempt 1: running, 10.0 s");
  });

  it("says so when no job has started", () => {
    render(<Timeline rows={[{ id: "a", label: "a", bars: [] }]} />);
    expect(screen.queryByTestId("timeline-bar")).toBeNull();
    expect(screen.getByText("No job has started yet.")).toBeInTheDocument();
  });
});
