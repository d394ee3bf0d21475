// One execution, live: its jobs as a graph with their statuses, their attempts on a timeline,
// a table of jobs, and the selected job's details (`?job=NAME`, so the selection is a link).
// Three requests: the execution, its job events, and the event stream that keeps both current.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../api/client";
import { useCan } from "../api/session";
import { DagGraph } from "../components/DagGraph";
import { Loading, ProblemView } from "../components/Problem";
import { StatusBadge } from "../components/StatusBadge";
import { Timeline } from "../components/Timeline";
import { elapsed, fmtDuration, fmtTime } from "../format";
import { JobDetails } from "./executions/JobDetails";
import { JobsTable } from "./executions/JobsTable";
import { executionKey, useExecution, useExecutionEvents, useNow } from "./executions/live";
import { attemptRows, isFinished, jobGraph, type ExecutionDetail, type Job } from "./executions/model";
import type { EventRecord } from "../api/events";
import "./executions.css";

export function ExecutionPage() {
  const { id } = useParams();
  const number = Number(id);
  if (!Number.isInteger(number) || number < 1) {
    return <ProblemView error={new Error(`"${id ?? ""}" is not an execution id`)} />;
  }
  // keyed: another execution (after a rerun) starts with fresh state and a fresh stream
  return <ExecutionView key={number} id={number} />;
}

function ExecutionView({ id }: { id: number }) {
  const execution = useExecution(id);
  const live = execution.data ? !isFinished(execution.data.status) : false;
  const events = useExecutionEvents(id, live);
  const [params] = useSearchParams();
  const selected = params.get("job");

  if (execution.isPending) return <Loading what={`execution ${id}`} />;
  if (execution.isError) {
    return (
      <section>
        <h1>Execution {id}</h1>
        <ProblemView error={execution.error} />
      </section>
    );
  }
  const detail = execution.data;
  const selectedJob = detail.jobs.find((job) => job.name === selected) ?? null;
  return (
    <section className="execution-page">
      <Header detail={detail} />
      <h2>Jobs</h2>
      <div className={`execution-graph${selectedJob ? " with-details" : ""}`}>
        <JobGraph detail={detail} selected={selected} />
        {selectedJob && <JobDetails job={selectedJob} closeHref={hrefWith(params, null)} />}
      </div>
      <h2>Timeline</h2>
      <div className="panel" data-testid="timeline">
        {events.isError && <ProblemView error={events.error} />}
        {events.isPending ? (
          <Loading what="job events" />
        ) : (
          <LiveTimeline jobs={detail.jobs} events={events.data ?? []} live={live} />
        )}
      </div>
      <JobsTable jobs={detail.jobs} selected={selected} selectHref={(name) => hrefWith(params, name)} />
    </section>
  );
}

/** The search part that selects ``job`` (or none), other parameters kept. */
function hrefWith(params: URLSearchParams, job: string | null): string {
  const next = new URLSearchParams(params);
  if (job) next.set("job", job);
  else next.delete("job");
  const query = next.toString();
  return query ? `?${query}` : "?";
}

function Header({ detail }: { detail: ExecutionDetail }) {
  return (
    <header className="execution-header">
      <div className="execution-title">
        <h1>Execution {detail.id}</h1>
        <span data-testid="execution-status" data-status={detail.status}>
          <StatusBadge status={detail.status} />
        </span>
        <span className="spacer" />
        <Actions detail={detail} />
      </div>
      <dl className="props panel">
        <dt>Workflow</dt>
        <dd>
          <Link to={`/workflows/${encodeURIComponent(detail.workflow_name)}`} data-testid="execution-workflow">
            {detail.workflow_name}
          </Link>
        </dd>
        <dt>Mode</dt>
        <dd>{detail.mode}</dd>
        <dt>Engine</dt>
        <dd>{detail.engine}</dd>
        <dt>Deployer</dt>
        <dd>{detail.deployer}</dd>
        <dt>Trigger</dt>
        <dd>
          {detail.trigger_id == null ? "manual" : `trigger #${detail.trigger_id}`}
          {detail.trigger_event_seq != null && `, on event ${detail.trigger_event_seq}`}
        </dd>
        <dt>Created</dt>
        <dd>{fmtTime(detail.created_at)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(detail.started_at)}</dd>
        <dt>Ended</dt>
        <dd>{fmtTime(detail.ended_at)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(elapsed(detail.started_at, detail.ended_at))}</dd>
        {detail.driver_host && (
          <>
            <dt>Driver</dt>
            <dd className="mono">
              {detail.driver_host} pid {detail.driver_pid ?? "—"}
            </dd>
          </>
        )}
      </dl>
      {detail.error && (
        <div className="problem" data-testid="execution-error">
          {detail.error}
        </div>
      )}
    </header>
  );
}

