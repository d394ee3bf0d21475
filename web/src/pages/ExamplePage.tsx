// One example: its schema, where its data lives (batch and stream), and which workflows read
// or write it (their newest versions), with links to the nodes in their plans.
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { fmtTime } from "../format";
import { versionUrl } from "./workflows/graph";
import "./workflows.css";

type Example = Schemas["ExamplePublic"];
type Use = Schemas["ExampleUse"];

export function ExampleDetail({ example }: { example: Example }) {
  const columns = Object.entries(example.columns);
  return (
    <div className="grid2">
      <section className="panel" aria-labelledby="schema-heading">
        <h2 id="schema-heading">Schema</h2>
        {columns.length === 0 ? (
          <p className="muted">No columns declared.</p>
        ) : (
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Type</th>
              </tr>
            </thead>
            <tbody>
              {columns.map(([column, type]) => (
                <tr key={column} data-testid="column-row" data-column={column}>
                  <td className="mono">{column}</td>
                  <td className="mono">{type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="panel" aria-labelledby="data-heading">
        <h2 id="data-heading">Data</h2>
        <dl className="props">
          <dt>Format</dt>
          <dd data-testid="example-format">{example.format}</dd>
          <dt>Batch URI</dt>
          <dd className="mono" data-testid="batch-uri">
            {example.batch_uri ?? "—"}
          </dd>
          <dt>Stream URI</dt>
          <dd className="mono" data-testid="stream-uri">
            {example.stream_uri ?? "—"}
          </dd>
          <dt>Created</dt>
          <dd>{fmtTime(example.created_at)}</dd>
          <dt>Updated</dt>
          <dd>{fmtTime(example.updated_at)}</dd>
        </dl>
      </section>
    </div>
  );
}

function NodeLinks({ use, nodes }: { use: Use; nodes: string[] }) {
  if (nodes.length === 0) return <>—</>;
  return (
    <>
      {nodes.map((node, i) => (
        <span key={node}>
          {i > 0 && ", "}
          <Link to={`${versionUrl(use.workflow, use.version, "plan")}?${new URLSearchParams({ node })}`}>
            {node}
          </Link>
        </span>
      ))}
    </>
  );
}

export function UsageTable({ usage }: { usage: Use[] }) {
  if (usage.length === 0) return <p className="muted">No workflow reads or writes this example.</p>;
  return (
    <table className="data">
      <thead>
        <tr>
          <th scope="col">Workflow</th>
          <th scope="col">Version</th>
          <th scope="col">Reads (nodes)</th>
          <th scope="col">Writes (nodes)</th>
        </tr>
      </thead>
      <tbody>
        {usage.map((use) => (
          <tr key={`${use.workflow}/${use.version}`} data-testid="usage-row" data-workflow={use.workflow}>
            <td>
              <Link to={`/workflows/${encodeURIComponent(use.workflow)}`}>{use.workflow}</Link>
            </td>
            <td>
              <Link to={versionUrl(use.workflow, use.version, "plan")}>v{use.version}</Link>
            </td>
            <td>
              <NodeLinks use={use} nodes={use.reads} />
            </td>
            <td>
              <NodeLinks use={use} nodes={use.writes} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExamplePage() {
  const name = useParams().name ?? "";
  const example = useQuery({
    queryKey: ["example", name],
    queryFn: () => unwrap(api.GET("/api/v1/examples/{name}", { params: { path: { name } } })),
  });
  const usage = useQuery({
    queryKey: ["example-usage", name],
    queryFn: () =>
      unwrap(api.GET("/api/v1/examples/{name}/usage", { params: { path: { name } } })),
  });
  return (
    <>
      <h1>
        <Link to="/examples">Examples</Link> / {name}
      </h1>
      {example.isPending ? (
        <Loading what="example" />
      ) : example.isError ? (
        <ProblemView error={example.error} />
      ) : (
        <ExampleDetail example={example.data} />
      )}
      <section aria-labelledby="usage-heading">
        <h2 id="usage-heading">Used by</h2>
        {usage.isPending ? (
          <Loading what="usage" />
        ) : usage.isError ? (
          <ProblemView error={usage.error} />
        ) : (
          <UsageTable usage={usage.data} />
        )}
      </section>
    </>
  );
}
