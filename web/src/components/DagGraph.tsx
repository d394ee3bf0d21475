// A directed acyclic graph (a logical plan, a physical plan, an execution's jobs, a model's
// lineage) drawn with React Flow and laid out by dagre: one component for every graph page.
import dagre from "@dagrejs/dagre";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo, type KeyboardEvent } from "react";
import { StatusBadge } from "./StatusBadge";

export interface DagNode {
  id: string;
  label: string;
  /** a second line: kind, engine, ... */
  detail?: string;
  status?: string;
  /** CSS classes for colour: `kind-train`, `engine-flink`, ... */
  tone?: string;
  /** hover text (native tooltip): properties, durations, ... */
  title?: string;
  /** more lines inside the box (a job's fused nodes, row counts) */
  lines?: string[];
}

export interface DagEdge {
  source: string;
  target: string;
  kind?: "data" | "model" | "control" | "job" | "lineage";
}

type BoxData = DagNode & Record<string, unknown>;

function Box({ data }: NodeProps<Node<BoxData>>) {
  return (
    <div
      className={`dag-node ${data.tone ?? ""}`}
      title={data.title}
      data-testid="graph-node"
      data-node-id={data.id}
      data-status={data.status}
    >
      <Handle type="target" position={Position.Left} />
      <div className="dag-label">{data.label}</div>
      {data.detail && <div className="dag-detail">{data.detail}</div>}
      {data.status && <StatusBadge status={data.status} />}
      {data.lines && data.lines.length > 0 && (
        <ul className="dag-lines">
          {data.lines.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      )}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const NODE_TYPES = { box: Box };
const CHAR_PX = 7.5;

export function nodeSize(node: DagNode): { width: number; height: number } {
  const longest = Math.max(
    node.label.length,
    node.detail?.length ?? 0,
    ...(node.lines ?? []).map((line) => line.length),
  );
  const width = Math.min(360, Math.max(150, longest * CHAR_PX + 32));
  const height = 44 + (node.detail ? 18 : 0) + (node.status ? 24 : 0) + 18 * (node.lines?.length ?? 0);
  return { width, height };
}

/** Positions from dagre: ranks left to right, so data flows the way the docs draw it. */
export function layout(
  nodes: DagNode[],
  edges: DagEdge[],
  direction: "LR" | "TB" = "LR",
): Map<string, { x: number; y: number }> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 28, ranksep: 64, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, nodeSize(node));
  for (const edge of edges) {
    if (graph.hasNode(edge.source) && graph.hasNode(edge.target)) graph.setEdge(edge.source, edge.target);
  }
  dagre.layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const placed = graph.node(node.id);
    const { width, height } = nodeSize(node);
    positions.set(node.id, { x: placed.x - width / 2, y: placed.y - height / 2 });
  }
  return positions;
}

export function DagGraph({
  nodes,
  edges,
  ariaLabel,
  direction = "LR",
  height = 440,
  onNodeClick,
}: {
  nodes: DagNode[];
  edges: DagEdge[];
  ariaLabel: string;
  direction?: "LR" | "TB";
  height?: number;
  onNodeClick?: (id: string) => void;
}) {
  const positions = useMemo(() => layout(nodes, edges, direction), [nodes, edges, direction]);
  const flowNodes: Node<BoxData>[] = nodes.map((node) => ({
    id: node.id,
    type: "box",
    position: positions.get(node.id) ?? { x: 0, y: 0 },
    data: node as BoxData,
    width: nodeSize(node).width,
    // with a size known up front React Flow shows the node at once instead of hiding it
    // until it has been measured; the measured height replaces this estimate
    initialHeight: nodeSize(node).height,
    draggable: false,
    connectable: false,
    ariaLabel: [node.label, node.detail, node.status].filter(Boolean).join(", "),
  }));
  const flowEdges: Edge[] = edges.map((edge, i) => ({
    id: `${edge.source}->${edge.target}#${i}`,
    source: edge.source,
    target: edge.target,
    className: `edge-${edge.kind ?? "data"}`,
    animated: false,
    markerEnd: { type: MarkerType.ArrowClosed },
    style: edge.kind === "control" ? { strokeDasharray: "6 4" } : undefined,
  }));
  // Keyboard users select a focused node with Enter or Space, as a click would.
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (!onNodeClick || (event.key !== "Enter" && event.key !== " ")) return;
    const node = (event.target as HTMLElement).closest<HTMLElement>(".react-flow__node");
    const id = node?.dataset.id;
    if (id) {
      event.preventDefault();
      onNodeClick(id);
    }
  };
  return (
    <div className="dag" style={{ height }} role="figure" aria-label={ariaLabel} onKeyDown={onKeyDown}>
      <ReactFlow
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={NODE_TYPES}
        fitView
        fitViewOptions={{ maxZoom: 1.1 }}
        minZoom={0.2}
        nodesDraggable={false}
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
        onNodeClick={onNodeClick ? (_, node) => onNodeClick(node.id) : undefined}
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
