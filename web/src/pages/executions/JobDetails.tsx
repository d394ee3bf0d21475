// The selected job of an execution: its fused logical nodes with their row counts, its error,
// the handle its deployer gave it, and where its log and (for Flink) its Flink UI page are.
import { Link } from "react-router";
import { StatusBadge } from "../../components/StatusBadge";
import { fmtDuration, fmtTime } from "../../format";
import {
  fallbackFrom,
  flinkJobId,
  flinkUiUrl,
  fmtAttempt,
  fmtRows,
  jobDuration,
  nodeRows,
  specNodes,
  type Job,
} from "./model";

export function FlinkLink({ job }: { job: Job }) {
  const url = flinkUiUrl(job);
  if (!url) return null;
  return (
    <a href={url} target="_blank" rel="noopener noreferrer" data-testid="flink-ui-link">
      Flink UI
    </a>
  );
}

export function JobDetails({ job, closeHref }: { job: Job; closeHref: string }) {
  const nodes = specNodes(job);
  const fallback = fallbackFrom(job);
  const flinkId = flinkJobId(job);
  return (
    <aside
      className="panel job-details"
      data-testid="job-details"
      data-job-name={job.name}
      aria-label={`job ${job.name}`}
    >
      <div className="job-details-head">
        <h2>{job.name}</h2>
        <Link to={closeHref} replace className="close" aria-label="close the job's details">
          ✕
        </Link>
      </div>
      <dl className="props">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={job.status} />
        </dd>
        <dt>Engine</dt>
        <dd>
          {job.engine}
          {fallback && <span className="muted"> (falls back from {fallback})</span>}
        </dd>
        <dt>Attempt</dt>
        <dd>{fmtAttempt(job)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(job.started_at)}</dd>
        <dt>Ended</dt>
        <dd>{fmtTime(job.ended_at)}</dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(jobDuration(job))}</dd>
        <dt>Exit code</dt>
        <dd>{job.exit_code ?? "—"}</dd>
        {flinkId && (
          <>
            <dt>Flink job</dt>
            <dd className="mono">{flinkId}</dd>
          </>
        )}
        <dt>Links</dt>
        <dd className="links">
          <Link to={`/jobs/${job.id}/logs`}>Log</Link>
          <FlinkLink job={job} />
        </dd>
      </dl>
      {job.error && (
        <>
          <h3>Error</h3>
          <pre className="job-error-text" data-testid="job-error">
            {job.error}
          </pre>
        </>
      )}
      <h3>Nodes</h3>
      {nodes.length === 0 ? (
        <p className="muted">The job's spec names no nodes.</p>
      ) : (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Kind</th>
              <th scope="col">Rows</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((node) => (
              <tr key={node.id} data-testid="job-node" data-node={node.id}>
                <td>
                  {node.id}
                  {node.model && <span className="muted"> · model {node.model}</span>}
                </td>
                <td>{node.kind}</td>
                <td>{fmtRows(nodeRows(job, node.id)) ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Handle</h3>
      {job.handle ? (
        <pre className="job-handle">{JSON.stringify(job.handle, null, 2)}</pre>
      ) : (
        <p className="muted">None yet (the job has not been started).</p>
      )}
    </aside>
  );
}
