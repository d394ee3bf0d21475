// Search parameters changed in place. react-router's functional setSearchParams hands the
// updater the parameters of the last *render*, so two changes in a row (choose Version A, then
// Version B at once) lose the first; this setter builds on the last parameters it set itself.
import { useCallback, useEffect, useRef } from "react";
import { useSearchParams } from "react-router";

export type ParamSetter = (
  key: string,
  value: (current: URLSearchParams) => string | null,
) => void;

export function useSearchState(): [URLSearchParams, ParamSetter] {
  const [params, setParams] = useSearchParams();
  const latest = useRef(params);
  useEffect(() => {
    latest.current = params;
  }, [params]);
  const set = useCallback<ParamSetter>(
    (key, value) => {
      const next = new URLSearchParams(latest.current);
      const text = value(latest.current);
      if (text == null) next.delete(key);
      else next.set(key, text);
      latest.current = next;
      // replace: choosing a metric or a pair is not a navigation to go back through
      setParams(next, { replace: true });
    },
    [setParams],
  );
  return [params, set];
}
