// One workflow: its versions (newest shown unless the URL names one) and, for the shown
// version, three tabs with stable URLs: the logical plan, the physical plan (jobs), the source.
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../api/client";
import { Loading, ProblemView } from "../components/Problem";
import { executionsUrl } from "./WorkflowsPage";
import { JobsTab } from "./workflows/JobsTab";
import { Pager } from "./workflows/Pager";
import { PlanTab } from "./workflows/PlanTab";
import { SourceTab } from "./workflows/SourceTab";
import { VersionTable } from "./workflows/VersionTable";
import { versionUrl } from "./workflows/graph";
import "./workflows.css";

const TABS = [
  ["plan", "Plan"],
  ["jobs", "Jobs"],
  ["source", "Source"],
] as const;
const VERSIONS_PAGE = 20;

export function VersionTabs({ name, version, tab }: { name: string; version: number; tab: string }) {
  return (
    <nav className="tabs" aria-label="version views">
      {TABS.map(([id, label]) => (
        <Link
          key={id}
          to={versionUrl(name, version, id)}
          className={tab === id ? "active" : undefined}
          aria-current={tab === id ? "page" : undefined}
          data-testid={`tab-${id}`}
        >
          {label}
        </Link>
      ))}
    </nav>
  );
}

export function WorkflowPage() {
  const params = useParams();
  const name = params.name ?? "";
  const tab = params.tab ?? "plan";
  const filePath = params["*"] || null;
  const [search] = useSearchParams();
  const before = Number(search.get("versions_before")) || null;
  const versions = useQuery({
    queryKey: ["workflow-versions", name, before],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/workflows/{name}/versions", {
          params: { path: { name }, query: { cursor: before, limit: VERSIONS_PAGE } },
        }),
      ),
  });
  const fromUrl = params.version ? Number(params.version) : null;
  const version = fromUrl ?? versions.data?.data[0]?.version ?? null;
  const badVersion = params.version != null && !(Number.isInteger(fromUrl) && (fromUrl ?? 0) >= 1);

  return (
    <>
      <div className="title-row">
        <h1>
          <Link to="/workflows">Workflows</Link> / {name}
          {version != null && <span className="muted"> · v{version}</span>}
        </h1>
        <Link to={executionsUrl(name)} data-testid="workflow-executions">
          Executions of {name}
        </Link>
      </div>
      <section aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        {versions.isPending ? (
          <Loading what="versions" />
        ) : versions.isError ? (
          <ProblemView error={versions.error} />
        ) : (
          <>
            <VersionTable name={name} versions={versions.data.data} selected={version} tab={tab} />
            <Pager nextCursor={versions.data.next_cursor} param="versions_before" label="Older versions" />
          </>
        )}
      </section>
      {badVersion ? (
        <p role="alert">No such version: {params.version}</p>
      ) : (
        version != null && (
          <section aria-label={`version ${version}`}>
            <VersionTabs name={name} version={version} tab={tab} />
            {tab === "plan" && <PlanTab name={name} version={version} />}
            {tab === "jobs" && <JobsTab name={name} version={version} />}
            {tab === "source" && <SourceTab name={name} version={version} path={filePath} />}
            {!TABS.some(([id]) => id === tab) && <p role="alert">No such tab: {tab}</p>}
          </section>
        )
      )}
    </>
  );
}
