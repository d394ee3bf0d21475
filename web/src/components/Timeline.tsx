// A Gantt-style timeline: one row per job, one bar per attempt, placed on a shared time axis.
// Plain HTML bars (not a canvas): they are text to screen readers, links to keyboards.
import { fmtDuration } from "../format";

export interface TimelineBar {
  start: number; // ms since epoch
  end: number | null; // null: still running
  status: string;
  label: string;
}

export interface TimelineRow {
  id: string;
  label: string;
  bars: TimelineBar[];
}

export function Timeline({ rows, now = Date.now() }: { rows: TimelineRow[]; now?: number }) {
  const bars = rows.flatMap((row) => row.bars);
  if (bars.length === 0) return <p className="muted">No job has started yet.</p>;
  const first = Math.min(...bars.map((bar) => bar.start));
  const last = Math.max(...bars.map((bar) => bar.end ?? now));
  const span = Math.max(last - first, 1);
  return (
    <div className="timeline" role="table" aria-label="job attempts over time">
      {rows.map((row) => (
        <div className="timeline-row" role="row" key={row.id} data-testid="timeline-row">
          <div className="timeline-label" role="rowheader">
            {row.label}
          </div>
          <div className="timeline-track" role="cell">
            {row.bars.map((bar, i) => {
              const left = ((bar.start - first) / span) * 100;
              const width = Math.max((((bar.end ?? now) - bar.start) / span) * 100, 0.5);
              const text = `${bar.label}: ${bar.status}, ${fmtDuration(((bar.end ?? now) - bar.start) / 1000)}`;
              return (
                <span
                  key={i}
                  className={`timeline-bar status-${bar.status}`}
                  style={{ left: `${left}%`, width: `${width}%` }}
                  title={text}
                  aria-label={text}
                  data-testid="timeline-bar"
                />
              );
            })}
          </div>
        </div>
      ))}
      <div className="timeline-axis muted">
        <span>{new Date(first).toLocaleTimeString(undefined, { hour12: false })}</span>
        <span>{fmtDuration(span / 1000)}</span>
      </div>
    </div>
  );
}
