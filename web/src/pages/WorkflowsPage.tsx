// The workflows: one row each, linking to its versions and plans and to its executions.
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { fmtTime } from "../format";
import { Pager } from "./workflows/Pager";
import "./workflows.css";

const PAGE = 100;

export function executionsUrl(workflow: string): string {
  return `/executions?${new URLSearchParams({ workflow }).toString()}`;
}

export function WorkflowTable({ workflows }: { workflows: Schemas["WorkflowPublic"][] }) {
  if (workflows.length === 0) return <p className="muted">No workflows yet: `aiflow run` one.</p>;
  return (
    <table className="data">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Created</th>
          <th scope="col">Executions</th>
        </tr>
      </thead>
      <tbody>
        {workflows.map((workflow) => (
          <tr key={workflow.id} data-testid="workflow-row" data-workflow={workflow.name}>
            <td>
              <Link to={`/workflows/${encodeURIComponent(workflow.name)}`}>{workflow.name}</Link>
            </td>
            <td>{fmtTime(workflow.created_at)}</td>
            <td>
              <Link to={executionsUrl(workflow.name)} aria-label={`executions of ${workflow.name}`}>
                executions
              </Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WorkflowsPage() {
  const [params] = useSearchParams();
  const cursor = params.get("cursor");
  const query = useQuery({
    queryKey: ["workflows", cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/workflows", { params: { query: { cursor, limit: PAGE } } })),
  });
  return (
    <>
      <h1>Workflows</h1>
      {query.isPending ? (
        <Loading what="workflows" />
      ) : query.isError ? (
        <ProblemView error={query.error} />
      ) : (
        <>
          <WorkflowTable workflows={query.data.data} />
          <Pager nextCursor={query.data.next_cursor} />
        </>
      )}
    </>
  );
}
