// Live updates: the API's Server-Sent Events stream (GET /api/v1/events/stream), read with
// fetch rather than EventSource: EventSource only reports the event types it was told in
// advance (the stream names each event by its type, and users choose their own types), and
// fetch sends the session cookie the same way. After a drop it reconnects from the last seq.
import { useEffect, useRef } from "react";
import type { Schemas } from "./client";

export type EventRecord = Schemas["EventPublic"];

export interface StreamFilter {
  key?: string;
  type?: string;
  afterSeq?: number;
}

export function eventStreamUrl(filter: StreamFilter): string {
  const query = new URLSearchParams();
  if (filter.key) query.set("key", filter.key);
  if (filter.type) query.set("type", filter.type);
  query.set("after_seq", String(filter.afterSeq ?? 0));
  query.set("poll_interval", "0.25");
  return `/api/v1/events/stream?${query.toString()}`;
}

/** Splits SSE text into events; returns the parsed events and the unparsed rest. */
export function parseSse(buffer: string): { events: EventRecord[]; rest: string } {
  const events: EventRecord[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const data = block
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data) events.push(JSON.parse(data) as EventRecord);
  }
  return { events, rest };
}

/** Calls ``onEvent`` for each new event matching ``filter`` while mounted (and ``enabled``). */
export function useEventStream(
  filter: StreamFilter,
  onEvent: (event: EventRecord) => void,
  enabled = true,
): void {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const { key, type, afterSeq } = filter;
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    let last = afterSeq ?? 0;
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          const response = await fetch(eventStreamUrl({ key, type, afterSeq: last }), {
            credentials: "same-origin",
            signal: abort.signal,
            headers: { Accept: "text/event-stream" },
          });
          if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const parsed = parseSse(buffer + value);
            buffer = parsed.rest;
            for (const event of parsed.events) {
              last = Math.max(last, event.seq);
              handler.current(event);
            }
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000)); // then reconnect
      }
    };
    void run();
    return () => abort.abort();
  }, [key, type, afterSeq, enabled]);
}
