// The three model pages against a stubbed API: what they ask for (at most three requests for
// the model page), what they render, and what Promote sends.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { SessionProvider } from "../../api/session";
import { ModelPage } from "../ModelPage";
import { ModelsPage } from "../ModelsPage";
import { ModelVersionPage } from "../ModelVersionPage";
import { aliasMove, comparison, HOSTILE, lineage, stubCanvas, validation, version } from "./fixtures";

// openapi-fetch keeps the fetch it finds when the client module loads: stub it before imports.
const fetchMock = vi.hoisted(() => {
  const mock = vi.fn<(request: Request) => Promise<Response>>();
  globalThis.fetch = mock as unknown as typeof fetch;
  return mock;
});

type Route_ = (url: URL, request: Request) => unknown;
let role: "viewer" | "editor" = "editor";
let routes: Record<string, Route_> = {};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeAll(stubCanvas);
beforeEach(() => {
  fetchMock.mockReset();
  fetchMock.mockImplementation(async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname === "/api/v1/session") return json({ name: "alice", role, csrf_token: "c", dev: false });
    const key = `${request.method} ${url.pathname}`;
    const route = routes[key];
    if (!route) return json({ title: "Not Found", detail: `no stub for ${key}` }, 404);
    const body = route(url, request);
    return body instanceof Response ? body : json(body);
  });
});

/** API requests other than the session's, as "METHOD /path?query". */
function calls(): string[] {
  return fetchMock.mock.calls
    .map(([request]) => `${request.method} ${new URL(request.url).pathname}${new URL(request.url).search}`)
    .filter((call) => !call.includes("/api/v1/session"));
}

function renderAt(path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 60_000 } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider>
          <Routes>
            <Route path="/models" element={<ModelsPage />} />
            <Route path="/models/:name" element={<ModelPage />} />
            <Route path="/models/:name/versions/:version" element={<ModelVersionPage />} />
          </Routes>
        </SessionProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const model = { id: 1, name: "iris", description: HOSTILE, created_at: "2026-01-01T00:00:00Z" };

function stubModel(versions = [
  version(3, { metrics: { accuracy: 0.95 }, aliases: ["deployed"], stage: "deployed" }),
  version(2, { metrics: { accuracy: 0.5 }, stage: "rejected" }),
  version(1, { metrics: { accuracy: 0.9 }, stage: "retired" }),
]) {
  routes = {
    "GET /api/v1/models/iris": () => model,
    "GET /api/v1/models/iris/versions": () => ({ data: versions, next_cursor: null }),
    "GET /api/v1/models/iris/history": () => ({
      data: [
        validation(1, "validated"),
        aliasMove("deployed", null, 1, { actor: "token:alice" }),
        validation(2, "rejected"),
        validation(3, "validated"),
        aliasMove("deployed", 1, 3, { actor: "token:bob", reason: "better" }),
      ],
    }),
  };
}

describe("ModelsPage", () => {
  it("lists models as rows linking to their pages, names as text", async () => {
    routes = {
      "GET /api/v1/models": () => ({
        data: [model, { ...model, id: 2, name: "wine", description: null }],
        next_cursor: "wine",
        total: 3,
      }),
    };
    renderAt("/models");
    const rows = await screen.findAllByTestId("model-row");
    expect(rows).toHaveLength(2);
    expect(within(rows[1]).getByRole("link", { name: "wine" })).toHaveAttribute("href", "/models/wine");
    expect(within(rows[0]).getByText(HOSTILE)).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
    expect(screen.getByRole("link", { name: "Next page" })).toHaveAttribute("href", "/models?cursor=wine");
  });
});

