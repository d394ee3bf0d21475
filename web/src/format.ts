// How times, durations and numbers read everywhere in the dashboard.

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { hour12: false });
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Seconds from ``start`` to ``end`` (or to now while it runs). */
export function elapsed(start: string | null | undefined, end?: string | null): number | null {
  if (!start) return null;
  const until = end ? Date.parse(end) : Date.now();
  return (until - Date.parse(start)) / 1000;
}

export function fmtNumber(value: number | null | undefined, digits = 4): string {
  if (value == null) return "—";
  if (Number.isInteger(value)) return value.toLocaleString();
  return value.toPrecision(digits);
}
