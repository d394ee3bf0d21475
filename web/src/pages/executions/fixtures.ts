// API-shaped data for the execution pages' tests (typed by the generated schema, so a changed
// API breaks the tests at compile time rather than silently).
import type { EventRecord } from "../../api/events";
import type { ExecutionDetail, Job } from "./model";

export function makeJob(fields: Partial<Job> & Pick<Job, "id" | "name">): Job {
  return {
    execution_id: 7,
    engine: "local",
    status: "queued",
    attempt: 0,
    max_retries: 0,
    retry_delay: 0,
    timeout: null,
    spec: { nodes: [] },
    depends_on: [],
    handle: null,
    log_uri: null,
    exit_code: null,
    error: null,
    result: null,
    created_at: "2025-01-01T10:00:00Z",
    started_at: null,
    ended_at: null,
    ...fields,
  };
}

export function makeDetail(fields: Partial<ExecutionDetail> = {}): ExecutionDetail {
  return {
    id: 7,
    workflow_version_id: 1,
    workflow_name: "wine",
    mode: "batch",
    engine: "local",
    deployer: "local",
    status: "running",
    driver_pid: 100,
    driver_host: "host",
    error: null,
    created_at: "2025-01-01T10:00:00Z",
    started_at: "2025-01-01T10:00:01Z",
    ended_at: null,
    trigger_id: null,
    trigger_event_seq: null,
    jobs: [],
    ...fields,
  };
}

let seq = 0;
export function jobEvent(type: string, job: string, at: string, key = "execution/7"): EventRecord {
  seq += 1;
  return { seq, key, type, value: job, created_at: at };
}

/** A finished two-job execution: `prepare` (two fused nodes) feeds `train` (retried once). */
export function twoJobDetail(): ExecutionDetail {
  return makeDetail({
    status: "succeeded",
    ended_at: "2025-01-01T10:01:00Z",
    jobs: [
      makeJob({
        id: 11,
        name: "prepare",
        status: "succeeded",
        attempt: 1,
        exit_code: 0,
        spec: {
          nodes: [
            { id: "read", kind: "source" },
            { id: "clean", kind: "transform" },
          ],
          depends_on: [],
          engine: "local",
        },
        result: { rows: { read: { in: 0, out: 100 }, clean: { in: 100, out: 90 } } },
        handle: { pid: 4242 },
        started_at: "2025-01-01T10:00:02Z",
        ended_at: "2025-01-01T10:00:12Z",
      }),
      makeJob({
        id: 12,
        name: "train",
        engine: "flink",
        status: "succeeded",
        attempt: 2,
        max_retries: 2,
        exit_code: 0,
        depends_on: [11],
        spec: { nodes: [{ id: "fit", kind: "train", model: "wine" }], depends_on: ["prepare"] },
        result: {
          rows: { fit: { in: 90, out: 0 } },
          engine: { flink: { job_id: "abc123", web_ui: "http://flink:8081/#/job/running/abc123/overview" } },
        },
        started_at: "2025-01-01T10:00:30Z",
        ended_at: "2025-01-01T10:00:50Z",
      }),
    ],
  });
}
