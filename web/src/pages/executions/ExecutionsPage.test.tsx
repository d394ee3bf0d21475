import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ExecutionsPage } from "../ExecutionsPage";
import { makeDetail } from "./fixtures";
import { fakeApi, json, renderAt, type Call } from "./testing";

const fetchMock = vi.hoisted(() => {
  const mock = vi.fn();
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

const { jobs: _jobs, ...base } = makeDetail();
const execution = (id: number, fields: Partial<typeof base> = {}) => ({ ...base, id, ...fields });

let calls: Call[];
beforeEach(() => {
  calls = fakeApi(fetchMock, [
    ({ url }) => {
      if (url.pathname !== "/api/v1/executions") return undefined;
      const cursor = url.searchParams.get("cursor");
      if (cursor === "2") return json({ data: [execution(1, { status: "failed" })], next_cursor: null, total: 3 });
      return json({
        data: [
          execution(3, { status: "succeeded", trigger_id: 5, ended_at: "2025-01-01T10:00:31Z" }),
          execution(2, { status: "failed", workflow_name: "churn", mode: "stream", engine: "flink" }),
        ],
        next_cursor: "2",
        total: 3,
      });
    },
    ({ url }) =>
      url.pathname === "/api/v1/triggers"
        ? json({ data: [{ id: 5, name: "nightly" }], next_cursor: null })
        : undefined,
  ]);
});

const routes = [{ path: "/executions", element: <ExecutionsPage /> }];
const listCalls = () => calls.filter((call) => call.url.pathname === "/api/v1/executions");

describe("ExecutionsPage", () => {
  it("lists executions with links, statuses and trigger names, in two requests", async () => {
    renderAt("/executions", routes);
    const rows = await screen.findAllByTestId("execution-row");
    expect(rows.map((row) => row.getAttribute("data-execution-id"))).toEqual(["3", "2"]);
    expect(within(rows[0]).getByRole("link", { name: "3" })).toHaveAttribute("href", "/executions/3");
    expect(within(rows[0]).getByRole("link", { name: "wine" })).toHaveAttribute("href", "/workflows/wine");
    expect(within(rows[0]).getByTestId("status")).toHaveAttribute("data-status", "succeeded");
    expect(within(rows[0]).getByText("30.0 s")).toBeInTheDocument();
    await waitFor(() => expect(within(rows[0]).getByText("nightly")).toBeInTheDocument());
    expect(within(rows[1]).getByText("manual")).toBeInTheDocument();
    expect(within(rows[1]).getByText("flink")).toBeInTheDocument();
    expect(screen.getByText(/3 executions/)).toBeInTheDocument();
    expect(calls).toHaveLength(2);
  });

  it("puts filters in the URL and asks the API with them, from the first page", async () => {
    renderAt("/executions?cursor=9&prev=12", routes);
    await screen.findAllByTestId("execution-row");
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "failed" } });
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/executions?status=failed"));
    await waitFor(() => expect(listCalls().at(-1)!.url.searchParams.get("status")).toBe("failed"));
    expect(listCalls().at(-1)!.url.searchParams.has("cursor")).toBe(false);

    fireEvent.change(screen.getByLabelText("Workflow"), { target: { value: " churn " } });
    fireEvent.submit(screen.getByRole("search"));
    await waitFor(() => expect(listCalls().at(-1)!.url.searchParams.get("workflow")).toBe("churn"));
    expect(screen.getByTestId("location")).toHaveTextContent("status=failed&workflow=churn");

    await waitFor(() => expect(screen.getByRole("option", { name: "nightly" })).toBeInTheDocument());
    fireEvent.change(screen.getByLabelText("Trigger"), { target: { value: "nightly" } });
    await waitFor(() => expect(listCalls().at(-1)!.url.searchParams.get("trigger")).toBe("nightly"));
    fireEvent.change(screen.getByLabelText("Mode"), { target: { value: "stream" } });
    await waitFor(() => expect(listCalls().at(-1)!.url.searchParams.get("mode")).toBe("stream"));
  });

  it("pages older with next_cursor and back newer", async () => {
    renderAt("/executions", routes);
    await screen.findAllByTestId("execution-row");
    expect(screen.getByRole("button", { name: "Newer" })).toBeDisabled();
    fireEvent.click(screen.getByRole("button", { name: "Older" }));
    await waitFor(() =>
      expect(screen.getAllByTestId("execution-row").map((row) => row.dataset.executionId)).toEqual(["1"]),
    );
    expect(listCalls().at(-1)!.url.searchParams.get("cursor")).toBe("2");
    expect(screen.getByRole("button", { name: "Older" })).toBeDisabled();
    fireEvent.click(screen.getByRole("button", { name: "Newer" }));
    await waitFor(() => expect(screen.getAllByTestId("execution-row")).toHaveLength(2));
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/executions$/);
  });

  it("shows the API's problem", async () => {
    fakeApi(fetchMock, [() => json({ title: "Not Found", status: 404, detail: "workflow 'x' not found" }, 404)]);
    renderAt("/executions?workflow=x", routes);
    expect(await screen.findByRole("alert")).toHaveTextContent("404: workflow 'x' not found");
  });
});
