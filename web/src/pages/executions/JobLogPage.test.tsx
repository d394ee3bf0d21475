import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { JobLogPage } from "../JobLogPage";
import { makeJob, twoJobDetail } from "./fixtures";
import type { Job } from "./model";
import { fakeApi, json, openStream, renderAt, text, type Call } from "./testing";

const fetchMock = vi.hoisted(() => {
  const mock = vi.fn();
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

const routes = [{ path: "/jobs/:id/logs", element: <JobLogPage /> }];
const logCalls = (calls: Call[]) => calls.filter((call) => call.url.pathname === "/api/v1/jobs/12/logs");

function serve(job: () => Job, logs: (call: Call) => Response) {
  return fakeApi(fetchMock, [
    (call) => (call.url.pathname === "/api/v1/jobs/12" ? json(job()) : undefined),
    (call) => (call.url.pathname === "/api/v1/jobs/12/logs" ? logs(call) : undefined),
  ]);
}

describe("JobLogPage", () => {
  it("shows a finished job's log as text, with its header, links and download", async () => {
    const train = twoJobDetail().jobs[1];
    const calls = serve(
      () => train,
      () => text("starting <b>train</b>\nepoch 1 loss 0.5\nepoch 2 loss 0.25\ndone"),
    );
    renderAt("/jobs/12/logs", routes);
    const log = await screen.findByTestId("log");
    await waitFor(() => expect(log.textContent).toBe("starting <b>train</b>\nepoch 1 loss 0.5\nepoch 2 loss 0.25\ndone\n"));
    expect(log.querySelector("b")).toBeNull(); // text, never HTML
    expect(screen.getByTestId("job-name")).toHaveTextContent("train");
    expect(within(screen.getByTestId("job-status")).getByTestId("status")).toHaveAttribute("data-status", "succeeded");
    expect(screen.getByTestId("job-execution-link")).toHaveAttribute("href", "/executions/7?job=train");
    expect(screen.getByTestId("flink-ui-link")).toHaveAttribute("href", "http://flink:8081/#/job/completed/abc123/overview");
    const download = screen.getByTestId("log-download");
    expect(download).toHaveAttribute("href", "/api/v1/jobs/12/logs");
    expect(download).toHaveAttribute("download");
    expect(screen.getByRole("checkbox", { name: "Follow" })).not.toBeChecked();
    const [read] = logCalls(calls);
    expect(read.url.searchParams.get("follow")).toBeNull();
    expect(read.url.searchParams.get("tail")).toBe("20000");
    expect(calls).toHaveLength(2);
  });

  it("marks search matches and counts them, keeping the query in the URL", async () => {
    serve(
      () => twoJobDetail().jobs[1],
      () => text("epoch 1 loss 0.5\nEpoch 2 LOSS 0.25 loss\n"),
    );
    renderAt("/jobs/12/logs", routes);
    await waitFor(() => expect(screen.getByTestId("log").textContent).toContain("Epoch 2"));
    fireEvent.change(screen.getByLabelText("Search"), { target: { value: "loss" } });
    await waitFor(() => expect(screen.getByTestId("match-count")).toHaveTextContent("3 matches"));
    const marks = [...screen.getByTestId("log").querySelectorAll("mark")].map((mark) => mark.textContent);
    expect(marks).toEqual(["loss", "LOSS", "loss"]);
    expect(screen.getByTestId("location")).toHaveTextContent("/jobs/12/logs?q=loss");
  });

  it("follows a running job's log as it streams, and stops following when unchecked", async () => {
    let stream: ReturnType<typeof openStream> | null = null;
    const running = makeJob({ id: 12, name: "score", status: "running", attempt: 1, started_at: "2025-01-01T10:00:00Z" });
    const calls = serve(
      () => running,
      ({ url, signal }) => {
        if (url.searchParams.get("follow") !== "true") return text("whole log\n");
        stream = openStream(signal);
        return stream.response;
      },
    );
    renderAt("/jobs/12/logs", routes);
    await waitFor(() => expect(stream).not.toBeNull());
    expect(screen.getByRole("checkbox", { name: "Follow" })).toBeChecked();
    stream!.push("first line\nsecond ");
    stream!.push("line\n");
    await waitFor(() => expect(screen.getByTestId("log").textContent).toBe("first line\nsecond line\n"));
    const follow = logCalls(calls)[0];

    fireEvent.click(screen.getByRole("checkbox", { name: "Follow" }));
    await waitFor(() => expect(screen.getByTestId("log").textContent).toBe("whole log\n"));
    expect(follow.signal?.aborted).toBe(true);
    expect(screen.getByTestId("location")).toHaveTextContent("follow=0");
  });

  it("says when a job has no log yet", async () => {
    serve(
      () => makeJob({ id: 12, name: "later", status: "failed" }),
      () => json({ title: "Not Found", status: 404, detail: "job 12 has no log yet (status queued)" }, 404),
    );
    renderAt("/jobs/12/logs", routes);
    expect(await screen.findByText("job 12 has no log yet (status queued)")).toBeInTheDocument();
  });
});