describe("ModelPage", () => {
  it("renders from three requests: versions, chart, alias history and promote buttons", async () => {
    stubModel();
    renderAt("/models/iris");
    expect(await screen.findAllByTestId("version-row")).toHaveLength(3);
    expect(calls().sort()).toEqual([
      "GET /api/v1/models/iris",
      "GET /api/v1/models/iris/history",
      "GET /api/v1/models/iris/versions?limit=500",
    ]);
    expect(screen.getByTestId("metric-chart")).toHaveAttribute("data-points", "3");
    expect(within(screen.getByTestId("alias-history")).getAllByTestId("history-entry")).toHaveLength(2);
    expect(screen.getByTestId("promote-2")).toBeInTheDocument();
    expect(screen.getByTestId("rollback-deployed")).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
  });

  it("hides promote and roll back from viewers", async () => {
    role = "viewer";
    try {
      stubModel();
      renderAt("/models/iris");
      expect(await screen.findAllByTestId("version-row")).toHaveLength(3);
      expect(screen.queryByRole("button", { name: "Promote" })).toBeNull();
      expect(screen.queryByRole("button", { name: "Roll back" })).toBeNull();
    } finally {
      role = "editor";
    }
  });

  it("posts a promotion and then reloads versions and history", async () => {
    stubModel();
    const bodies: unknown[] = [];
    routes["POST /api/v1/models/iris/versions/1/promote"] = (_, request) => {
      bodies.push(request.headers.get("X-CSRF-Token"));
      return request.json().then((body: unknown) => {
        bodies.push(body);
        return json(version(1));
      });
    };
    renderAt("/models/iris");
    await userEvent.click(await screen.findByTestId("promote-1"));
    await userEvent.type(screen.getByLabelText("Reason"), "rollback by hand");
    fetchMock.mockClear();
    await userEvent.click(screen.getByRole("button", { name: "Confirm promote" }));
    await waitFor(() => expect(calls()).toContain("GET /api/v1/models/iris/history"));
    expect(bodies).toEqual(["c", { alias: "deployed", reason: "rollback by hand" }]);
    expect(calls()).toEqual(
      expect.arrayContaining(["POST /api/v1/models/iris/versions/1/promote", "GET /api/v1/models/iris/versions?limit=500"]),
    );
  });

  it("compares the versions named in the URL", async () => {
    stubModel();
    routes["GET /api/v1/models/iris/compare"] = (url) => {
      expect(url.searchParams.get("a")).toBe("3");
      expect(url.searchParams.get("b")).toBe("1");
      return comparison({ versions: [3, 1] });
    };
    renderAt("/models/iris?compare=3,1&metric=accuracy");
    expect(await screen.findAllByTestId("compare-row")).toHaveLength(3);
    expect(screen.getByLabelText("Version A")).toHaveValue("3");
    expect(screen.getByLabelText("Metric")).toHaveValue("accuracy");
  });

  it("compares the two versions chosen, however quickly, and keeps them in the URL", async () => {
    stubModel();
    routes["GET /api/v1/models/iris/compare"] = (url) =>
      comparison({ versions: [Number(url.searchParams.get("a")), Number(url.searchParams.get("b"))] });
    renderAt("/models/iris");
    await screen.findAllByTestId("version-row");
    await userEvent.selectOptions(screen.getByLabelText("Version A"), "3");
    await userEvent.selectOptions(screen.getByLabelText("Version B"), "1");
    expect(await screen.findAllByTestId("compare-row")).toHaveLength(3);
    expect(calls()).toContain("GET /api/v1/models/iris/compare?a=3&b=1");
  });

  it("shows the API's problem for a model that does not exist", async () => {
    routes = {};
    renderAt("/models/nope");
    expect(await screen.findByRole("alert")).toHaveTextContent("404");
  });
});

describe("ModelVersionPage", () => {
  it("shows details, every metric point, tags and the lineage graph with links", async () => {
    routes = {
      "GET /api/v1/models/iris/versions/3": () =>
        version(3, { stage: "validated", tags: { [HOSTILE]: HOSTILE }, execution_id: 12, job_id: 40, parent_version: 2 }),
      "GET /api/v1/models/iris/versions/3/metrics": () => ({
        data: [
          { id: 1, name: "loss", step: 0, value: 0.5, created_at: "2026-01-01T00:00:00Z", execution_id: 12, job_id: 40, model_version_id: 3 },
          { id: 2, name: "loss", step: 1, value: 0.25, created_at: "2026-01-01T00:00:01Z", execution_id: 12, job_id: 40, model_version_id: 3 },
        ],
      }),
      "GET /api/v1/models/iris/versions/3/lineage": () => lineage(),
    };
    renderAt("/models/iris/versions/3");
    expect(await screen.findAllByTestId("metric-row")).toHaveLength(2);
    await screen.findByTestId("lineage-links");
    expect(calls()).toHaveLength(3);
    expect(within(screen.getByTestId("version-props")).getByText("validated")).toBeInTheDocument();
    expect(within(screen.getByTestId("version-tags")).getAllByText(HOSTILE)).toHaveLength(2);
    const nodes = await screen.findAllByTestId("graph-node");
    expect(nodes.map((node) => node.getAttribute("data-node-id")).sort()).toEqual(
      ["data:0", "job:40", "version:1", "version:2", "version:3"].sort(),
    );
    const links = screen.getByTestId("lineage-links");
    expect(within(links).getByRole("link", { name: "execution 12" })).toHaveAttribute("href", "/executions/12");
    expect(within(links).getByRole("link", { name: "example iris_train" })).toHaveAttribute("href", "/examples/iris_train");
    expect(document.querySelector("img")).toBeNull();
  });
});
