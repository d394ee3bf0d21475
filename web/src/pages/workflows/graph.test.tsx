import {
  encodePath,
  fmtSeconds,
  logicalEdges,
  logicalNodes,
  nodeTitle,
  physicalEdges,
  physicalNodes,
  propertyGroups,
  versionUrl,
  type GraphNode,
  type PhysicalPlan,
  type WorkflowGraph,
} from "./graph";

const train: GraphNode = {
  id: "train",
  kind: "train",
  component: "pipeline.Trainer",
  engine: "local",
  model: "churn",
  example: null,
  retries: 2,
  timeout: 90,
  properties: {
    stream: { window: 10 },
    common: { lr: 0.1, name: "plain" },
    batch: { epochs: 3, layers: [1, 2] },
  },
};

const graph: WorkflowGraph = {
  workflow: "churn",
  version: 3,
  engine: "local",
  nodes: [
    {
      id: "read",
      kind: "read_example",
      component: null,
      engine: "flink",
      example: "clicks",
      retries: 0,
      properties: {},
    },
    train,
  ],
  edges: [
    { source: "read", target: "train", kind: "data" },
    { source: "train", target: "read", kind: "control" },
  ],
};

describe("logical plan nodes", () => {
  it("colours by kind and names kind, engine and model or example on the second line", () => {
    const [read, trainBox] = logicalNodes(graph);
    expect(read).toMatchObject({
      id: "read",
      label: "read",
      tone: "kind-read_example",
      detail: "read_example · flink · example clicks",
    });
    expect(trainBox.tone).toBe("kind-train");
    expect(trainBox.detail).toBe("train · local · model churn");
  });

  it("puts the properties per mode, retries and timeout in the hover text", () => {
    const title = logicalNodes(graph)[1].title ?? "";
    expect(title.split("\n")).toEqual([
      "train (train) on local",
      "component: pipeline.Trainer",
      "model: churn",
      "retries: 2, timeout: 1 min 30 s",
      "common:",
      "  lr = 0.1",
      "  name = plain",
      "batch:",
      "  epochs = 3",
      "  layers = [1,2]",
      "stream:",
      "  window = 10",
    ]);
  });

  it("says when a node has no properties and no timeout", () => {
    const title = nodeTitle(graph.nodes[0]);
    expect(title).toContain("retries: 0, timeout: none");
    expect(title).toContain("no properties");
    expect(propertyGroups(graph.nodes[0])).toEqual([]);
  });

  it("keeps each edge's kind", () => {
    expect(logicalEdges(graph)).toEqual([
      { source: "read", target: "train", kind: "data" },
      { source: "train", target: "read", kind: "control" },
    ]);
  });
});

describe("physical plan nodes", () => {
  const plan: PhysicalPlan = {
    workflow: "churn",
    version: 3,
    mode: "batch",
    engine: "flink",
    jobs: [
      { name: "read~train", engine: "local", fallback_from: "flink", nodes: ["read", "train"], depends_on: [] },
      { name: "predict", engine: "flink", nodes: ["predict"], depends_on: ["read~train", "gone"] },
    ],
  };

  it("makes one box per job listing its fused nodes, coloured by engine", () => {
    const [first, second] = physicalNodes(plan);
    expect(first).toMatchObject({
      id: "read~train",
      tone: "engine-local",
      lines: ["read", "train"],
      detail: "local (fell back from flink)",
    });
    expect(second).toMatchObject({ tone: "engine-flink", detail: "flink", lines: ["predict"] });
    expect(second.title).toContain("after: read~train, gone");
  });

  it("draws an edge from each known upstream job", () => {
    expect(physicalEdges(plan)).toEqual([{ source: "read~train", target: "predict", kind: "job" }]);
  });
});

describe("urls", () => {
  it("encodes each path segment but keeps the slashes", () => {
    expect(encodePath("pkg/my file#1.py")).toBe("pkg/my%20file%231.py");
    expect(versionUrl("a b", 2, "jobs")).toBe("/workflows/a%20b/versions/2/jobs");
  });

  it("writes seconds shortly", () => {
    expect(fmtSeconds(5)).toBe("5 s");
    expect(fmtSeconds(3600)).toBe("1 h");
    expect(fmtSeconds(3725)).toBe("1 h 2 min 5 s");
  });
});
