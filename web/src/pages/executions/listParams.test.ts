import { describe, expect, it } from "vitest";
import { cursorOf, newerPage, olderPage, withFilter } from "./listParams";

describe("list paging in the URL", () => {
  it("walks older pages and back to the first one", () => {
    const first = new URLSearchParams("status=running");
    const second = olderPage(first, "90");
    expect(second.toString()).toBe("status=running&cursor=90");
    const third = olderPage(second, "40");
    expect(Object.fromEntries(third)).toEqual({ status: "running", cursor: "40", prev: "90" });
    expect(cursorOf(third)).toBe(40);
    const back = newerPage(third);
    expect(Object.fromEntries(back)).toEqual({ status: "running", cursor: "90" });
    expect(Object.fromEntries(newerPage(back))).toEqual({ status: "running" });
    expect(cursorOf(newerPage(back))).toBeUndefined();
  });

  it("returns to the first page when a filter changes, and drops empty filters", () => {
    const deep = new URLSearchParams("mode=batch&cursor=40&prev=90");
    expect(Object.fromEntries(withFilter(deep, "workflow", "wine"))).toEqual({ mode: "batch", workflow: "wine" });
    expect(Object.fromEntries(withFilter(deep, "mode", ""))).toEqual({});
  });

  it("ignores a cursor that is not a positive integer", () => {
    expect(cursorOf(new URLSearchParams("cursor=abc"))).toBeUndefined();
    expect(cursorOf(new URLSearchParams("cursor=-3"))).toBeUndefined();
  });
});
