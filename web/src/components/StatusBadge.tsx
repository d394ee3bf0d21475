// A job's or an execution's status as a coloured, labelled badge (colour is never the only cue).

const ICONS: Record<string, string> = {
  queued: "○",
  running: "◐",
  succeeded: "✓",
  failed: "✕",
  killed: "■",
  upstream_failed: "⊘",
  stopping: "◌",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`status status-${status}`} data-testid="status" data-status={status}>
      <span aria-hidden="true">{ICONS[status] ?? "•"}</span> {status.replaceAll("_", " ")}
    </span>
  );
}
