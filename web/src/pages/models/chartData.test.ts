import { chartOption, chartPoints, chartTable, metricNames, pointLabel, validationOutcomes } from "./chartData";
import { aliasMove, change, validation, version } from "./fixtures";

describe("validationOutcomes", () => {
  it("takes each version's latest validated/rejected stage change, ignoring later stages", () => {
    const history = [
      validation(1, "validated"),
      validation(2, "validated"),
      validation(2, "rejected", "validated"),
      change({ version: 1, kind: "stage", from_value: "validated", to_value: "deployed" }),
      aliasMove("deployed", null, 1),
      change({ version: 3, kind: "stage", from_value: null, to_value: "generated" }),
    ];
    const outcomes = validationOutcomes(history);
    expect(Object.fromEntries(outcomes)).toEqual({ 1: "validated", 2: "rejected" });
  });

  it("orders by seq, not by position in the list", () => {
    const first = validation(1, "rejected");
    const second = validation(1, "validated", "rejected");
    expect(validationOutcomes([second, first]).get(1)).toBe("validated");
  });
});

describe("chartPoints", () => {
  const versions = [
    version(4, { metrics: { accuracy: 0.97 }, aliases: ["deployed"], stage: "deployed", created_at: "2026-01-04T00:00:00Z" }),
    version(3, { metrics: { loss: 0.2 }, created_at: "2026-01-03T00:00:00Z" }),
    version(2, { metrics: { accuracy: 0.5 }, stage: "rejected", created_at: "2026-01-02T00:00:00Z" }),
    version(1, { metrics: { accuracy: 0.9 }, stage: "retired", created_at: "2026-01-01T00:00:00Z" }),
  ];
  const history = [validation(1, "validated"), validation(4, "validated")];

  it("has one point per version with the metric, oldest first, with outcome and deployed mark", () => {
    const points = chartPoints(versions, history, "accuracy");
    expect(points.map((p) => [p.version, p.value, p.outcome, p.deployed])).toEqual([
      [1, 0.9, "validated", false],
      [2, 0.5, "rejected", false], // no history row: the current stage says rejected
      [4, 0.97, "validated", true],
    ]);
  });

  it("has no points for a metric no version logged", () => {
    expect(chartPoints(versions, history, "nope")).toEqual([]);
    expect(chartPoints(versions, history, "constructor")).toEqual([]);
  });

  it("makes one table row per point and marks the deployed point and its line", () => {
    const points = chartPoints(versions, history, "accuracy");
    const table = chartTable(points, "accuracy");
    expect(table.rows).toHaveLength(3);
    expect(table.rows.map((row) => row[3])).toEqual(["validated", "rejected", "validated"]);
    expect(table.rows[2][4]).toBe("deployed");
    const option = chartOption(points, "accuracy", "version") as {
      series: { name: string; data: { value: number[] }[]; markLine?: { data: { xAxis: number }[] } }[];
    };
    const byName = Object.fromEntries(option.series.map((s) => [s.name, s]));
    expect(byName.validated.data.map((d) => d.value[0])).toEqual([1, 4]);
    expect(byName.rejected.data.map((d) => d.value[0])).toEqual([2]);
    expect(byName.deployed.data.map((d) => d.value)).toEqual([[4, 0.97]]);
    expect(byName.value.markLine?.data).toEqual([{ xAxis: 4 }]);
  });

  it("puts the creation time on the x axis in time mode", () => {
    const points = chartPoints(versions, history, "accuracy");
    const option = chartOption(points, "accuracy", "time") as { series: { data: { value: number[] }[] }[] };
    expect(option.series[0].data[0].value[0]).toBe(Date.parse("2026-01-01T00:00:00Z"));
  });

  it("labels a point in plain text", () => {
    const [point] = chartPoints(versions, history, "accuracy");
    expect(pointLabel(point)).toContain("version 1");
    expect(pointLabel(point)).toContain("validated");
  });
});

describe("metricNames", () => {
  it("is the sorted union of every version's metric names", () => {
    expect(metricNames([version(1, { metrics: { b: 1, a: 2 } }), version(2, { metrics: { c: 1, a: 1 } })])).toEqual([
      "a",
      "b",
      "c",
    ]);
  });
});
