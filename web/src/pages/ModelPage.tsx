// One model: its versions, a metric plotted across them (with validation outcomes and the
// served alias), the aliases and their history, two versions compared, and for editors
// promote / roll back. Three requests render it: the model, its versions and its history
// (a comparison, when asked for in the URL, is a fourth).
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { useCan } from "../api/session";
import { Loading, ProblemView } from "../components/Problem";
import { fmtTime } from "../format";
import { AliasesPanel } from "./models/AliasesPanel";
import { AliasHistory, ChangeLog } from "./models/AliasHistory";
import type { XAxisMode } from "./models/chartData";
import { formatCompare, parseCompare } from "./models/compare";
import { ComparePanel } from "./models/ComparePanel";
import { aliasEntries, currentAliases, servedVersion } from "./models/history";
import { MetricChart } from "./models/MetricChart";
import { useSearchState } from "./models/params";
import {
  VERSIONS_PAGE,
  useComparison,
  useHistory,
  useModel,
  usePromote,
  useRollback,
  useVersions,
} from "./models/queries";
import { versionHref } from "./models/types";
import { VersionsTable } from "./models/VersionsTable";
import "./models.css";

export function ModelPage() {
  const name = useParams().name ?? "";
  const [params, setParam] = useSearchState();
  const canEdit = useCan("editor");
  const model = useModel(name);
  const versions = useVersions(name);
  const history = useHistory(name);
  const pair = parseCompare(params.get("compare"));
  const comparison = useComparison(name, pair.a, pair.b);
  const promote = usePromote(name);
  const rollback = useRollback(name);

  const versionList = useMemo(() => versions.data?.data ?? [], [versions.data]);
  const changes = useMemo(() => history.data?.data ?? [], [history.data]);
  const entries = useMemo(() => aliasEntries(changes), [changes]);
  const aliases = useMemo(() => currentAliases(versionList), [versionList]);
  const served = useMemo(() => servedVersion(versionList), [versionList]);

  const xMode: XAxisMode = params.get("x") === "version" ? "version" : "time";

  const error = model.error ?? versions.error ?? history.error;
  return (
    <div className="models-area">
      <h1>
        Model <span data-testid="model-name">{name}</span>
      </h1>
      {error ? (
        <ProblemView error={error} />
      ) : !model.data || !versions.data || !history.data ? (
        <Loading what="model" />
      ) : (
        <>
          <section className="panel">
            <dl className="props">
              <dt>Description</dt>
              <dd>{model.data.description ?? "—"}</dd>
              <dt>Created</dt>
              <dd>{fmtTime(model.data.created_at)}</dd>
              <dt>Served</dt>
              <dd data-testid="served">
                {served == null ? (
                  "nothing (no version may be served)"
                ) : (
                  <>
                    <Link to={versionHref(name, served.version)}>v{served.version}</Link>{" "}
                    <span className="muted">
                      {served.byAlias ? "(alias deployed)" : "(newest servable: no deployed alias)"}
                    </span>
                  </>
                )}
              </dd>
              <dt>Versions</dt>
              <dd>
                {versionList.length}
                {versions.data.next_cursor && ` (the newest ${VERSIONS_PAGE} shown)`}
              </dd>
            </dl>
          </section>

          <section className="panel" data-testid="versions-panel">
            <h2>Versions</h2>
            {versionList.length === 0 ? (
              <p className="muted">No versions yet.</p>
            ) : (
              <VersionsTable
                model={name}
                versions={versionList}
                canEdit={canEdit}
                onPromote={(input) => promote.mutateAsync(input)}
              />
            )}
          </section>

          <section className="panel" data-testid="metrics-panel">
            <h2>Metrics across versions</h2>
            <MetricChart
              versions={versionList}
              history={changes}
              metric={params.get("metric")}
              xMode={xMode}
              onMetric={(metric) => setParam("metric", () => metric)}
              onXMode={(mode) => setParam("x", () => (mode === "time" ? null : mode))}
            />
          </section>

          <div className="grid2">
            <section className="panel" data-testid="aliases-panel">
              <h2>Aliases</h2>
              <AliasesPanel
                model={name}
                aliases={aliases}
                canEdit={canEdit}
                onRollback={(input) => rollback.mutateAsync(input)}
              />
              <h3>Alias history</h3>
              <AliasHistory model={name} entries={entries} />
              <ChangeLog model={name} changes={changes} />
            </section>

            <section className="panel" data-testid="compare-panel">
              <h2>Compare versions</h2>
              <ComparePanel
                model={name}
                versions={versionList.map((v) => v.version)}
                pair={pair}
                onChoose={(side, version) =>
                  setParam("compare", (current) =>
                    formatCompare({ ...parseCompare(current.get("compare")), [side]: version }),
                  )
                }
                comparison={comparison.data}
                loading={comparison.isPending}
                error={comparison.error}
              />
            </section>
          </div>
        </>
      )}
    </div>
  );
}
