// An execution kept live without reloading, in three requests: its detail, its job events so
// far (GET /events, for the timeline), and one event stream from the last of those events on.
// Each streamed event is appended to the events (the timeline grows) and makes the detail
// refetch (statuses, attempts, errors); a slow poll of the detail covers a broken stream.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { api, unwrap } from "../../api/client";
import { useEventStream, type EventRecord } from "../../api/events";
import { isFinished } from "./model";

const EVENT_PAGE = 500;
const MAX_EVENT_PAGES = 20; // 10,000 status changes: more than any execution's timeline shows
const POLL_MS = 5_000; // the detail's fallback refresh while unfinished
const SETTLE_MS = 150; // a burst of events (a job ends, the next starts) makes one refetch

export const executionKey = (id: number) => ["execution", id] as const;
export const eventsKey = (id: number) => ["execution-events", id] as const;

async function loadEvents(id: number): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  let after = 0;
  for (let page = 0; page < MAX_EVENT_PAGES; page++) {
    const got = await unwrap(
      api.GET("/api/v1/events", {
        params: { query: { key: `execution/${id}`, after_seq: after, limit: EVENT_PAGE } },
      }),
    );
    events.push(...got.data);
    if (!got.next_cursor) break;
    after = Number(got.next_cursor);
  }
  return events;
}

export function useExecution(id: number) {
  return useQuery({
    queryKey: executionKey(id),
    queryFn: () => unwrap(api.GET("/api/v1/executions/{id}", { params: { path: { id } } })),
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status && !isFinished(status) ? POLL_MS : false;
    },
  });
}

/** The execution's job events, kept up to date from the stream while ``live``. */
export function useExecutionEvents(id: number, live: boolean) {
  const client = useQueryClient();
  const events = useQuery({
    queryKey: eventsKey(id),
    queryFn: () => loadEvents(id),
    staleTime: Infinity, // the stream appends; nothing else changes past events
  });
  // The stream starts after the last listed event, fixed once (a new value would reconnect).
  const [from, setFrom] = useState<number | null>(null);
  useEffect(() => {
    if (from === null && events.data) setFrom(events.data.at(-1)?.seq ?? 0);
  }, [events.data, from]);

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  useEventStream(
    { key: `execution/${id}`, afterSeq: from ?? 0 },
    (event) => {
      client.setQueryData<EventRecord[]>(eventsKey(id), (old) =>
        old && !old.some((known) => known.seq === event.seq) ? [...old, event] : old,
      );
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        timer.current = null;
        void client.invalidateQueries({ queryKey: executionKey(id) });
      }, SETTLE_MS);
    },
    live && from !== null,
  );

  // Once the execution ends the stream closes: read the events once more, in case the poll
  // saw the end before the stream delivered the last changes.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void client.invalidateQueries({ queryKey: eventsKey(id) });
    wasLive.current = live;
  }, [live, client, id]);
  return events;
}

/** Now, every second while ``live`` (running bars and durations grow). */
export function useNow(live: boolean, everyMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!live) return;
    const tick = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(tick);
  }, [live, everyMs]);
  return live ? now : Date.now();
}
