// The live tail's list: newest first, each seq once, at most `cap` rows, whatever order the
// initial page and the stream deliver events in.
import type { EventRecord } from "../../api/events";

export const TAIL_CAP = 1000;

/** `current` (newest first) with `incoming` merged in: deduplicated by seq, newest first, capped. */
export function mergeEvents(
  current: readonly EventRecord[],
  incoming: readonly EventRecord[],
  cap: number = TAIL_CAP,
): EventRecord[] {
  if (incoming.length === 0 && current.length <= cap) return current as EventRecord[];
  const seen = new Set(current.map((event) => event.seq));
  const fresh: EventRecord[] = [];
  for (const event of incoming) {
    if (seen.has(event.seq)) continue;
    seen.add(event.seq);
    fresh.push(event);
  }
  if (fresh.length === 0 && current.length <= cap) return current as EventRecord[];
  return fresh
    .concat(current)
    .sort((a, b) => b.seq - a.seq)
    .slice(0, cap);
}

/** The highest seq among `events`, or `floor` when there is none higher. */
export function maxSeq(events: readonly EventRecord[], floor = 0): number {
  return events.reduce((high, event) => Math.max(high, event.seq), floor);
}

/** The execution an event is about (`execution/<id>` keys), for a link; else null. */
export function executionOf(key: string): number | null {
  const match = /^execution\/(\d+)$/.exec(key);
  return match ? Number(match[1]) : null;
}
