// The workflow page against a stubbed API (fetch is replaced before the client module loads):
// the default version, the tabs' URLs, the 422 of an impossible mode, the source text.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";

const calls = vi.hoisted(() => {
  const log: string[] = [];
  globalThis.fetch = (async (input: RequestInfo | URL) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url, "http://x");
    const path = decodeURIComponent(url.pathname) + url.search;
    log.push(path);
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    if (url.pathname === "/api/v1/workflows/wf/versions")
      return json({
        data: [3, 2].map((version) => ({
          id: version,
          version,
          workflow_id: 1,
          workflow_name: "wf",
          plan_hash: `p${version}`,
          source_hash: `s${version}`,
          created_at: "2024-01-01T00:00:00Z",
        })),
        next_cursor: null,
      });
    if (url.pathname === "/api/v1/workflows/wf/versions/3/graph")
      return json({
        workflow: "wf",
        version: 3,
        engine: "local",
        nodes: [{ id: "n1", kind: "transform", component: null, engine: "local", retries: 0 }],
        edges: [],
      });
    if (url.pathname === "/api/v1/workflows/wf/versions/3/jobs")
      return json(
        { status: 422, code: "invalid_input", title: "Invalid", detail: "no stream source in wf", type: "x", instance: "/" },
        422,
      );
    if (url.pathname === "/api/v1/workflows/wf/versions/2/source")
      return json({ workflow: "wf", version: 2, source_hash: "s2", files: [{ path: "pkg/a b.py", size: 5 }] });
    if (url.pathname === "/api/v1/workflows/wf/versions/2/source/pkg/a%20b.py")
      return new Response("<img src=x onerror=alert(1)>\nprint(1)", { headers: { "Content-Type": "text/plain" } });
    return json({ status: 404, detail: `unexpected ${path}` }, 404);
  }) as typeof fetch;
  return log;
});

import { WorkflowPage } from "../WorkflowPage";

function renderAt(url: string) {
  calls.length = 0;
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Routes>
          <Route path="/workflows/:name" element={<WorkflowPage />} />
          <Route path="/workflows/:name/versions/:version" element={<WorkflowPage />} />
          <Route path="/workflows/:name/versions/:version/:tab/*" element={<WorkflowPage />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("WorkflowPage", () => {
  it("shows the newest version's plan by default, in two requests", async () => {
    renderAt("/workflows/wf");
    const node = await screen.findByTestId("graph-node");
    expect(node).toHaveAttribute("data-node-id", "n1");
    const rows = screen.getAllByTestId("version-row");
    expect(rows[0]).toHaveAttribute("aria-current", "true");
    expect(screen.getByTestId("tab-plan")).toHaveAttribute("aria-current", "page");
    expect(screen.getByTestId("tab-jobs")).toHaveAttribute("href", "/workflows/wf/versions/3/jobs");
    expect(screen.getByTestId("workflow-executions")).toHaveAttribute("href", "/executions?workflow=wf");
    expect(calls).toHaveLength(2);
  });

  it("shows the problem's detail when the version cannot run in the chosen mode", async () => {
    renderAt("/workflows/wf/versions/3/jobs?mode=stream");
    expect(await screen.findByRole("alert")).toHaveTextContent("422: no stream source in wf");
    expect(screen.getByLabelText("Mode")).toHaveValue("stream");
    expect(calls).toContain("/api/v1/workflows/wf/versions/3/jobs?mode=stream");
  });

  it("shows the file named in the URL as text", async () => {
    const { container } = renderAt("/workflows/wf/versions/2/source/pkg/a%20b.py");
    const source = await screen.findByTestId("source");
    expect(source.textContent).toBe("<img src=x onerror=alert(1)>\nprint(1)");
    expect(container.querySelector("img")).toBeNull();
    const link = within(screen.getByRole("navigation", { name: "source files" })).getByRole("link");
    expect(link).toHaveAttribute("aria-current", "page");
    expect(screen.getAllByTestId("version-row")[1]).toHaveAttribute("aria-current", "true");
  });

  it("switches the Jobs mode through the URL", async () => {
    renderAt("/workflows/wf/versions/3/jobs");
    await screen.findByRole("alert");
    fireEvent.change(screen.getByLabelText("Mode"), { target: { value: "stream" } });
    await screen.findByRole("alert");
    expect(calls.filter((call) => call.includes("/jobs"))).toEqual([
      "/api/v1/workflows/wf/versions/3/jobs?mode=batch",
      "/api/v1/workflows/wf/versions/3/jobs?mode=stream",
    ]);
  });
});
