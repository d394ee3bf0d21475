// The Jobs tab: the physical plan a run in the chosen mode would launch (`?mode=`), each job a
// box listing the logical nodes fused into it, coloured by engine.
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { DagGraph } from "../../components/DagGraph";
import { Loading, ProblemView } from "../../components/Problem";
import { physicalEdges, physicalNodes, type PhysicalPlan } from "./graph";

export type Mode = "batch" | "stream";

export function modeOf(value: string | null): Mode {
  return value === "stream" ? "stream" : "batch";
}

/** The physical plan as a graph and a table (the table is the accessible reading of it). */
export function JobsView({ plan }: { plan: PhysicalPlan }) {
  const nodes = useMemo(() => physicalNodes(plan), [plan]);
  const edges = useMemo(() => physicalEdges(plan), [plan]);
  return (
    <>
      <p className="muted">
        {plan.jobs.length} {plan.jobs.length === 1 ? "job" : "jobs"} in {plan.mode} mode, workflow engine{" "}
        {plan.engine}.
      </p>
      <DagGraph
        nodes={nodes}
        edges={edges}
        ariaLabel={`physical plan of ${plan.workflow} version ${plan.version} in ${plan.mode} mode`}
        height={420}
      />
      <table className="data">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Engine</th>
            <th scope="col">Nodes</th>
            <th scope="col">Depends on</th>
          </tr>
        </thead>
        <tbody>
          {plan.jobs.map((job) => (
            <tr key={job.name} data-testid="plan-job-row" data-job={job.name}>
              <td>{job.name}</td>
              <td>
                <span className={`engine-chip engine-${job.engine}`}>{job.engine}</span>
                {job.fallback_from && <span className="muted"> (fell back from {job.fallback_from})</span>}
              </td>
              <td>{job.nodes.join(", ")}</td>
              <td>{job.depends_on.length ? job.depends_on.join(", ") : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function JobsTab({ name, version }: { name: string; version: number }) {
  const [params, setParams] = useSearchParams();
  const mode = modeOf(params.get("mode"));
  const engine = params.get("engine") || undefined;
  const query = useQuery({
    queryKey: ["workflow-jobs", name, version, mode, engine ?? null],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/workflows/{name}/versions/{version}/jobs", {
          params: { path: { name, version }, query: { mode, engine } },
        }),
      ),
    staleTime: Infinity,
    retry: false, // a 422 (cannot run in this mode) will not change by asking again
  });
  return (
    <div>
      <div className="toolbar">
        <label>
          Mode
          <select
            value={mode}
            onChange={(event) =>
              setParams((prev) => {
                const next = new URLSearchParams(prev);
                next.set("mode", event.target.value);
                return next;
              })
            }
          >
            <option value="batch">batch</option>
            <option value="stream">stream</option>
          </select>
        </label>
        {engine && <span className="muted">engine override: {engine}</span>}
      </div>
      {query.isPending ? (
        <Loading what="jobs" />
      ) : query.isError ? (
        <ProblemView error={query.error} />
      ) : (
        <JobsView plan={query.data} />
      )}
    </div>
  );
}
