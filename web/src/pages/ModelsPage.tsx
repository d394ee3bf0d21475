// The model registry: every model by name, a page at a time (the cursor is in the URL).
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { fmtTime } from "../format";
import { modelHref } from "./models/types";
import "./models.css";

const PAGE = 50;

export function ModelsPage() {
  const [params] = useSearchParams();
  const cursor = params.get("cursor");
  const query = useQuery({
    queryKey: ["models", cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models", {
          params: { query: { cursor: cursor ?? undefined, limit: PAGE, count: true } },
        }),
      ),
  });
  return (
    <div className="models-area">
      <h1>Models</h1>
      {query.error ? (
        <ProblemView error={query.error} />
      ) : !query.data ? (
        <Loading what="models" />
      ) : query.data.data.length === 0 ? (
        <p className="muted">
          No models yet: a workflow's train node registers one (see <code>aiflow model list</code>).
        </p>
      ) : (
        <>
          <table className="data" data-testid="models">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {query.data.data.map((model) => (
                <tr key={model.id} data-testid="model-row" data-name={model.name}>
                  <td>
                    <Link to={modelHref(model.name)}>{model.name}</Link>
                  </td>
                  <td>{model.description ?? ""}</td>
                  <td>{fmtTime(model.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="pages">
            {query.data.total != null && <span className="muted">{query.data.total} models</span>}
            {cursor && <Link to="/models">First page</Link>}
            {query.data.next_cursor && (
              <Link to={`/models?${new URLSearchParams({ cursor: query.data.next_cursor })}`}>
                Next page
              </Link>
            )}
          </nav>
        </>
      )}
    </div>
  );
}
