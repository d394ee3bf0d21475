// One model version: what it is (stage, aliases, artifact, checksum), every metric point it
// logged, its tags, and its lineage graph. Three requests: the version, its metrics, its lineage.
import { Link, useParams } from "react-router";
import { Loading, ProblemView } from "../components/Problem";
import { fmtNumber, fmtTime } from "../format";
import { LineagePanel } from "./models/LineagePanel";
import { useLineage, useVersion, useVersionMetrics } from "./models/queries";
import { modelHref, versionHref } from "./models/types";
import { AliasBadges, StageBadge } from "./models/VersionsTable";
import "./models.css";

export function ModelVersionPage() {
  const params = useParams();
  const name = params.name ?? "";
  const number = Number(params.version);
  const valid = Number.isInteger(number) && number >= 1;
  const version = useVersion(name, valid ? number : 0, valid);
  const metrics = useVersionMetrics(name, valid ? number : 0, valid);
  const lineage = useLineage(name, valid ? number : 0, valid);
  if (!valid) return <p role="alert">No such version: {params.version}</p>;
  const v = version.data;
  return (
    <div className="models-area">
      <p className="breadcrumb">
        <Link to="/models">Models</Link> / <Link to={modelHref(name)}>{name}</Link>
      </p>
      <h1>
        <span data-testid="model-name">{name}</span> version {number}
      </h1>
      {version.error ? (
        <ProblemView error={version.error} />
      ) : !v ? (
        <Loading what="version" />
      ) : (
        <section className="panel">
          <dl className="props" data-testid="version-props">
            <dt>Stage</dt>
            <dd>
              <StageBadge stage={v.stage} />
            </dd>
            <dt>Aliases</dt>
            <dd>{v.aliases.length ? <AliasBadges aliases={v.aliases} /> : "—"}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(v.created_at)}</dd>
            <dt>Flavor</dt>
            <dd>{v.flavor}</dd>
            <dt>Artifact</dt>
            <dd className="mono">{v.artifact_uri}</dd>
            <dt>Checksum</dt>
            <dd className="mono">{v.checksum ?? "—"}</dd>
            <dt>Execution</dt>
            <dd>
              {v.execution_id != null ? (
                <Link to={`/executions/${v.execution_id}`}>execution {v.execution_id}</Link>
              ) : (
                "—"
              )}
            </dd>
            <dt>Job</dt>
            <dd>
              {v.job_id != null ? <Link to={`/jobs/${v.job_id}/logs`}>job {v.job_id} logs</Link> : "—"}
            </dd>
            <dt>Train node</dt>
            <dd>{v.node_id ?? "—"}</dd>
            <dt>Parent version</dt>
            <dd>
              {v.parent_version != null ? (
                <Link to={versionHref(name, v.parent_version)}>v{v.parent_version}</Link>
              ) : (
                "—"
              )}
            </dd>
          </dl>
          <p>
            <Link to={`${modelHref(name)}?compare=${v.parent_version ?? ""},${number}`}>
              Compare with another version
            </Link>
          </p>
        </section>
      )}

      <div className="grid2">
        <section className="panel">
          <h2>Metrics</h2>
          {metrics.error ? (
            <ProblemView error={metrics.error} />
          ) : !metrics.data ? (
            <Loading what="metrics" />
          ) : metrics.data.data.length === 0 ? (
            <p className="muted">No metrics logged.</p>
          ) : (
            <table className="data" data-testid="version-metrics">
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col">Step</th>
                  <th scope="col">Value</th>
                  <th scope="col">Logged</th>
                </tr>
              </thead>
              <tbody>
                {metrics.data.data.map((point) => (
                  <tr key={point.id} data-testid="metric-row" data-metric={point.name}>
                    <td>{point.name}</td>
                    <td>{point.step ?? "—"}</td>
                    <td title={String(point.value)}>{fmtNumber(point.value)}</td>
                    <td>{fmtTime(point.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section className="panel">
          <h2>Tags</h2>
          {!v ? null : Object.keys(v.tags).length === 0 ? (
            <p className="muted">No tags.</p>
          ) : (
            <table className="data" data-testid="version-tags">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(v.tags)
                  .sort(([a], [b]) => a.localeCompare(b))
                  .map(([key, value]) => (
                    <tr key={key} data-testid="tag-row">
                      <th scope="row">{key}</th>
                      <td>{value}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )}
        </section>
      </div>

      <section className="panel">
        <h2>Lineage</h2>
        {lineage.error ? (
          <ProblemView error={lineage.error} />
        ) : !lineage.data ? (
          <Loading what="lineage" />
        ) : (
          <LineagePanel lineage={lineage.data} stage={v?.stage} />
        )}
      </section>
    </div>
  );
}
