import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ExecutionPage } from "../ExecutionPage";
import { jobEvent, makeDetail, makeJob, twoJobDetail } from "./fixtures";
import type { ExecutionDetail } from "./model";
import { fakeApi, json, openStream, renderAt, sse, type Call } from "./testing";

const fetchMock = vi.hoisted(() => {
  const mock = vi.fn();
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});
const role = vi.hoisted(() => ({ editor: true }));
vi.mock("../../api/session", () => ({ useCan: () => role.editor }));

const routes = [{ path: "/executions/:id", element: <ExecutionPage /> }];
const events = [
  jobEvent("JOB_RUNNING", "prepare", "2025-01-01T10:00:02Z"),
  jobEvent("JOB_SUCCEEDED", "prepare", "2025-01-01T10:00:12Z"),
  jobEvent("JOB_RUNNING", "train", "2025-01-01T10:00:30Z"),
  jobEvent("JOB_QUEUED", "train", "2025-01-01T10:00:35Z"),
  jobEvent("JOB_RUNNING", "train", "2025-01-01T10:00:40Z"),
  jobEvent("JOB_SUCCEEDED", "train", "2025-01-01T10:00:50Z"),
];

function serve(
  detail: () => ExecutionDetail,
  extra: (call: Call) => Response | undefined = () => undefined,
  listed = events,
) {
  return fakeApi(fetchMock, [
    extra,
    ({ url, method }) =>
      method === "GET" && url.pathname === "/api/v1/executions/7" ? json(detail()) : undefined,
    ({ url }) =>
      url.pathname === "/api/v1/events" ? json({ data: listed, next_cursor: null }) : undefined,
  ]);
}

beforeEach(() => {
  role.editor = true;
});
afterEach(() => vi.restoreAllMocks());

