import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DagGraph, layout, nodeSize, type DagEdge, type DagNode } from "./DagGraph";

const nodes: DagNode[] = [
  {
    id: "prepare",
    label: "prepare",
    detail: "local · attempt 1/1",
    status: "succeeded",
    tone: "engine-local",
    lines: ["read (source): 100 rows"],
  },
  { id: "train", label: "train", detail: "flink · attempt 1/3", status: "running", tone: "engine-flink" },
  { id: "score", label: "score" },
];
const edges: DagEdge[] = [
  { source: "prepare", target: "train", kind: "job" },
  { source: "train", target: "score", kind: "model" },
];

// Like a browser's, this ResizeObserver reports after the commit: React Flow measures nodes
// only once its viewport is mounted (its effect runs after the nodes' effects), and draws
// edges only between measured nodes. (The shared setup's observer reports synchronously.)
class AsyncResizeObserver {
  constructor(private readonly callback: ResizeObserverCallback) {}
  observe(target: Element): void {
    const entry = { target, contentRect: { width: 800, height: 600 } } as ResizeObserverEntry;
    setTimeout(() => this.callback([entry], this as unknown as ResizeObserver), 0);
  }
  unobserve(): void {}
  disconnect(): void {}
}

describe("DagGraph", () => {
  const original = globalThis.ResizeObserver;
  beforeAll(() => {
    globalThis.ResizeObserver = AsyncResizeObserver as unknown as typeof ResizeObserver;
  });
  afterAll(() => {
    globalThis.ResizeObserver = original;
  });

  it("renders each node with its label, detail, status and lines", () => {
    render(<DagGraph nodes={nodes} edges={edges} ariaLabel="jobs" />);
    const boxes = screen.getAllByTestId("graph-node");
    expect(boxes.map((box) => box.getAttribute("data-node-id"))).toEqual(["prepare", "train", "score"]);
    const prepare = boxes[0];
    expect(prepare).toHaveAttribute("data-status", "succeeded");
    expect(prepare).toHaveClass("engine-local");
    expect(within(prepare).getByText("local · attempt 1/1")).toBeInTheDocument();
    expect(within(prepare).getByTestId("status")).toHaveAttribute("data-status", "succeeded");
    expect(within(prepare).getByText("read (source): 100 rows")).toBeInTheDocument();
    expect(boxes[2]).not.toHaveAttribute("data-status");
    expect(within(boxes[2]).queryByTestId("status")).toBeNull();
    expect(screen.getByRole("figure", { name: "jobs" })).toBeInTheDocument();
  });

  it("draws one edge per dependency", async () => {
    const { container } = render(<DagGraph nodes={nodes} edges={edges} ariaLabel="jobs" />);
    await waitFor(() => expect(container.querySelectorAll(".react-flow__edge")).toHaveLength(2));
    expect(container.querySelectorAll(".react-flow__edge.edge-model")).toHaveLength(1);
  });

  it("calls onNodeClick with the clicked node's id", () => {
    const onNodeClick = vi.fn();
    render(<DagGraph nodes={nodes} edges={edges} ariaLabel="jobs" onNodeClick={onNodeClick} />);
    fireEvent.click(screen.getAllByTestId("graph-node")[1]);
    expect(onNodeClick).toHaveBeenCalledWith("train");
  });

  it("lays nodes out left to right along the edges", () => {
    const positions = layout(nodes, edges);
    const x = (id: string) => positions.get(id)!.x;
    expect(x("prepare")).toBeLessThan(x("train"));
    expect(x("train")).toBeLessThan(x("score"));
    expect(nodeSize(nodes[0]).height).toBeGreaterThan(nodeSize(nodes[2]).height);
  });
});
