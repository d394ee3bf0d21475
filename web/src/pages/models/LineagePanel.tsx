// A version's lineage: the graph (data -> job -> version <- parent chain) with every node that
// has a page also listed as a real link, and the data it was trained on as a table.
import { useMemo } from "react";
import { Link, useNavigate } from "react-router";
import { DagGraph } from "../../components/DagGraph";
import { dataEntries, lineageGraph, windowEntry } from "./lineage";
import type { Lineage } from "./types";

export function LineagePanel({ lineage, stage }: { lineage: Lineage; stage: string | undefined }) {
  const navigate = useNavigate();
  const graph = useMemo(() => lineageGraph(lineage, stage), [lineage, stage]);
  const data = useMemo(() => dataEntries(lineage.data), [lineage.data]);
  const window = useMemo(() => windowEntry(lineage.data), [lineage.data]);
  return (
    <>
      <DagGraph
        nodes={graph.nodes}
        edges={graph.edges}
        ariaLabel={`lineage of ${lineage.model_name} version ${lineage.version}`}
        height={320}
        onNodeClick={(id) => {
          const link = graph.links.get(id);
          if (link) void navigate(link.href);
        }}
      />
      <ul className="lineage-links" data-testid="lineage-links">
        {[...graph.links].map(([id, link]) => (
          <li key={id} data-node-id={id}>
            <Link to={link.href}>{link.label}</Link>
          </li>
        ))}
        {lineage.workflow && (
          <li>
            <Link
              to={
                lineage.workflow_version != null
                  ? `/workflows/${encodeURIComponent(lineage.workflow)}/versions/${lineage.workflow_version}`
                  : `/workflows/${encodeURIComponent(lineage.workflow)}`
              }
            >
              workflow {lineage.workflow}
              {lineage.workflow_version != null && ` v${lineage.workflow_version}`}
            </Link>
          </li>
        )}
      </ul>
      <h3>Training data</h3>
      {data.length === 0 && !window && <p className="muted">No data recorded for this version.</p>}
      {data.length > 0 && (
        <table className="data" data-testid="lineage-data">
          <thead>
            <tr>
              <th scope="col">Example</th>
              <th scope="col">Location</th>
              <th scope="col">Fingerprint</th>
            </tr>
          </thead>
          <tbody>
            {data.map((entry, i) => (
              <tr key={i}>
                <td>
                  {entry.example ? (
                    <Link to={`/examples/${encodeURIComponent(entry.example)}`}>{entry.example}</Link>
                  ) : (
                    "—"
                  )}
                </td>
                <td className="mono">{entry.uri ?? "—"}</td>
                <td className="mono">{entry.fingerprint ?? entry.error ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {window && (
        <dl className="props" data-testid="lineage-window">
          <dt>Stream source</dt>
          <dd>{window.source ?? "—"}</dd>
          <dt>Micro-batches</dt>
          <dd>{window.microBatches}</dd>
          <dt>Records</dt>
          <dd>{window.records ?? "—"}</dd>
        </dl>
      )}
    </>
  );
}
