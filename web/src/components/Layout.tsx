// The frame of every page: navigation, who is signed in, the theme switch, and a skip link.
import { Suspense } from "react";
import { NavLink, Outlet } from "react-router";
import { useSession } from "../api/session";
import { useTheme } from "../theme";
import { Loading } from "./Problem";

const SECTIONS = [
  ["/workflows", "Workflows"],
  ["/executions", "Executions"],
  ["/models", "Models"],
  ["/events", "Events"],
  ["/examples", "Examples"],
] as const;

export function Layout() {
  const { session, signOut } = useSession();
  const [theme, toggleTheme] = useTheme();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">aiflow</span>
        <nav aria-label="sections">
          {SECTIONS.map(([to, label]) => (
            <NavLink key={to} to={to}>
              {label}
            </NavLink>
          ))}
        </nav>
        <span className="spacer" />
        <button type="button" className="ghost" onClick={toggleTheme} aria-label="switch theme">
          {theme === "dark" ? "☀ light" : "☾ dark"}
        </button>
        {session && (
          <span className="who" data-testid="who">
            {session.name} <span className="role">{session.role}</span>
          </span>
        )}
        {session && !session.dev && (
          <button type="button" className="ghost" onClick={() => void signOut()}>
            Sign out
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="page" />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
