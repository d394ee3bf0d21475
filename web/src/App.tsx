// Every page has a stable URL: deep links to an execution, a job's log, a model version.
import { matchRoutes, Navigate, Route, Routes } from "react-router";
import { useSession } from "./api/session";
import { Layout } from "./components/Layout";
import { Loading } from "./components/Problem";
import { lazyPage as page, type LazyPage } from "./pages/lazy";
import { SignIn } from "./pages/SignIn";

const EventsPage = page(() => import("./pages/EventsPage"), "EventsPage");
const ExamplePage = page(() => import("./pages/ExamplePage"), "ExamplePage");
const ExamplesPage = page(() => import("./pages/ExamplesPage"), "ExamplesPage");
const ExecutionPage = page(() => import("./pages/ExecutionPage"), "ExecutionPage");
const ExecutionsPage = page(() => import("./pages/ExecutionsPage"), "ExecutionsPage");
const JobLogPage = page(() => import("./pages/JobLogPage"), "JobLogPage");
const ModelPage = page(() => import("./pages/ModelPage"), "ModelPage");
const ModelsPage = page(() => import("./pages/ModelsPage"), "ModelsPage");
const ModelVersionPage = page(() => import("./pages/ModelVersionPage"), "ModelVersionPage");
const WorkflowPage = page(() => import("./pages/WorkflowPage"), "WorkflowPage");
const WorkflowsPage = page(() => import("./pages/WorkflowsPage"), "WorkflowsPage");

const PAGES: [string, LazyPage][] = [
  ["workflows", WorkflowsPage],
  ["workflows/:name", WorkflowPage],
  ["workflows/:name/versions/:version", WorkflowPage],
  ["workflows/:name/versions/:version/:tab/*", WorkflowPage],
  ["executions", ExecutionsPage],
  ["executions/:id", ExecutionPage],
  ["jobs/:id/logs", JobLogPage],
  ["models", ModelsPage],
  ["models/:name", ModelPage],
  ["models/:name/versions/:version", ModelVersionPage],
  ["events", EventsPage],
  ["examples", ExamplesPage],
  ["examples/:name", ExamplePage],
];

/** Fetch the code of the page the URL names now, while the session is being checked. */
export function preloadPage(pathname: string): void {
  const routes = PAGES.map(([path, Page]) => ({ path: `/${path}`, Page }));
  const shown = pathname === "/" ? "/executions" : pathname; // where the index redirects
  for (const match of matchRoutes(routes, shown) ?? []) void match.route.Page.preload();
}

export function App() {
  const { session, loading } = useSession();
  if (loading) return <Loading what="session" />;
  if (!session) return <SignIn />;
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/executions" replace />} />
        {PAGES.map(([path, Page]) => (
          <Route key={path} path={path} element={<Page />} />
        ))}
        <Route path="*" element={<p role="alert">No such page.</p>} />
      </Route>
    </Routes>
  );
}
