// Sign in with an API token (`aiflow token create --name NAME --role viewer|editor|admin`).
// The token goes to the server once and is kept in an http-only cookie, never in the page.
import { useState, type FormEvent } from "react";
import { useSession } from "../api/session";
import { ProblemView } from "../components/Problem";

export function SignIn() {
  const { signIn } = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token.trim());
      setToken("");
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <form onSubmit={(event) => void submit(event)} aria-labelledby="signin-title">
        <h1 id="signin-title">aiflow</h1>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          autoFocus
          required
          value={token}
          onChange={(event) => setToken(event.target.value)}
          placeholder="aif_…"
        />
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        <p className="muted">
          An admin creates tokens with <code>aiflow token create --name NAME --role viewer</code>.
        </p>
        <ProblemView error={error} />
      </form>
    </main>
  );
}
