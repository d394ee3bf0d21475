// Forward paging for the list pages: the API pages by an opaque cursor, which goes in the URL
// (`?cursor=`), so every page of a list has a link of its own.
import { Link, useSearchParams } from "react-router";

export function Pager({
  nextCursor,
  param = "cursor",
  label = "Next page",
}: {
  nextCursor: string | null | undefined;
  param?: string;
  label?: string;
}) {
  const [params] = useSearchParams();
  const current = params.get(param);
  if (!current && !nextCursor) return null;
  const withCursor = (cursor: string | null) => {
    const next = new URLSearchParams(params);
    if (cursor) next.set(param, cursor);
    else next.delete(param);
    const text = next.toString();
    return text ? `?${text}` : "?";
  };
  return (
    <nav className="pager" aria-label="pages">
      {current && <Link to={withCursor(null)}>First page</Link>}
      {nextCursor && <Link to={withCursor(nextCursor)}>{label}</Link>}
    </nav>
  );
}
