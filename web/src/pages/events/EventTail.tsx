// The live tail: a first page from GET /events, then every new matching event from the SSE
// stream, newest on top, capped. Pausing closes the stream; resuming reopens it after the last
// seq seen, so nothing is missed.
// The first page is the newest events (`order=desc`), so a store with millions of events costs
// one small query, and the stream starts after the newest seq seen.
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, unwrap } from "../../api/client";
import { useEventStream, type EventRecord } from "../../api/events";
import { Loading, ProblemView } from "../../components/Problem";
import { EventTable } from "./EventTable";
import { TAIL_CAP, maxSeq, mergeEvents } from "./tail";

const FIRST_PAGE = 200;
const FLUSH_MS = 150;

export function EventTail({ filterKey, type }: { filterKey: string; type: string }) {
  const initial = useQuery({
    queryKey: ["events-tail", filterKey, type],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/events", {
          params: {
            query: {
              order: "desc",
              key: filterKey || undefined,
              type: type || undefined,
              limit: FIRST_PAGE,
            },
          },
        }),
      ),
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    staleTime: Infinity,
    gcTime: 0, // coming back starts afresh
  });
  const [rows, setRows] = useState<EventRecord[]>([]);
  const [from, setFrom] = useState<number | null>(null);
  const [paused, setPaused] = useState(false);
  const last = useRef(0);
  const buffer = useRef<EventRecord[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    if (!initial.data || from !== null) return;
    const page = initial.data.data;
    last.current = maxSeq(page, last.current);
    setRows((current) => mergeEvents(current, page));
    setFrom(last.current);
  }, [initial.data, from]);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  // Events arrive one by one (hundreds a second while catching up): render them in batches.
  const flush = useCallback(() => {
    timer.current = null;
    const batch = buffer.current;
    buffer.current = [];
    setRows((current) => mergeEvents(current, batch));
  }, []);

  useEventStream(
    { key: filterKey || undefined, type: type || undefined, afterSeq: from ?? 0 },
    (event) => {
      last.current = Math.max(last.current, event.seq);
      buffer.current.push(event);
      timer.current ??= setTimeout(flush, FLUSH_MS);
    },
    from !== null && !paused,
  );

  const togglePause = () => {
    if (paused) setFrom(last.current);
    setPaused(!paused);
  };

  if (initial.isPending) return <Loading what="events" />;
  if (initial.isError) return <ProblemView error={initial.error} />;
  return (
    <>
      <div className="tail-status">
        <button
          type="button"
          className="ghost"
          onClick={togglePause}
          aria-pressed={paused}
          data-testid="pause"
        >
          {paused ? "Resume" : "Pause"}
        </button>
        <span data-testid="tail-state" data-state={paused ? "paused" : "live"}>
          {paused ? "Paused: new events are not shown." : "Live: new events appear on top."}
        </span>
        <span className="muted">
          {rows.length} shown (at most {TAIL_CAP}).
        </span>
      </div>
      <div className="events-table-wrap" role="region" tabIndex={0} aria-label="events, newest first">
        <EventTable events={rows} />
      </div>
    </>
  );
}
