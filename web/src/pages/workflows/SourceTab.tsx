// The Source tab: the version's source snapshot (the code its jobs ran) as a file list and the
// chosen file's text. The file is in the path (`.../source/<path>`), so a link shows one file.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, fetchText, unwrap, type Schemas } from "../../api/client";
import { Loading, ProblemView } from "../../components/Problem";
import { encodePath, versionUrl } from "./graph";

type SourceFile = Schemas["SourceFile"];

function fmtBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

export function SourceFiles({
  name,
  version,
  files,
  selected,
}: {
  name: string;
  version: number;
  files: SourceFile[];
  selected: string | null;
}) {
  if (files.length === 0) return <p className="muted">The snapshot holds no files.</p>;
  return (
    <nav aria-label="source files" className="source-files">
      <ul>
        {files.map((file) => (
          <li key={file.path}>
            <Link
              to={`${versionUrl(name, version, "source")}/${encodePath(file.path)}`}
              data-testid="source-file"
              data-path={file.path}
              aria-current={file.path === selected ? "page" : undefined}
              className={file.path === selected ? "active" : undefined}
            >
              {file.path}
            </Link>{" "}
            <span className="muted">{fmtBytes(file.size)}</span>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function SourceText({ name, version, path }: { name: string; version: number; path: string }) {
  const query = useQuery({
    queryKey: ["workflow-source-file", name, version, path],
    queryFn: async () => {
      const url = `/api/v1/workflows/${encodeURIComponent(name)}/versions/${version}/source/${encodePath(path)}`;
      const response = await fetchText(url);
      return response.text();
    },
    staleTime: Infinity,
  });
  if (query.isPending) return <Loading what={path} />;
  if (query.isError) return <ProblemView error={query.error} />;
  return (
    <figure className="source-figure">
      <figcaption className="mono">{path}</figcaption>
      <pre className="source" data-testid="source" tabIndex={0}>
        {query.data}
      </pre>
    </figure>
  );
}

export function SourceTab({
  name,
  version,
  path,
}: {
  name: string;
  version: number;
  /** the file in the URL, if any (else the first file is shown) */
  path: string | null;
}) {
  const listing = useQuery({
    queryKey: ["workflow-source", name, version],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/workflows/{name}/versions/{version}/source", {
          params: { path: { name, version } },
        }),
      ),
    staleTime: Infinity,
  });
  if (listing.isPending) return <Loading what="source files" />;
  if (listing.isError) return <ProblemView error={listing.error} />;
  const files = listing.data.files;
  const shown = path || files[0]?.path || null;
  return (
    <div className="source-layout">
      <SourceFiles name={name} version={version} files={files} selected={shown} />
      <div className="source-main">
        {shown ? (
          <SourceText name={name} version={version} path={shown} />
        ) : (
          <p className="muted">No file to show.</p>
        )}
      </div>
    </div>
  );
}