describe("ExecutionPage", () => {
  it("shows a finished execution's header, job graph, timeline and jobs in two requests", async () => {
    const calls = serve(twoJobDetail);
    renderAt("/executions/7", routes);
    const status = await screen.findByTestId("execution-status");
    expect(within(status).getByTestId("status")).toHaveAttribute("data-status", "succeeded");
    expect(screen.getByRole("link", { name: "wine" })).toHaveAttribute("href", "/workflows/wine");

    const boxes = screen.getAllByTestId("graph-node");
    expect(boxes.map((box) => [box.dataset.nodeId, box.dataset.status])).toEqual([
      ["prepare", "succeeded"],
      ["train", "succeeded"],
    ]);
    expect(within(boxes[0]).getByText("clean (transform): 100 → 90 rows")).toBeInTheDocument();
    expect(within(boxes[1]).getByText("flink · attempt 2/3 · 20.0 s")).toBeInTheDocument();

    await waitFor(() => expect(screen.getAllByTestId("timeline-bar")).toHaveLength(3));
    const bars = screen.getAllByTestId("timeline-bar");
    expect(bars.map((bar) => bar.className)).toEqual([
      "timeline-bar status-succeeded",
      "timeline-bar status-failed",
      "timeline-bar status-succeeded",
    ]);

    const logLinks = screen.getAllByTestId("job-log-link");
    expect(logLinks.map((link) => link.getAttribute("href"))).toEqual(["/jobs/11/logs", "/jobs/12/logs"]);
    expect(screen.getByRole("button", { name: "Rerun" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Stop" })).toBeNull();
    // finished: the detail and the events, no stream
    expect(calls.map((call) => call.url.pathname)).toEqual(["/api/v1/executions/7", "/api/v1/events"]);
    expect(calls[1].url.searchParams.get("key")).toBe("execution/7");
  });

  it("selects a job from its box and shows its nodes, handle and Flink UI link", async () => {
    serve(twoJobDetail);
    renderAt("/executions/7", routes);
    const boxes = await screen.findAllByTestId("graph-node");
    fireEvent.click(boxes[1]);
    const details = await screen.findByTestId("job-details");
    expect(details).toHaveAttribute("data-job-name", "train");
    expect(screen.getByTestId("location")).toHaveTextContent("/executions/7?job=train");
    expect(within(details).getAllByTestId("job-node").map((row) => row.dataset.node)).toEqual(["fit"]);
    expect(within(details).getByTestId("flink-ui-link")).toHaveAttribute(
      "href",
      "http://flink:8081/#/job/completed/abc123/overview",
    );
    fireEvent.click(within(details).getByRole("link", { name: "close the job's details" }));
    await waitFor(() => expect(screen.queryByTestId("job-details")).toBeNull());
  });

  it("reruns a finished execution and goes to the new one", async () => {
    const calls = serve(twoJobDetail, ({ url, method }) =>
      method === "POST" && url.pathname === "/api/v1/executions/7/rerun"
        ? json(makeDetail({ id: 8, status: "queued" }), 201)
        : undefined,
    );
    renderAt("/executions/7", routes);
    fireEvent.click(await screen.findByRole("button", { name: "Rerun" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/executions/8"));
    expect(calls.some((call) => call.method === "POST")).toBe(true);
  });

  it("updates job statuses live from the event stream, and stops after confirming", async () => {
    let detail = makeDetail({
      jobs: [makeJob({ id: 21, name: "score", status: "running", attempt: 1, started_at: "2025-01-01T10:00:02Z" })],
    });
    const started = jobEvent("JOB_RUNNING", "score", "2025-01-01T10:00:02Z");
    let stream: ReturnType<typeof openStream> | null = null;
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    const calls = serve(
      () => detail,
      ({ url, method, signal }) => {
        if (url.pathname === "/api/v1/events/stream") {
          stream = openStream(signal);
          return stream.response;
        }
        if (method === "POST" && url.pathname === "/api/v1/executions/7/stop") {
          return json({ ...detail, status: "stopping" });
        }
        return undefined;
      },
      [started],
    );
    renderAt("/executions/7", routes);
    await waitFor(() => expect(stream).not.toBeNull());
    const streamCall = calls.find((call) => call.url.pathname === "/api/v1/events/stream")!;
    expect(streamCall.url.searchParams.get("key")).toBe("execution/7");
    expect(streamCall.url.searchParams.get("after_seq")).toBe(String(started.seq));
    expect(calls).toHaveLength(3);

    detail = { ...detail, jobs: [{ ...detail.jobs[0], status: "succeeded", ended_at: "2025-01-01T10:00:09Z" }] };
    stream!.push(sse(jobEvent("JOB_SUCCEEDED", "score", "2025-01-01T10:00:09Z")));
    await waitFor(() => expect(screen.getByTestId("graph-node")).toHaveAttribute("data-status", "succeeded"));
    const bar = screen.getByTestId("timeline-bar");
    expect(bar).toHaveAttribute("aria-label", "attempt 1: succeeded, 7.0 s");

    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(calls.some((call) => call.method === "POST")).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Stop" }));
    await waitFor(() => expect(calls.some((call) => call.url.pathname.endsWith("/stop"))).toBe(true));
    expect(calls.find((call) => call.url.pathname.endsWith("/stop"))!.url.searchParams.get("wait")).toBe("0");
    await waitFor(() =>
      expect(within(screen.getByTestId("execution-status")).getByTestId("status")).toHaveAttribute(
        "data-status",
        "stopping",
      ),
    );
  });

  it("hides editor actions from viewers and shows the execution's error", async () => {
    role.editor = false;
    serve(() => ({ ...twoJobDetail(), status: "failed", error: "job 'train' failed" }));
    renderAt("/executions/7", routes);
    expect(await screen.findByTestId("execution-error")).toHaveTextContent("job 'train' failed");
    expect(screen.queryByRole("button", { name: "Rerun" })).toBeNull();
  });

  it("shows a problem for an unknown execution", async () => {
    fakeApi(fetchMock, [() => json({ title: "Not Found", status: 404, detail: "execution 7 not found" }, 404)]);
    renderAt("/executions/7", routes);
    expect(await screen.findByRole("alert")).toHaveTextContent("execution 7 not found");
  });
});