/** Stop (while unfinished, confirmed) and Rerun (once finished), for editors only. */
function Actions({ detail }: { detail: ExecutionDetail }) {
  const canEdit = useCan("editor");
  const client = useQueryClient();
  const navigate = useNavigate();
  const stop = useMutation({
    // wait=0: answer at once ("stopping"); the stream shows the jobs ending
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/executions/{id}/stop", {
          params: { path: { id: detail.id }, query: { wait: 0 } },
        }),
      ),
    onSuccess: (data) => {
      client.setQueryData(executionKey(detail.id), data);
      void client.invalidateQueries({ queryKey: ["executions"] });
    },
  });
  const rerun = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/executions/{id}/rerun", { params: { path: { id: detail.id } } })),
    onSuccess: (data) => {
      client.setQueryData(executionKey(data.id), data);
      void client.invalidateQueries({ queryKey: ["executions"] });
      void navigate(`/executions/${data.id}`);
    },
  });
  if (!canEdit) return null;
  const finished = isFinished(detail.status);
  return (
    <div className="execution-actions">
      {!finished && (
        <button
          type="button"
          className="danger"
          data-testid="stop-execution"
          disabled={stop.isPending || detail.status === "stopping"}
          onClick={() => {
            if (window.confirm(`Stop execution ${detail.id} and kill its running jobs?`)) stop.mutate();
          }}
        >
          {stop.isPending || detail.status === "stopping" ? "Stopping…" : "Stop"}
        </button>
      )}
      {finished && (
        <button
          type="button"
          data-testid="rerun-execution"
          disabled={rerun.isPending}
          onClick={() => rerun.mutate()}
        >
          {rerun.isPending ? "Starting…" : "Rerun"}
        </button>
      )}
      <ProblemView error={stop.error ?? rerun.error} />
    </div>
  );
}

function JobGraph({ detail, selected }: { detail: ExecutionDetail; selected: string | null }) {
  const [params, setParams] = useSearchParams();
  const { nodes, edges } = useMemo(() => {
    const graph = jobGraph(detail);
    return {
      ...graph,
      nodes: graph.nodes.map((node) =>
        node.id === selected ? { ...node, tone: `${node.tone ?? ""} selected` } : node,
      ),
    };
  }, [detail, selected]);
  if (nodes.length === 0) return <p className="muted panel">This execution has no jobs.</p>;
  return (
    <DagGraph
      nodes={nodes}
      edges={edges}
      ariaLabel={`jobs of execution ${detail.id}`}
      height={nodes.length <= 3 ? 300 : 440}
      onNodeClick={(name) => {
        const next = new URLSearchParams(params);
        if (name === selected) next.delete("job");
        else next.set("job", name);
        setParams(next, { replace: true });
      }}
    />
  );
}

function LiveTimeline({ jobs, events, live }: { jobs: Job[]; events: EventRecord[]; live: boolean }) {
  const rows = useMemo(() => attemptRows(jobs, events), [jobs, events]);
  const now = useNow(live && rows.some((row) => row.bars.some((bar) => bar.end == null)));
  return <Timeline rows={rows} now={now} />;
}
