import { describe, expect, it } from "vitest";
import { EMPTY_LOG, appendLines, countMatches, highlight, readLines, splitLines } from "./log";

const numbered = (from: number, n: number) => Array.from({ length: n }, (_, i) => `line ${from + i}`);
const all = (buffer: typeof EMPTY_LOG) => buffer.chunks.flatMap((chunk) => chunk.lines);

describe("appendLines", () => {
  it("fills chunks and keeps untouched chunks identical", () => {
    const one = appendLines(EMPTY_LOG, numbered(0, 5), 100, 2);
    expect(one.chunks.map((chunk) => chunk.lines.length)).toEqual([2, 2, 1]);
    const two = appendLines(one, numbered(5, 2), 100, 2);
    expect(two.chunks.map((chunk) => chunk.id)).toEqual([0, 1, 2, 3]);
    expect(two.chunks[0]).toBe(one.chunks[0]);
    expect(two.chunks[1]).toBe(one.chunks[1]);
    expect(two.chunks[2]).not.toBe(one.chunks[2]);
    expect(all(two)).toEqual(numbered(0, 7));
    expect(two.count).toBe(7);
  });

  it("keeps only the last cap lines and counts what it dropped", () => {
    let buffer = appendLines(EMPTY_LOG, numbered(0, 5), 4, 2);
    buffer = appendLines(buffer, numbered(5, 3), 4, 2);
    expect(all(buffer)).toEqual(numbered(4, 4));
    expect(buffer.count).toBe(4);
    expect(buffer.dropped).toBe(4);
    expect(appendLines(buffer, [], 4, 2)).toBe(buffer);
  });
});

describe("text helpers", () => {
  it("splits complete lines and keeps the rest", () => {
    expect(splitLines("par", "tial\r\nnext\nhalf")).toEqual({ lines: ["partial", "next"], rest: "half" });
  });

  it("cuts a line into marked and plain fragments, case-insensitively", () => {
    expect(highlight("Error: an error", "ERROR")).toEqual([
      { text: "Error", match: true },
      { text: ": an ", match: false },
      { text: "error", match: true },
    ]);
    expect(highlight("<b>x</b>", "")).toEqual([{ text: "<b>x</b>", match: false }]);
    expect(highlight("", "x")).toEqual([{ text: "", match: false }]);
  });

  it("counts every match in the log", () => {
    const buffer = appendLines(EMPTY_LOG, ["aa a", "b", "A"], 10, 2);
    expect(countMatches(buffer, "a")).toBe(4);
    expect(countMatches(buffer, "aa")).toBe(1);
    expect(countMatches(buffer, "")).toBe(0);
  });
});

describe("readLines", () => {
  it("hands over lines split across chunks, multi-byte characters included, and the unterminated last one", async () => {
    const bytes = new TextEncoder().encode("first\nsecönd\nlast");
    const cut = [bytes.slice(0, 3), bytes.slice(3, 11), bytes.slice(11)]; // inside "ö"
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of cut) controller.enqueue(part);
        controller.close();
      },
    });
    const got: string[][] = [];
    await readLines(new Response(body), (lines) => got.push(lines));
    expect(got.flat()).toEqual(["first", "secönd", "last"]);
  });

  it("stops quietly when aborted", async () => {
    const abort = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("x\n"));
        abort.abort();
      },
    });
    const got: string[] = [];
    await readLines(new Response(body), (lines) => got.push(...lines), abort.signal);
    expect(got).toEqual(["x"]);
  });
});
