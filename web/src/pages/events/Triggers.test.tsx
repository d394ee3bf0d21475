// The triggers section against a stubbed API: an editor's toggle sends PATCH { enabled } with
// the CSRF token and the list is fetched again; expanding a row asks for 5 executions.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";

const api = vi.hoisted(() => {
  const state = {
    role: "editor",
    enabled: true,
    requests: [] as { method: string; path: string; body: string | null; csrf: string | null }[],
  };
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://x"), init);
    const url = new URL(request.url);
    const body = request.method === "GET" ? null : await request.text();
    state.requests.push({
      method: request.method,
      path: url.pathname + url.search,
      body,
      csrf: request.headers.get("X-CSRF-Token"),
    });
    const json = (data: unknown) =>
      new Response(JSON.stringify(data), { headers: { "Content-Type": "application/json" } });
    const trigger = () => ({
      id: 1,
      name: "nightly",
      workflow_name: "wf",
      kind: "periodic",
      cron: "0 3 * * *",
      interval: null,
      event_type: null,
      event_key: null,
      event_value: null,
      event_cursor: null,
      mode: "batch",
      enabled: state.enabled,
      next_fire_at: null,
      last_fired_at: null,
      origin: "user",
      job: null,
      action: "start",
      deployer: null,
      engine: null,
      max_active: null,
      version: null,
      created_at: "2024-01-01T00:00:00Z",
      updated_at: "2024-01-01T00:00:00Z",
    });
    if (url.pathname === "/api/v1/session")
      return json({ name: "ann", role: state.role, csrf_token: "tok", dev: false });
    if (url.pathname === "/api/v1/triggers") return json({ data: [trigger()], next_cursor: null });
    if (url.pathname === "/api/v1/triggers/nightly" && request.method === "PATCH") {
      state.enabled = (JSON.parse(body ?? "{}") as { enabled: boolean }).enabled;
      return json(trigger());
    }
    if (url.pathname === "/api/v1/triggers/nightly/executions") return json({ data: [], next_cursor: null });
    return new Response("{}", { status: 404 });
  }) as typeof fetch;
  return state;
});

import { SessionProvider } from "../../api/session";
import { Triggers } from "./Triggers";

function renderTriggers() {
  api.requests.length = 0;
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <SessionProvider>
        <MemoryRouter>
          <Triggers />
        </MemoryRouter>
      </SessionProvider>
    </QueryClientProvider>,
  );
}

describe("Triggers", () => {
  beforeEach(() => {
    api.enabled = true;
  });

  it("lets an editor disable a trigger, then shows it disabled", async () => {
    api.role = "editor";
    renderTriggers();
    const button = await screen.findByTestId("toggle-nightly");
    expect(button).toHaveTextContent("Disable");
    fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("toggle-nightly")).toHaveTextContent("Enable"));
    const patch = api.requests.find((request) => request.method === "PATCH");
    expect(patch).toEqual({ method: "PATCH", path: "/api/v1/triggers/nightly", body: '{"enabled":false}', csrf: "tok" });
    const row = screen.getByTestId("trigger-row");
    expect(row).toHaveAttribute("data-enabled", "false");
    expect(api.requests.filter((request) => request.path.startsWith("/api/v1/triggers?"))).toHaveLength(2);
  });

  it("shows viewers no toggle, and a row's executions on expanding", async () => {
    api.role = "viewer";
    renderTriggers();
    const row = await screen.findByTestId("trigger-row");
    expect(within(row).getByText("cron 0 3 * * *")).toBeInTheDocument();
    expect(screen.queryByTestId("toggle-nightly")).toBeNull();
    fireEvent.click(screen.getByTestId("expand-nightly"));
    expect(await screen.findByText("nightly has started no executions yet.")).toBeInTheDocument();
    expect(api.requests.map((request) => request.path)).toContain("/api/v1/triggers/nightly/executions?limit=5");
  });
});
