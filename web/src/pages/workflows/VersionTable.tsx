// A workflow's versions: each row links to the same tab of that version, so comparing two
// versions' plans is one click.
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { fmtTime } from "../../format";
import { versionUrl } from "./graph";

type Version = Schemas["WorkflowVersionPublic"];

export function shortHash(hash: string): string {
  return hash.length > 12 ? hash.slice(0, 12) : hash;
}

export function VersionTable({
  name,
  versions,
  selected,
  tab,
}: {
  name: string;
  versions: Version[];
  selected: number | null;
  tab: string;
}) {
  if (versions.length === 0) return <p className="muted">This workflow has no versions.</p>;
  return (
    <table className="data versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Plan hash</th>
          <th scope="col">Source hash</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {versions.map((version) => {
          const current = version.version === selected;
          return (
            <tr
              key={version.id}
              data-testid="version-row"
              data-version={version.version}
              aria-current={current ? "true" : undefined}
              className={current ? "selected" : undefined}
            >
              <td>
                <Link to={versionUrl(name, version.version, tab)}>v{version.version}</Link>
                {current && <span className="badge">shown</span>}
              </td>
              <td className="mono" title={version.plan_hash}>
                {shortHash(version.plan_hash)}
              </td>
              <td className="mono" title={version.source_hash}>
                {shortHash(version.source_hash)}
              </td>
              <td>{fmtTime(version.created_at)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
