// The executions list keeps its filters and its place in the URL, so that a filtered page is a
// link. Keyset paging only goes forward (`next_cursor`), so the way back is a stack: `cursor` is
// this page's cursor, `prev` the cursors of the pages before it (comma-separated; the first
// page has none).
export const FILTERS = ["workflow", "status", "mode", "trigger"] as const;
export type Filter = (typeof FILTERS)[number];

/** A copy of ``params`` with ``filter`` set (or removed when empty), back on the first page. */
export function withFilter(params: URLSearchParams, filter: Filter, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value) next.set(filter, value);
  else next.delete(filter);
  next.delete("cursor");
  next.delete("prev");
  return next;
}

function stack(params: URLSearchParams): string[] {
  return (params.get("prev") ?? "").split(",").filter(Boolean);
}

/** The next (older) page: ``next_cursor`` becomes the cursor, this one goes on the stack. */
export function olderPage(params: URLSearchParams, nextCursor: string): URLSearchParams {
  const next = new URLSearchParams(params);
  const current = params.get("cursor");
  const prev = stack(params);
  if (current) prev.push(current);
  if (prev.length) next.set("prev", prev.join(","));
  else next.delete("prev");
  next.set("cursor", nextCursor);
  return next;
}

/** The page before (newer): the top of the stack, or the first page. */
export function newerPage(params: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(params);
  const prev = stack(params);
  const cursor = prev.pop();
  if (cursor) next.set("cursor", cursor);
  else next.delete("cursor");
  if (prev.length) next.set("prev", prev.join(","));
  else next.delete("prev");
  return next;
}

/** The cursor as the API takes it (a positive integer), or undefined for the first page. */
export function cursorOf(params: URLSearchParams): number | undefined {
  const value = Number(params.get("cursor"));
  return Number.isInteger(value) && value > 0 ? value : undefined;
}
