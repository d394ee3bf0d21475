// A job's log: its last lines, or (Follow, on while the job runs) a stream of what it writes
// until it ends, read with fetch and a ReadableStream. Lines are text, never HTML; a search
// marks its matches with <mark>. Follow and the search live in the URL (`?follow=0&q=...`).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiError, api, fetchText, unwrap } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { StatusBadge } from "../components/StatusBadge";
import { fmtDuration, fmtNumber } from "../format";
import { FlinkLink } from "./executions/JobDetails";
import {
  EMPTY_LOG,
  LOG_CAP,
  appendLines,
  countMatches,
  highlight,
  readLines,
  type LogBuffer,
  type LogChunk,
} from "./executions/log";
import { fmtAttempt, isFinished, jobDuration } from "./executions/model";
import "./executions.css";

const FLUSH_MS = 100; // streamed lines reach the page at most ten times a second
const JOB_POLL_MS = 3_000;

export function JobLogPage() {
  const { id } = useParams();
  const number = Number(id);
  if (!Number.isInteger(number) || number < 1) {
    return <ProblemView error={new Error(`"${id ?? ""}" is not a job id`)} />;
  }
  return <JobLog key={number} id={number} />;
}

function JobLog({ id }: { id: number }) {
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const job = useQuery({
    queryKey: ["job", id],
    queryFn: () => unwrap(api.GET("/api/v1/jobs/{id}", { params: { path: { id } } })),
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status && !isFinished(status) ? JOB_POLL_MS : false;
    },
  });
  const ready = job.data != null;
  const running = job.data ? !isFinished(job.data.status) : false;
  const followParam = params.get("follow");
  const follow = followParam === "1" ? true : followParam === "0" ? false : running;
  const query = params.get("q") ?? "";
  const log = useLogText(id, ready, follow, () => void client.invalidateQueries({ queryKey: ["job", id] }));

  const setParam = (name: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value == null || value === "") next.delete(name);
    else next.set(name, value);
    setParams(next, { replace: true });
  };

  const pre = useRef<HTMLPreElement>(null);
  useLayoutEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log.buffer, follow]);
  const matches = useMemo(() => countMatches(log.buffer, query), [log.buffer, query]);

  if (job.isPending) return <Loading what={`job ${id}`} />;
  if (job.isError) {
    return (
      <section>
        <h1>Job {id}</h1>
        <ProblemView error={job.error} />
      </section>
    );
  }
  const data = job.data;
  return (
    <section className="job-log-page">
      <div className="job-log-head">
        <h1>
          Log of job <span data-testid="job-name">{data.name}</span>
        </h1>
        <span data-testid="job-status" data-status={data.status}>
          <StatusBadge status={data.status} />
        </span>
        <span className="muted">
          {data.engine} · {fmtAttempt(data)} · {fmtDuration(jobDuration(data))}
        </span>
        <Link
          to={`/executions/${data.execution_id}?job=${encodeURIComponent(data.name)}`}
          data-testid="job-execution-link"
        >
          Execution {data.execution_id}
        </Link>
        <FlinkLink job={data} />
      </div>
      {data.error && (
        <div className="problem" data-testid="job-error">
          {data.error}
        </div>
      )}
      <div className="toolbar log-toolbar">
        <label className="inline">
          <input
            type="checkbox"
            checked={follow}
            onChange={(event) => setParam("follow", event.target.checked ? "1" : "0")}
          />
          Follow
        </label>
        <label>
          Search
          <input
            type="search"
            value={query}
            onChange={(event) => setParam("q", event.target.value)}
            aria-describedby="log-match-count"
          />
        </label>
        <span id="log-match-count" className="muted match-count" data-testid="match-count" aria-live="polite">
          {query ? `${fmtNumber(matches)} ${matches === 1 ? "match" : "matches"}` : ""}
        </span>
        <span className="spacer" />
        <a href={`/api/v1/jobs/${id}/logs`} download={`job-${id}-${data.name}.log`} data-testid="log-download">
          Download
        </a>
      </div>
      <LogStatus log={log} follow={follow} />
      <pre className="log" data-testid="log" ref={pre} tabIndex={0} aria-label={`log of job ${data.name}`}>
        {log.buffer.chunks.map((chunk) => (
          <ChunkView key={chunk.id} chunk={chunk} query={query} />
        ))}
      </pre>
    </section>
  );
}

function LogStatus({ log, follow }: { log: LogText; follow: boolean }) {
  if (log.error instanceof ApiError && log.error.status === 404) {
    return <p className="muted">{log.error.message}</p>;
  }
  if (log.error) return <ProblemView error={log.error} />;
  return (
    <p className="muted" aria-live="polite">
      {log.loading && !log.buffer.count ? "Loading the log…" : null}
      {!log.loading && log.buffer.count === 0 ? "The log is empty." : null}
      {log.buffer.dropped > 0
        ? `Showing the last ${fmtNumber(LOG_CAP)} lines ` +
          `(${fmtNumber(log.buffer.dropped)} earlier ones are in the download). `
        : null}
      {follow && log.loading ? "Following…" : null}
      {log.ended ? "The job ended; the log is complete." : null}
    </p>
  );
}

const ChunkView = memo(function ChunkView({ chunk, query }: { chunk: LogChunk; query: string }) {
  return (
    <>
      {chunk.lines.map((line, i) => (
        <span className="log-line" key={i}>
          {query
            ? highlight(line, query).map((fragment, j) =>
                fragment.match ? <mark key={j}>{fragment.text}</mark> : fragment.text,
              )
            : line}
          {"\n"}
        </span>
      ))}
    </>
  );
});

interface LogText {
  buffer: LogBuffer;
  loading: boolean;
  error: unknown;
  /** a followed log ended because its job did */
  ended: boolean;
}

/** The log's lines: its tail, or its tail and then what follows until the job ends. Restarts
 * when ``follow`` changes; aborts the request when it does and on unmount. */
function useLogText(id: number, ready: boolean, follow: boolean, onEnded: () => void): LogText {
  const [state, setState] = useState<LogText>({ buffer: EMPTY_LOG, loading: true, error: null, ended: false });
  const ended = useRef(onEnded);
  ended.current = onEnded;
  useEffect(() => {
    if (!ready) return;
    const abort = new AbortController();
    setState({ buffer: EMPTY_LOG, loading: true, error: null, ended: false });
    let pending: string[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const lines = pending;
      pending = [];
      if (lines.length) setState((s) => ({ ...s, buffer: appendLines(s.buffer, lines) }));
    };
    const onLines = (lines: string[]) => {
      pending = pending.concat(lines);
      if (pending.length > LOG_CAP) pending = pending.slice(-LOG_CAP);
      timer ??= setTimeout(flush, FLUSH_MS);
    };
    const query = new URLSearchParams({ tail: String(LOG_CAP) });
    if (follow) query.set("follow", "true");
    const run = async () => {
      try {
        const url = `/api/v1/jobs/${id}/logs?${query.toString()}`;
        const response = await fetchText(url, { signal: abort.signal });
        await readLines(response, onLines, abort.signal);
        if (abort.signal.aborted) return;
        if (timer) clearTimeout(timer);
        flush();
        setState((s) => ({ ...s, loading: false, ended: follow }));
        if (follow) ended.current();
      } catch (error) {
        if (abort.signal.aborted) return;
        setState((s) => ({ ...s, loading: false, error }));
      }
    };
    void run();
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, [id, ready, follow]);
  return state;
}
