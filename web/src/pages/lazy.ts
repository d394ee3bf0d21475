// Pages load on demand, so the executions list does not wait for the chart and graph
// libraries. React.lazy would suspend even when the code is already here, and React reveals a
// suspended page at the earliest 300 ms after its fallback; so a page is a component that
// renders at once when its module has loaded (the one the URL names is fetched at start-up,
// beside the session check), and suspends only when it has not.
import { createElement, type ComponentType, type ReactNode } from "react";

export interface LazyPage {
  (): ReactNode;
  preload: () => Promise<void>;
}

export function lazyPage<K extends string>(
  load: () => Promise<Record<K, ComponentType>>,
  name: K,
): LazyPage {
  let loaded: ComponentType | null = null;
  let pending: Promise<void> | null = null;
  const preload = () =>
    (pending ??= load().then((module) => {
      loaded = module[name];
    }));
  const Page = () => {
    if (loaded) return createElement(loaded);
    throw preload(); // Suspense shows the fallback until the module is here
  };
  Page.displayName = `Lazy(${name})`;
  Page.preload = preload;
  return Page as LazyPage;
}
