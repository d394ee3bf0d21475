// The alias timeline: who moved which alias from which version to which, when and why, newest
// first; below it, every recorded change of the model (stages, aliases, tags) for the audit.
import { Link } from "react-router";
import { fmtNumber, fmtTime } from "../../format";
import type { AliasEntry } from "./history";
import { versionHref, type Change } from "./types";

function VersionRef({ model, version, none }: { model: string; version: number | null; none: string }) {
  if (version == null) return <span className="muted">{none}</span>;
  return <Link to={versionHref(model, version)}>v{version}</Link>;
}

export function AliasHistory({ model, entries }: { model: string; entries: readonly AliasEntry[] }) {
  return (
    <>
      {entries.length === 0 && <p className="muted">No alias has been set yet.</p>}
      <ol className="alias-history" data-testid="alias-history">
        {entries.map((entry) => (
          <li
            key={entry.seq}
            data-testid="history-entry"
            data-alias={entry.alias}
            data-from={entry.from ?? ""}
            data-to={entry.to ?? ""}
          >
            <time dateTime={entry.at}>{fmtTime(entry.at)}</time>{" "}
            <span className="actor" data-testid="actor">
              {entry.actor}
            </span>{" "}
            {entry.to == null ? "removed" : "moved"} <span className="badge alias">{entry.alias}</span>{" "}
            <VersionRef model={model} version={entry.from} none="(none)" /> →{" "}
            <VersionRef model={model} version={entry.to} none="(removed)" />
            {entry.reason && (
              <>
                {" "}
                <q className="reason" data-testid="reason">
                  {entry.reason}
                </q>
              </>
            )}
          </li>
        ))}
      </ol>
    </>
  );
}

/** Every recorded change, newest first, in a collapsed table (the history endpoint's rows). */
export function ChangeLog({ model, changes }: { model: string; changes: readonly Change[] }) {
  const rows = [...changes].sort((a, b) => b.seq - a.seq);
  return (
    <details className="change-log">
      <summary>All recorded changes ({rows.length})</summary>
      <table className="data" data-testid="change-log">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Version</th>
            <th scope="col">Change</th>
            <th scope="col">From → to</th>
            <th scope="col">Who</th>
            <th scope="col">Reason</th>
            <th scope="col">Metrics</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((change) => (
            <tr key={change.seq} data-kind={change.kind}>
              <td>{fmtTime(change.created_at)}</td>
              <td>
                <Link to={versionHref(model, change.version)}>v{change.version}</Link>
              </td>
              <td>
                {change.kind} {change.kind !== "stage" && change.field}
              </td>
              <td>
                {change.from_value ?? "—"} → {change.to_value ?? "—"}
              </td>
              <td>{change.actor}</td>
              <td>{change.reason ?? ""}</td>
              <td>
                {Object.entries(change.metrics)
                  .map(([name, value]) => `${name}=${fmtNumber(value)}`)
                  .join(", ")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
