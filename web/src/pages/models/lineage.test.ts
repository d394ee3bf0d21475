import { lineage } from "./fixtures";
import { dataEntries, lineageGraph, windowEntry } from "./lineage";

describe("lineageGraph", () => {
  it("draws data -> job -> version and the parent chain, oldest first", () => {
    const graph = lineageGraph(lineage(), "validated");
    expect(graph.nodes.map((n) => n.id)).toEqual(["data:0", "job:40", "version:3", "version:2", "version:1"]);
    expect(graph.edges.map((e) => `${e.source}->${e.target}`)).toEqual([
      "data:0->job:40",
      "job:40->version:3",
      "version:2->version:3",
      "version:1->version:2",
    ]);
    const current = graph.nodes.find((n) => n.id === "version:3");
    expect(current?.status).toBe("validated");
    expect(graph.nodes.find((n) => n.id === "version:2")?.detail).toBe("parent version");
    expect(graph.links.get("data:0")?.href).toBe("/examples/iris_train");
    expect(graph.links.get("job:40")?.href).toBe("/executions/12");
    expect(graph.links.get("version:1")?.href).toBe("/models/iris/versions/1");
  });

  it("links data straight to the version when no run is known, and stops at a cycle", () => {
    const graph = lineageGraph(lineage({ execution_id: null, job_id: null, ancestors: [2, 3] }), undefined);
    expect(graph.edges.map((e) => `${e.source}->${e.target}`)).toEqual(["data:0->version:3", "version:2->version:3"]);
  });

  it("draws a stream window as the data", () => {
    const graph = lineageGraph(
      lineage({ data: { window: { source: "clicks", micro_batches: ["a", "b"], records: 10 } }, ancestors: [] , parent_version: null}),
      undefined,
    );
    expect(graph.nodes[0]).toMatchObject({ id: "window", label: "clicks", lines: ["2 micro-batches", "10 records"] });
  });
});

describe("dataEntries / windowEntry", () => {
  it("read what the job recorded and ignore what is malformed", () => {
    expect(dataEntries({ data: [{ example: "e", uri: "u", fingerprint: null, error: "boom" }, 3, null] })).toEqual([
      { example: "e", uri: "u", fingerprint: null, error: "boom" },
    ]);
    expect(dataEntries({ data: "nope" })).toEqual([]);
    expect(windowEntry({})).toBeNull();
  });
});

describe("lineageGraph without a known chain", () => {
  it("still links the parent version", () => {
    const graph = lineageGraph(lineage({ ancestors: [], parent_version: 2, data: {} }), undefined);
    expect(graph.edges.map((e) => `${e.source}->${e.target}`)).toEqual(["job:40->version:3", "version:2->version:3"]);
    expect(graph.links.get("version:2")?.href).toBe("/models/iris/versions/2");
  });
});
