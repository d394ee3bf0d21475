// Two versions side by side: their metrics with deltas (b − a) and the lineage fields that
// differ, as the compare endpoint reports them. The pair is the ``compare`` search parameter.
import { Link } from "react-router";
import { Loading, ProblemView } from "../../components/Problem";
import { fmtNumber } from "../../format";
import { fmtDelta, lineageRows, metricRows, type ComparePair } from "./compare";
import { versionHref, type Comparison } from "./types";

function VersionSelect({
  label,
  value,
  versions,
  onChange,
}: {
  label: string;
  value: number | null;
  versions: readonly number[];
  onChange: (version: number | null) => void;
}) {
  return (
    <label>
      {label}
      <select
        value={value ?? ""}
        onChange={(e) => onChange(e.target.value === "" ? null : Number(e.target.value))}
      >
        <option value="">—</option>
        {versions.map((version) => (
          <option key={version} value={version}>
            v{version}
          </option>
        ))}
      </select>
    </label>
  );
}

export function CompareTables({ model, comparison }: { model: string; comparison: Comparison }) {
  const [a, b] = comparison.versions;
  const metrics = metricRows(comparison);
  const lineage = lineageRows(comparison);
  const head = (
    <>
      <th scope="col">
        <Link to={versionHref(model, a)}>Version {a}</Link>
      </th>
      <th scope="col">
        <Link to={versionHref(model, b)}>Version {b}</Link>
      </th>
    </>
  );
  return (
    <div className="grid2">
      <section>
        <h3>Metrics</h3>
        {metrics.length === 0 ? (
          <p className="muted">Neither version has metrics.</p>
        ) : (
          <table className="data" data-testid="compare-metrics">
            <thead>
              <tr>
                <th scope="col">Metric</th>
                {head}
                <th scope="col">Δ (B − A)</th>
              </tr>
            </thead>
            <tbody>
              {metrics.map((row) => (
                <tr key={row.name} data-testid="compare-row" data-metric={row.name}>
                  <th scope="row">{row.name}</th>
                  <td>{fmtNumber(row.a)}</td>
                  <td>{fmtNumber(row.b)}</td>
                  <td
                    className={row.delta == null || row.delta === 0 ? "" : row.delta > 0 ? "up" : "down"}
                    data-testid="delta"
                  >
                    {fmtDelta(row.delta, (value) => String(Number(value.toPrecision(4))))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h3>Lineage differences</h3>
        {lineage.length === 0 ? (
          <p className="muted" data-testid="lineage-same">
            Same lineage: workflow, run, parent and data are equal.
          </p>
        ) : (
          <table className="data" data-testid="lineage-diff">
            <thead>
              <tr>
                <th scope="col">Field</th>
                {head}
              </tr>
            </thead>
            <tbody>
              {lineage.map((row) => (
                <tr key={row.field} data-field={row.field}>
                  <th scope="row">{row.field}</th>
                  <td className="mono">{row.a}</td>
                  <td className="mono">{row.b}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

export function ComparePanel({
  model,
  versions,
  pair,
  onChoose,
  comparison,
  loading,
  error,
}: {
  model: string;
  /** the version numbers to choose from, newest first */
  versions: readonly number[];
  pair: ComparePair;
  /** one side chosen (the caller merges it into the current pair: two quick choices in a
   * row must not lose the first) */
  onChoose: (side: keyof ComparePair, version: number | null) => void;
  comparison: Comparison | undefined;
  loading: boolean;
  error: unknown;
}) {
  return (
    <>
      <div className="toolbar">
        <VersionSelect
          label="Version A"
          value={pair.a}
          versions={versions}
          onChange={(a) => onChoose("a", a)}
        />
        <VersionSelect
          label="Version B"
          value={pair.b}
          versions={versions}
          onChange={(b) => onChoose("b", b)}
        />
      </div>
      {pair.a == null || pair.b == null ? (
        <p className="muted">Choose two versions to compare.</p>
      ) : error ? (
        <ProblemView error={error} />
      ) : loading || !comparison ? (
        <Loading what="comparison" />
      ) : (
        <CompareTables model={model} comparison={comparison} />
      )}
    </>
  );
}
