// An error as the API explained it (the problem's detail names what is at fault).
import { ApiError } from "../api/client";

export function ProblemView({ error }: { error: unknown }) {
  if (error == null) return null;
  const text =
    error instanceof ApiError
      ? `${error.status}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <div role="alert" className="problem">
      {text}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" aria-busy="true">Loading {what}…</p>;
}
