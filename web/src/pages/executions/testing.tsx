// Test helpers for the execution pages: a fake API behind a stubbed `fetch` (each test file
// installs the stub with `vi.hoisted`, before the API client captures `fetch`), and rendering a
// page at a URL with a fresh query cache.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import type { EventRecord } from "../../api/events";

export interface Call {
  method: string;
  url: URL;
  signal: AbortSignal | null;
}

type Answer = Response | Promise<Response>;
export type Handler = (call: Call) => Answer | undefined;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" },
  });
}

export function text(body: string): Response {
  return new Response(body, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/** A response whose body stays open (as a stream does) until the request is aborted; ``push``
 * sends more text, ``end`` closes it. */
export function openStream(signal: AbortSignal | null): {
  response: Response;
  push: (chunk: string) => void;
  end: () => void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const end = () => {
    if (closed) return;
    closed = true;
    controller.close();
  };
  signal?.addEventListener("abort", () => {
    if (closed) return;
    closed = true;
    controller.error(new DOMException("aborted", "AbortError"));
  });
  return {
    response: new Response(body, { headers: { "Content-Type": "text/plain" } }),
    push: (chunk) => {
      if (!closed) controller.enqueue(new TextEncoder().encode(chunk));
    },
    end,
  };
}

export function sse(event: EventRecord): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Routes the stubbed fetch's calls to ``handlers`` (first answer wins) and records them. */
export function fakeApi(fetchMock: { mockImplementation: (fn: typeof fetch) => unknown }, handlers: Handler[]) {
  const calls: Call[] = [];
  fetchMock.mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input), "http://localhost");
    const call: Call = {
      method: (request?.method ?? init?.method ?? "GET").toUpperCase(),
      url,
      signal: init?.signal ?? request?.signal ?? null,
    };
    calls.push(call);
    for (const handler of handlers) {
      const answer = handler(call);
      if (answer) return answer;
    }
    return json({ title: "Not Found", status: 404, detail: `no fake for ${call.method} ${url.pathname}` }, 404);
  });
  return calls;
}

/** The path the router shows now, for asserting navigation. */
function WhereAmI() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search}</output>;
}

export function renderAt(path: string, routes: { path: string; element: ReactNode }[]) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          {routes.map((route) => (
            <Route key={route.path} path={route.path} element={route.element} />
          ))}
        </Routes>
        <WhereAmI />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}
