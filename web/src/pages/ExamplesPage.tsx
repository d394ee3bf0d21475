// The examples (named datasets with a schema): one row each, with where their data lives.
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { fmtTime } from "../format";
import { Pager } from "./workflows/Pager";
import "./workflows.css";

const PAGE = 100;

export function ExampleTable({ examples }: { examples: Schemas["ExamplePublic"][] }) {
  if (examples.length === 0) return <p className="muted">No examples yet.</p>;
  return (
    <table className="data">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Format</th>
          <th scope="col">Columns</th>
          <th scope="col">Batch URI</th>
          <th scope="col">Stream URI</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {examples.map((example) => (
          <tr key={example.id} data-testid="example-row" data-example={example.name}>
            <td>
              <Link to={`/examples/${encodeURIComponent(example.name)}`}>{example.name}</Link>
            </td>
            <td>{example.format}</td>
            <td>{Object.keys(example.columns).length}</td>
            <td className="mono uri">{example.batch_uri ?? "—"}</td>
            <td className="mono uri">{example.stream_uri ?? "—"}</td>
            <td>{fmtTime(example.updated_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExamplesPage() {
  const [params] = useSearchParams();
  const cursor = params.get("cursor");
  const query = useQuery({
    queryKey: ["examples", cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/examples", { params: { query: { cursor, limit: PAGE } } })),
  });
  return (
    <>
      <h1>Examples</h1>
      {query.isPending ? (
        <Loading what="examples" />
      ) : query.isError ? (
        <ProblemView error={query.error} />
      ) : (
        <>
          <ExampleTable examples={query.data.data} />
          <Pager nextCursor={query.data.next_cursor} />
        </>
      )}
    </>
  );
}
