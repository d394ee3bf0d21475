import { describe, expect, it } from "vitest";
import { jobEvent, makeDetail, makeJob, twoJobDetail } from "./fixtures";
import { attemptRows, flinkUiUrl, fmtAttempt, fmtRows, isFinished, jobGraph, jobRows } from "./model";

const T = (s: number) => `2025-01-01T10:00:${String(s).padStart(2, "0")}Z`;
const ms = (s: number) => Date.parse(T(s));

describe("attemptRows", () => {
  const jobs = [makeJob({ id: 1, name: "a" }), makeJob({ id: 2, name: "b" })];

  it("builds one bar per attempt: a retried attempt failed, the next one ends with its status", () => {
    const rows = attemptRows(jobs, [
      jobEvent("JOB_RUNNING", "a", T(1)),
      jobEvent("JOB_QUEUED", "a", T(3)),
      jobEvent("JOB_RETRY", "a", T(3)),
      jobEvent("JOB_RUNNING", "a", T(5)),
      jobEvent("JOB_SUCCEEDED", "a", T(9)),
    ]);
    expect(rows.map((row) => row.id)).toEqual(["a", "b"]);
    expect(rows[0].bars).toEqual([
      { start: ms(1), end: ms(3), status: "failed", label: "attempt 1 (retried)" },
      { start: ms(5), end: ms(9), status: "succeeded", label: "attempt 2" },
    ]);
    expect(rows[1].bars).toEqual([]);
  });

  it("leaves a running attempt open and orders events by seq, not arrival", () => {
    const started = jobEvent("JOB_RUNNING", "b", T(2));
    const running = jobEvent("JOB_RUNNING", "a", T(4));
    const ended = jobEvent("JOB_FAILED", "b", T(8));
    const rows = attemptRows(jobs, [running, ended, started].sort((x, y) => y.seq - x.seq));
    expect(rows[0].bars).toEqual([{ start: ms(4), end: null, status: "running", label: "attempt 1" }]);
    expect(rows[1].bars).toEqual([{ start: ms(2), end: ms(8), status: "failed", label: "attempt 1" }]);
  });

  it("falls back to started_at/ended_at for jobs without events", () => {
    const rows = attemptRows(
      [
        makeJob({ id: 1, name: "a", status: "killed", attempt: 2, started_at: T(1), ended_at: T(4) }),
        makeJob({ id: 2, name: "b", status: "running", attempt: 1, started_at: T(2) }),
        makeJob({ id: 3, name: "c" }),
      ],
      [jobEvent("JOB_QUEUED", "c", T(0))],
    );
    expect(rows.map((row) => row.bars)).toEqual([
      [{ start: ms(1), end: ms(4), status: "killed", label: "attempt 2" }],
      [{ start: ms(2), end: null, status: "running", label: "attempt 1" }],
      [],
    ]);
  });

  it("adds a row for a job the events name but the list does not have yet", () => {
    const rows = attemptRows([], [jobEvent("JOB_RUNNING", "late", T(1))]);
    expect(rows).toHaveLength(1);
    expect(rows[0].label).toBe("late");
  });
});

describe("jobGraph", () => {
  it("makes one box per job with its nodes, rows, engine, attempt and duration", () => {
    const { nodes, edges } = jobGraph(twoJobDetail());
    expect(nodes.map((node) => [node.id, node.status, node.tone])).toEqual([
      ["prepare", "succeeded", "engine-local"],
      ["train", "succeeded", "engine-flink"],
    ]);
    expect(nodes[0].lines).toEqual(["read (source): 100 rows", "clean (transform): 100 → 90 rows"]);
    expect(nodes[0].detail).toBe("local · attempt 1/1 · 10.0 s");
    expect(nodes[1].detail).toBe("flink · attempt 2/3 · 20.0 s");
    expect(edges).toEqual([{ source: "prepare", target: "train", kind: "job" }]);
  });

  it("takes edges from the spec's job names when the ids are missing, and survives odd specs", () => {
    const detail = makeDetail({
      jobs: [
        makeJob({ id: 1, name: "up", spec: { nodes: "not a list" } }),
        makeJob({ id: 2, name: "down", spec: { nodes: [{ id: 3 }, { id: "x" }], depends_on: ["up", "gone"] } }),
      ],
    });
    const { nodes, edges } = jobGraph(detail);
    expect(nodes[0].lines).toEqual([]);
    expect(nodes[1].lines).toEqual(["x (?)"]);
    expect(nodes[1].detail).toBe("local · not started");
    expect(edges).toEqual([{ source: "up", target: "down", kind: "job" }]);
  });
});

describe("small formatters", () => {
  it("tells finished statuses from live ones", () => {
    expect(["succeeded", "failed", "killed", "upstream_failed"].every(isFinished)).toBe(true);
    expect(["queued", "running", "stopping"].some(isFinished)).toBe(false);
  });

  it("formats rows and attempts", () => {
    expect(fmtRows(null)).toBeNull();
    expect(fmtRows({ in: 0, out: 0 })).toBe("0 rows");
    expect(fmtRows({ in: 1500, out: 0 })).toBe(`${(1500).toLocaleString()} rows`);
    const [prepare, train] = twoJobDetail().jobs;
    expect(jobRows(prepare)).toBe("90");
    expect(jobRows(train)).toBe("90");
    expect(fmtAttempt(train)).toBe("attempt 2/3");
  });
});

describe("flinkUiUrl", () => {
  it("points a finished job at Flink's completed-jobs page", () => {
    expect(flinkUiUrl(twoJobDetail().jobs[1])).toBe("http://flink:8081/#/job/completed/abc123/overview");
  });

  it("keeps the running page for a running job, and refuses what is not http(s)", () => {
    const running = makeJob({
      id: 1,
      name: "j",
      status: "running",
      result: { engine: { flink: { job_id: "x", web_ui: "https://f/#/job/running/x/overview" } } },
    });
    expect(flinkUiUrl(running)).toBe("https://f/#/job/running/x/overview");
    const script = makeJob({ id: 2, name: "k", result: { engine: { flink: { web_ui: "javascript:alert(1)" } } } });
    expect(flinkUiUrl(script)).toBeNull();
    expect(flinkUiUrl(makeJob({ id: 3, name: "m", result: { engine: { flink: { job_id: "y" } } } }))).toBeNull();
    expect(flinkUiUrl(makeJob({ id: 4, name: "n" }))).toBeNull();
  });
});
