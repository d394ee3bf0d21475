import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { ExampleDetail, UsageTable } from "../ExamplePage";
import { ExampleTable } from "../ExamplesPage";
import { VersionTabs } from "../WorkflowPage";
import { WorkflowTable } from "../WorkflowsPage";
import type { PhysicalPlan, WorkflowGraph } from "./graph";
import { JobsView } from "./JobsTab";
import { PlanView } from "./PlanTab";
import { SourceFiles } from "./SourceTab";
import { VersionTable } from "./VersionTable";

const HOSTILE = "<img src=x onerror=alert(1)>";

const graph: WorkflowGraph = {
  workflow: "wf",
  version: 2,
  engine: "local",
  nodes: [
    { id: "read", kind: "read_example", component: null, engine: "local", example: "clicks", retries: 0 },
    {
      id: "fit",
      kind: "train",
      component: "m.Trainer",
      engine: "flink",
      model: "churn",
      retries: 1,
      timeout: 30,
      properties: { batch: { epochs: 3 }, common: { lr: 0.5 } },
    },
  ],
  edges: [{ source: "read", target: "fit", kind: "data" }],
};

describe("PlanView", () => {
  it("draws one box per node with its kind tone and hover text", () => {
    render(<PlanView graph={graph} selected={null} onSelect={() => {}} />);
    const nodes = screen.getAllByTestId("graph-node");
    expect(nodes.map((node) => node.dataset.nodeId).sort()).toEqual(["fit", "read"]);
    const fit = nodes.find((node) => node.dataset.nodeId === "fit")!;
    expect(fit).toHaveClass("kind-train");
    expect(fit.getAttribute("title")).toContain("  epochs = 3");
    expect(fit).toHaveTextContent("train · flink · model churn");
    expect(screen.getByTestId("node-panel")).toHaveTextContent("Click a node");
  });

  it("reports a click on a node and shows the selected node's properties per mode", () => {
    const onSelect = vi.fn();
    const { rerender } = render(<PlanView graph={graph} selected={null} onSelect={onSelect} />);
    const fit = screen.getAllByTestId("graph-node").find((node) => node.dataset.nodeId === "fit")!;
    fireEvent.click(fit);
    expect(onSelect).toHaveBeenCalledWith("fit");
    rerender(<PlanView graph={graph} selected="fit" onSelect={onSelect} />);
    const panel = screen.getByTestId("node-panel");
    expect(panel.dataset.nodeId).toBe("fit");
    const tables = within(panel).getAllByTestId("node-properties");
    expect(tables.map((table) => table.dataset.mode)).toEqual(["common", "batch"]);
    expect(tables[1]).toHaveTextContent("epochs3");
    expect(panel).toHaveTextContent("30 s");
  });
});

describe("JobsView", () => {
  it("draws one box per job with its fused nodes and lists the jobs", () => {
    const plan: PhysicalPlan = {
      workflow: "wf",
      version: 2,
      mode: "stream",
      engine: "local",
      jobs: [
        { name: "a", engine: "local", nodes: ["read", "fit"], depends_on: [] },
        { name: "b", engine: "flink", nodes: ["serve"], depends_on: ["a"] },
      ],
    };
    render(<JobsView plan={plan} />);
    const boxes = screen.getAllByTestId("graph-node");
    const a = boxes.find((box) => box.dataset.nodeId === "a")!;
    expect(a).toHaveClass("engine-local");
    expect([...a.querySelectorAll("li")].map((li) => li.textContent)).toEqual(["read", "fit"]);
    const rows = screen.getAllByTestId("plan-job-row");
    expect(rows.map((row) => row.dataset.job)).toEqual(["a", "b"]);
    expect(rows[1]).toHaveTextContent("a");
    expect(screen.getByText(/2 jobs in stream mode/)).toBeInTheDocument();
  });
});

describe("SourceFiles", () => {
  it("links each file under the version's source URL, marking the shown one", () => {
    render(
      <MemoryRouter>
        <SourceFiles
          name="wf"
          version={2}
          selected="pkg/a b.py"
          files={[
            { path: "main.py", size: 10 },
            { path: "pkg/a b.py", size: 2048 },
          ]}
        />
      </MemoryRouter>,
    );
    const links = screen.getAllByTestId("source-file");
    expect(links.map((link) => link.getAttribute("href"))).toEqual([
      "/workflows/wf/versions/2/source/main.py",
      "/workflows/wf/versions/2/source/pkg/a%20b.py",
    ]);
    expect(links[1]).toHaveAttribute("aria-current", "page");
    expect(links[0]).not.toHaveAttribute("aria-current");
    expect(screen.getByText("2.0 KiB")).toBeInTheDocument();
  });
});

