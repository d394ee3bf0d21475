// Executions, newest first, filtered by workflow, status, mode and trigger; filters and the page
// live in the URL. Two requests: the page of executions and the triggers (to name them). The
// list refreshes itself while any execution on it is unfinished.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { StatusBadge } from "../components/StatusBadge";
import { elapsed, fmtDuration, fmtNumber, fmtTime } from "../format";
import { cursorOf, newerPage, olderPage, withFilter, type Filter } from "./executions/listParams";
import { EXECUTION_STATUSES, isFinished, type Execution } from "./executions/model";
import "./executions.css";

const PAGE_SIZE = 50;
const REFRESH_MS = 3_000;

type ExecutionStatus = Schemas["ExecutionStatus"];

function asStatus(value: string | null): ExecutionStatus | undefined {
  return EXECUTION_STATUSES.find((status) => status === value);
}

function asMode(value: string | null): "batch" | "stream" | undefined {
  return value === "batch" || value === "stream" ? value : undefined;
}

export function ExecutionsPage() {
  const [params, setParams] = useSearchParams();
  const workflow = params.get("workflow") || undefined;
  const status = asStatus(params.get("status"));
  const mode = asMode(params.get("mode"));
  const trigger = params.get("trigger") || undefined;
  const cursor = cursorOf(params);

  const executions = useQuery({
    queryKey: ["executions", { workflow, status, mode, trigger, cursor }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/executions", {
          params: { query: { workflow, status, mode, trigger, cursor, limit: PAGE_SIZE, count: true } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: (query) =>
      query.state.data?.data.some((execution) => !isFinished(execution.status)) ? REFRESH_MS : false,
  });
  const triggers = useQuery({
    queryKey: ["triggers", "names"],
    queryFn: () => unwrap(api.GET("/api/v1/triggers", { params: { query: { limit: 500 } } })),
    staleTime: 60_000,
  });
  const triggerNames = new Map((triggers.data?.data ?? []).map((t) => [t.id, t.name]));

  const setFilter = (filter: Filter, value: string) => setParams(withFilter(params, filter, value));
  const page = executions.data;
  const rows = page?.data ?? [];

  return (
    <section className="executions-page">
      <h1>Executions</h1>
      <Filters
        params={params}
        triggers={(triggers.data?.data ?? []).map((t) => t.name)}
        onChange={setFilter}
      />
      <ProblemView error={executions.error} />
      {executions.isPending ? (
        <Loading what="executions" />
      ) : (
        <>
          <p className="muted" aria-live="polite">
            {page?.total != null ? `${fmtNumber(page.total)} executions` : `${rows.length} executions`}
            {executions.isFetching && !executions.isPending ? " · refreshing…" : ""}
          </p>
          <div className="table-scroll">
            <table className="data" aria-label="executions">
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Workflow</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Engine</th>
                  <th scope="col">Deployer</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Created</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((execution) => (
                  <ExecutionRow
                    key={execution.id}
                    execution={execution}
                    trigger={
                      execution.trigger_id == null
                        ? null
                        : (triggerNames.get(execution.trigger_id) ?? `#${execution.trigger_id}`)
                    }
                  />
                ))}
                {rows.length === 0 && (
                  <tr>
                    <td colSpan={9} className="muted">
                      No executions match these filters.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="pages">
            <button
              type="button"
              className="ghost"
              disabled={!cursor}
              onClick={() => setParams(newerPage(params))}
            >
              Newer
            </button>
            <button
              type="button"
              className="ghost"
              disabled={!page?.next_cursor}
              onClick={() => page?.next_cursor && setParams(olderPage(params, page.next_cursor))}
            >
              Older
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

function ExecutionRow({ execution, trigger }: { execution: Execution; trigger: string | null }) {
  return (
    <tr data-testid="execution-row" data-execution-id={execution.id}>
      <td>
        <Link to={`/executions/${execution.id}`}>{execution.id}</Link>
      </td>
      <td>
        <Link to={`/workflows/${encodeURIComponent(execution.workflow_name)}`}>{execution.workflow_name}</Link>
      </td>
      <td>{execution.mode}</td>
      <td>{execution.engine}</td>
      <td>{execution.deployer}</td>
      <td>
        <StatusBadge status={execution.status} />
      </td>
      <td>{trigger ?? <span className="muted">manual</span>}</td>
      <td>{fmtTime(execution.created_at)}</td>
      <td>{fmtDuration(elapsed(execution.started_at, execution.ended_at))}</td>
    </tr>
  );
}

function Filters({
  params,
  triggers,
  onChange,
}: {
  params: URLSearchParams;
  triggers: string[];
  onChange: (filter: Filter, value: string) => void;
}) {
  const applied = params.get("workflow") ?? "";
  const [workflow, setWorkflow] = useState(applied);
  useEffect(() => setWorkflow(applied), [applied]);
  const trigger = params.get("trigger") ?? "";
  const triggerOptions = trigger && !triggers.includes(trigger) ? [trigger, ...triggers] : triggers;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onChange("workflow", workflow.trim());
  };
  return (
    <form className="toolbar" role="search" aria-label="filter executions" onSubmit={submit}>
      <label>
        Workflow
        <input
          name="workflow"
          value={workflow}
          placeholder="any"
          onChange={(event) => setWorkflow(event.target.value)}
          onBlur={() => workflow.trim() !== applied && onChange("workflow", workflow.trim())}
        />
      </label>
      <label>
        Status
        <select value={params.get("status") ?? ""} onChange={(event) => onChange("status", event.target.value)}>
          <option value="">any</option>
          {EXECUTION_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        Mode
        <select value={params.get("mode") ?? ""} onChange={(event) => onChange("mode", event.target.value)}>
          <option value="">any</option>
          <option value="batch">batch</option>
          <option value="stream">stream</option>
        </select>
      </label>
      <label>
        Trigger
        <select value={trigger} onChange={(event) => onChange("trigger", event.target.value)}>
          <option value="">any</option>
          {triggerOptions.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="ghost">
        Filter
      </button>
    </form>
  );
}
