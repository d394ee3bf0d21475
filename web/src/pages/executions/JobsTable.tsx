// An execution's jobs as a table: the keyboard's way to what the graph shows (a job's name
// selects it, as a click on its box does) and the way to each job's log.
import { Link } from "react-router";
import { StatusBadge } from "../../components/StatusBadge";
import { fmtDuration } from "../../format";
import { fmtAttempt, jobDuration, jobRows, type Job } from "./model";

export function JobsTable({
  jobs,
  selected,
  selectHref,
}: {
  jobs: Job[];
  selected: string | null;
  /** the URL (search part) that selects a job */
  selectHref: (name: string) => string;
}) {
  if (jobs.length === 0) return <p className="muted">This execution has no jobs.</p>;
  return (
    <div className="table-scroll">
      <table className="data jobs-table" aria-label="jobs">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Attempt</th>
            <th scope="col">Duration</th>
            <th scope="col">Exit code</th>
            <th scope="col">Error</th>
            <th scope="col">Rows</th>
            <th scope="col">Log</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr
              key={job.id}
              data-testid="job-row"
              data-job-name={job.name}
              data-job-id={job.id}
              className={job.name === selected ? "selected" : undefined}
            >
              <td>
                <Link
                  to={selectHref(job.name)}
                  replace
                  aria-current={job.name === selected ? "true" : undefined}
                  title="show this job's details"
                >
                  {job.name}
                </Link>
              </td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td>{fmtAttempt(job)}</td>
              <td>{fmtDuration(jobDuration(job))}</td>
              <td>{job.exit_code ?? "—"}</td>
              <td className="job-error" title={job.error ?? undefined}>
                {job.error ?? ""}
              </td>
              <td>{jobRows(job) ?? "—"}</td>
              <td>
                <Link to={`/jobs/${job.id}/logs`} data-testid="job-log-link" aria-label={`Log of ${job.name}`}>
                  Log
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