describe("workflow tables", () => {
  it("renders hostile names as text and links to the workflow and its executions", () => {
    const { container } = render(
      <MemoryRouter>
        <WorkflowTable workflows={[{ id: 1, name: HOSTILE, created_at: "2024-01-01T00:00:00Z" }]} />
      </MemoryRouter>,
    );
    expect(container.querySelector("img")).toBeNull();
    const row = screen.getByTestId("workflow-row");
    expect(row.dataset.workflow).toBe(HOSTILE);
    const [page, executions] = within(row).getAllByRole("link");
    expect(page).toHaveTextContent(HOSTILE);
    expect(page.getAttribute("href")).toBe(`/workflows/${encodeURIComponent(HOSTILE)}`);
    expect(executions.getAttribute("href")).toBe(`/executions?${new URLSearchParams({ workflow: HOSTILE })}`);
  });

  it("lists versions with short hashes, links keeping the tab, and marks the shown one", () => {
    render(
      <MemoryRouter>
        <VersionTable
          name="wf"
          tab="jobs"
          selected={1}
          versions={[2, 1].map((version) => ({
            id: version,
            version,
            workflow_id: 1,
            workflow_name: "wf",
            plan_hash: `plan${version}0123456789abcdef`,
            source_hash: `src${version}`,
            created_at: "2024-01-01T00:00:00Z",
          }))}
        />
      </MemoryRouter>,
    );
    const rows = screen.getAllByTestId("version-row");
    expect(rows.map((row) => row.dataset.version)).toEqual(["2", "1"]);
    expect(rows[1]).toHaveAttribute("aria-current", "true");
    expect(rows[0]).not.toHaveAttribute("aria-current");
    expect(within(rows[0]).getByRole("link")).toHaveAttribute("href", "/workflows/wf/versions/2/jobs");
    expect(rows[0]).toHaveTextContent("plan20123456");
    expect(rows[0]).not.toHaveTextContent("plan20123456789");
  });

  it("offers the three tabs as links, the current one marked", () => {
    render(
      <MemoryRouter>
        <VersionTabs name="wf" version={4} tab="source" />
      </MemoryRouter>,
    );
    const links = screen.getAllByRole("link");
    expect(links.map((link) => [link.textContent, link.getAttribute("href")])).toEqual([
      ["Plan", "/workflows/wf/versions/4/plan"],
      ["Jobs", "/workflows/wf/versions/4/jobs"],
      ["Source", "/workflows/wf/versions/4/source"],
    ]);
    expect(screen.getByRole("link", { name: "Source" })).toHaveAttribute("aria-current", "page");
  });
});

describe("examples", () => {
  const example = {
    id: 1,
    name: HOSTILE,
    columns: { user: "int64", [HOSTILE]: "string" },
    format: "parquet",
    batch_uri: "file:///data/clicks",
    stream_uri: null,
    created_at: "2024-01-01T00:00:00Z",
    updated_at: "2024-01-02T00:00:00Z",
  };

  it("lists examples with their format and URIs, names as text", () => {
    const { container } = render(
      <MemoryRouter>
        <ExampleTable examples={[example]} />
      </MemoryRouter>,
    );
    expect(container.querySelector("img")).toBeNull();
    const row = screen.getByTestId("example-row");
    expect(row.dataset.example).toBe(HOSTILE);
    expect(row).toHaveTextContent("parquet");
    expect(row).toHaveTextContent("file:///data/clicks");
  });

  it("shows the schema, the URIs and the format", () => {
    const { container } = render(<ExampleDetail example={example} />);
    expect(container.querySelector("img")).toBeNull();
    const rows = screen.getAllByTestId("column-row");
    expect(rows.map((row) => [row.dataset.column, (row as HTMLTableRowElement).cells[1].textContent])).toEqual([
      ["user", "int64"],
      [HOSTILE, "string"],
    ]);
    expect(screen.getByTestId("batch-uri")).toHaveTextContent("file:///data/clicks");
    expect(screen.getByTestId("stream-uri")).toHaveTextContent("—");
    expect(screen.getByTestId("example-format")).toHaveTextContent("parquet");
  });

  it("links the workflows that read or write it, and their nodes", () => {
    render(
      <MemoryRouter>
        <UsageTable usage={[{ workflow: "wf", version: 3, reads: ["read"], writes: [] }]} />
      </MemoryRouter>,
    );
    const row = screen.getByTestId("usage-row");
    expect(within(row).getByRole("link", { name: "wf" })).toHaveAttribute("href", "/workflows/wf");
    expect(within(row).getByRole("link", { name: "read" })).toHaveAttribute(
      "href",
      "/workflows/wf/versions/3/plan?node=read",
    );
  });
});
