import type { EventRecord } from "../../api/events";
import { executionOf, maxSeq, mergeEvents } from "./tail";

const event = (seq: number): EventRecord => ({
  seq,
  key: `k${seq}`,
  type: "T",
  value: String(seq),
  created_at: "2024-01-01T00:00:00Z",
});

describe("mergeEvents", () => {
  it("puts the newest on top whatever order events arrive in", () => {
    const merged = mergeEvents([event(3), event(1)], [event(2), event(5), event(4)]);
    expect(merged.map((e) => e.seq)).toEqual([5, 4, 3, 2, 1]);
  });

  it("keeps each seq once (the stream may repeat the last event of the first page)", () => {
    const merged = mergeEvents([event(2), event(1)], [event(2), event(3), event(3)]);
    expect(merged.map((e) => e.seq)).toEqual([3, 2, 1]);
  });

  it("drops the oldest beyond the cap", () => {
    const current = [event(3), event(2), event(1)];
    expect(mergeEvents(current, [event(4), event(5)], 3).map((e) => e.seq)).toEqual([5, 4, 3]);
  });

  it("keeps the same list when nothing new arrives", () => {
    const current = [event(2), event(1)];
    expect(mergeEvents(current, [])).toBe(current);
    expect(mergeEvents(current, [event(1)])).toBe(current);
  });

  it("caps a page longer than the cap even with nothing new", () => {
    expect(mergeEvents([], [event(1), event(2), event(3)], 2).map((e) => e.seq)).toEqual([3, 2]);
  });
});

describe("helpers", () => {
  it("finds the highest seq", () => {
    expect(maxSeq([event(4), event(9), event(2)])).toBe(9);
    expect(maxSeq([], 7)).toBe(7);
  });

  it("links only execution keys", () => {
    expect(executionOf("execution/12")).toBe(12);
    expect(executionOf("execution/12/x")).toBeNull();
    expect(executionOf("churn")).toBeNull();
  });
});
