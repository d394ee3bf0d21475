// The Plan tab: the version's logical plan as a graph, and the properties of the node the
// user clicked (kept in `?node=` so a link can point at one node).
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { DagGraph } from "../../components/DagGraph";
import { Loading, ProblemView } from "../../components/Problem";
import {
  fmtSeconds,
  logicalEdges,
  logicalNodes,
  propertyGroups,
  type GraphNode,
  type WorkflowGraph,
} from "./graph";

export function NodePanel({ node }: { node: GraphNode | undefined }) {
  if (!node) {
    return (
      <aside className="panel node-panel" data-testid="node-panel">
        <p className="muted">Click a node to see its properties.</p>
      </aside>
    );
  }
  const groups = propertyGroups(node);
  return (
    <aside className="panel node-panel" data-testid="node-panel" data-node-id={node.id}>
      <h2>{node.id}</h2>
      <dl className="props">
        <dt>Kind</dt>
        <dd>{node.kind}</dd>
        <dt>Engine</dt>
        <dd>{node.engine}</dd>
        <dt>Component</dt>
        <dd className="mono">{node.component ?? "—"}</dd>
        {node.model && (
          <>
            <dt>Model</dt>
            <dd>{node.model}</dd>
          </>
        )}
        {node.example && (
          <>
            <dt>Example</dt>
            <dd>{node.example}</dd>
          </>
        )}
        <dt>Retries</dt>
        <dd>{node.retries ?? 0}</dd>
        <dt>Timeout</dt>
        <dd>{node.timeout != null ? fmtSeconds(node.timeout) : "none"}</dd>
      </dl>
      {groups.length === 0 && <p className="muted">No properties.</p>}
      {groups.map(([mode, entries]) => (
        <table className="data props-table" key={mode} data-testid="node-properties" data-mode={mode}>
          <caption>{mode}</caption>
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key}>
                <td className="mono">{key}</td>
                <td className="mono">{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </aside>
  );
}

/** The graph and the side panel for given data: no fetching, so tests pass a graph. */
export function PlanView({
  graph,
  selected,
  onSelect,
}: {
  graph: WorkflowGraph;
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const nodes = useMemo(() => logicalNodes(graph), [graph]);
  const edges = useMemo(() => logicalEdges(graph), [graph]);
  const node = graph.nodes.find((candidate) => candidate.id === selected);
  return (
    <div className="plan-layout">
      <div>
        <p className="muted legend">
          Engine <strong>{graph.engine}</strong> · {graph.nodes.length} nodes · edges:{" "}
          <span className="edge-key edge-key-data">data</span>{" "}
          <span className="edge-key edge-key-model">model</span>{" "}
          <span className="edge-key edge-key-control">control (dashed)</span>
        </p>
        <DagGraph
          nodes={nodes}
          edges={edges}
          ariaLabel={`logical plan of ${graph.workflow} version ${graph.version}`}
          onNodeClick={onSelect}
          height={520}
        />
      </div>
      <NodePanel node={node} />
    </div>
  );
}

export function PlanTab({ name, version }: { name: string; version: number }) {
  const [params, setParams] = useSearchParams();
  const query = useQuery({
    queryKey: ["workflow-graph", name, version],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/workflows/{name}/versions/{version}/graph", {
          params: { path: { name, version } },
        }),
      ),
    staleTime: Infinity, // a version never changes
  });
  if (query.isPending) return <Loading what="plan" />;
  if (query.isError) return <ProblemView error={query.error} />;
  return (
    <PlanView
      graph={query.data}
      selected={params.get("node")}
      onSelect={(id) =>
        setParams(
          (prev) => {
            const next = new URLSearchParams(prev);
            next.set("node", id);
            return next;
          },
          { replace: true },
        )
      }
    />
  );
}
