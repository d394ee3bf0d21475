// A model's versions: stage, aliases, newest metrics, where each came from, and (for editors)
// a Promote button per version opening an inline form.
import { useState } from "react";
import { Link } from "react-router";
import { fmtNumber, fmtTime } from "../../format";
import { PromoteForm } from "./PromoteForm";
import type { PromoteInput } from "./queries";
import { versionHref, type Version } from "./types";

export function StageBadge({ stage }: { stage: string }) {
  return (
    <span className={`stage stage-${stage}`} data-testid="stage" data-stage={stage}>
      {stage}
    </span>
  );
}

export function AliasBadges({ aliases }: { aliases: readonly string[] }) {
  return (
    <>
      {aliases.map((alias) => (
        <span key={alias} className="badge alias" data-testid="alias" data-alias={alias}>
          {alias}
        </span>
      ))}
    </>
  );
}

function LineageSummary({ model, version }: { model: string; version: Version }) {
  const parts = [];
  if (version.execution_id != null) {
    parts.push(
      <Link key="execution" to={`/executions/${version.execution_id}`} data-testid="execution-link">
        execution {version.execution_id}
      </Link>,
    );
  }
  if (version.job_id != null) parts.push(<span key="job">job {version.job_id}</span>);
  if (version.node_id) parts.push(<span key="node">node {version.node_id}</span>);
  if (version.parent_version != null) {
    parts.push(
      <span key="parent">
        from{" "}
        <Link to={versionHref(model, version.parent_version)} data-testid="parent-link">
          v{version.parent_version}
        </Link>
      </span>,
    );
  }
  if (parts.length === 0) return <span className="muted">—</span>;
  return <span className="lineage-summary">{parts}</span>;
}

export function VersionsTable({
  model,
  versions,
  canEdit,
  onPromote,
}: {
  model: string;
  versions: readonly Version[];
  canEdit: boolean;
  onPromote: (input: PromoteInput) => Promise<unknown>;
}) {
  const [promoting, setPromoting] = useState<number | null>(null);
  return (
    <table className="data" data-testid="versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Stage</th>
          <th scope="col">Aliases</th>
          <th scope="col">Metrics</th>
          <th scope="col">Lineage</th>
          <th scope="col">Created</th>
          {canEdit && <th scope="col">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {versions.map((version) => (
          <tr key={version.version} data-testid="version-row" data-version={version.version}>
            <td>
              <Link to={versionHref(model, version.version)}>{version.version}</Link>
            </td>
            <td>
              <StageBadge stage={version.stage} />
            </td>
            <td>
              <AliasBadges aliases={version.aliases} />
            </td>
            <td>
              <ul className="metric-list">
                {Object.entries(version.metrics)
                  .sort(([a], [b]) => a.localeCompare(b))
                  .map(([name, value]) => (
                    <li key={name}>
                      <span className="muted">{name}</span> {fmtNumber(value)}
                    </li>
                  ))}
              </ul>
            </td>
            <td>
              <LineageSummary model={model} version={version} />
            </td>
            <td>{fmtTime(version.created_at)}</td>
            {canEdit && (
              <td>
                {promoting === version.version ? (
                  <PromoteForm
                    version={version.version}
                    onSubmit={(alias, reason) => onPromote({ version: version.version, alias, reason })}
                    onDone={() => setPromoting(null)}
                  />
                ) : (
                  <button
                    type="button"
                    className="ghost"
                    data-testid={`promote-${version.version}`}
                    onClick={() => setPromoting(version.version)}
                  >
                    Promote
                  </button>
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
