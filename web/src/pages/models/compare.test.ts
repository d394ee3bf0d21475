import { fmtDelta, formatCompare, lineageRows, metricRows, parseCompare, showValue } from "./compare";
import { comparison } from "./fixtures";

describe("the compare parameter", () => {
  it("parses a pair, a half pair and rubbish", () => {
    expect(parseCompare("3,5")).toEqual({ a: 3, b: 5 });
    expect(parseCompare("3,")).toEqual({ a: 3, b: null });
    expect(parseCompare(",5")).toEqual({ a: null, b: 5 });
    expect(parseCompare("x,0")).toEqual({ a: null, b: null });
    expect(parseCompare("1.5,-2")).toEqual({ a: null, b: null });
    expect(parseCompare(null)).toEqual({ a: null, b: null });
  });

  it("formats back, dropping the parameter when nothing is chosen", () => {
    expect(formatCompare({ a: 3, b: 5 })).toBe("3,5");
    expect(formatCompare({ a: null, b: 5 })).toBe(",5");
    expect(formatCompare({ a: null, b: null })).toBeNull();
  });
});

describe("metricRows", () => {
  it("has each metric by name with b - a, none where a side lacks it", () => {
    const rows = metricRows(comparison());
    expect(rows.map((r) => r.name)).toEqual(["accuracy", "f1", "loss"]);
    expect(rows[0].delta).toBeCloseTo(0.05);
    expect(rows[1].delta).toBeNull();
    expect(rows[2].delta).toBeCloseTo(-0.1);
  });
});

describe("lineageRows", () => {
  it("shows each differing field's values as text", () => {
    expect(lineageRows(comparison())).toEqual([
      { field: "execution_id", a: "12", b: "15" },
      { field: "lineage.data", a: '[{"uri":"a"}]', b: '[{"uri":"b"}]' },
    ]);
    expect(showValue(null)).toBe("—");
    expect(showValue("x")).toBe("x");
  });
});

describe("fmtDelta", () => {
  it("signs the delta", () => {
    const fmt = (value: number) => value.toFixed(2);
    expect(fmtDelta(0.05, fmt)).toBe("+0.05");
    expect(fmtDelta(-0.1, fmt)).toBe("−0.10");
    expect(fmtDelta(0, fmt)).toBe("0");
    expect(fmtDelta(null, fmt)).toBe("—");
  });
});
