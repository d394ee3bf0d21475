// A job's log in the page: lines kept in fixed-size chunks so that appending streamed lines
// re-renders only the last chunk (and the first, once the cap drops old lines), the search's
// matches as text fragments (never HTML), and reading a text response line by line.

export const LOG_CAP = 20_000; // lines kept; older ones are dropped from the top
export const CHUNK = 500;

export interface LogChunk {
  /** stable across appends: the chunk's index since the log began */
  id: number;
  lines: string[];
}

export interface LogBuffer {
  chunks: LogChunk[];
  /** lines held now */
  count: number;
  /** lines dropped from the top because of the cap */
  dropped: number;
}

export const EMPTY_LOG: LogBuffer = { chunks: [], count: 0, dropped: 0 };

/** ``buffer`` with ``lines`` appended and at most ``cap`` lines kept. Chunks that did not
 * change keep their identity (memoized rendering relies on it). */
export function appendLines(
  buffer: LogBuffer,
  lines: string[],
  cap = LOG_CAP,
  chunkSize = CHUNK,
): LogBuffer {
  if (lines.length === 0) return buffer;
  const chunks = [...buffer.chunks];
  let index = 0;
  const last = chunks[chunks.length - 1];
  if (last && last.lines.length < chunkSize) {
    const room = chunkSize - last.lines.length;
    chunks[chunks.length - 1] = { id: last.id, lines: [...last.lines, ...lines.slice(0, room)] };
    index = room;
  }
  let nextId = last ? last.id + 1 : 0;
  while (index < lines.length) {
    chunks.push({ id: nextId++, lines: lines.slice(index, index + chunkSize) });
    index += chunkSize;
  }
  let count = buffer.count + lines.length;
  let dropped = buffer.dropped;
  while (count > cap && chunks.length > 0) {
    const first = chunks[0];
    const excess = count - cap;
    if (first.lines.length <= excess) {
      chunks.shift();
      count -= first.lines.length;
      dropped += first.lines.length;
    } else {
      chunks[0] = { id: first.id, lines: first.lines.slice(excess) };
      count -= excess;
      dropped += excess;
    }
  }
  return { chunks, count, dropped };
}

/** Complete lines of ``rest + text`` and what is left after the last newline. */
export function splitLines(rest: string, text: string): { lines: string[]; rest: string } {
  const parts = (rest + text).split("\n");
  const tail = parts.pop() ?? "";
  return { lines: parts.map((line) => line.replace(/\r$/, "")), rest: tail };
}

export interface Fragment {
  text: string;
  match: boolean;
}

/** ``line`` cut into plain and matching fragments (case-insensitive ``query``). */
export function highlight(line: string, query: string): Fragment[] {
  if (!query) return [{ text: line, match: false }];
  const lower = line.toLowerCase();
  const needle = query.toLowerCase();
  const fragments: Fragment[] = [];
  let from = 0;
  for (;;) {
    const at = lower.indexOf(needle, from);
    if (at < 0) break;
    if (at > from) fragments.push({ text: line.slice(from, at), match: false });
    fragments.push({ text: line.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < line.length || fragments.length === 0) fragments.push({ text: line.slice(from), match: false });
  return fragments;
}

/** How many times ``query`` occurs in the log (case-insensitive, non-overlapping). */
export function countMatches(buffer: LogBuffer, query: string): number {
  if (!query) return 0;
  const needle = query.toLowerCase();
  let total = 0;
  for (const chunk of buffer.chunks) {
    for (const line of chunk.lines) {
      const lower = line.toLowerCase();
      for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length)) {
        total += 1;
      }
    }
  }
  return total;
}

/** Reads a text response to its end, handing over complete lines as they arrive; the last
 * line is handed over at the end even without a newline. Stops quietly when ``signal`` aborts. */
export async function readLines(
  response: Response,
  onLines: (lines: string[]) => void,
  signal?: AbortSignal,
): Promise<void> {
  if (!response.body) {
    const { lines, rest } = splitLines("", await response.text());
    onLines(rest ? [...lines, rest] : lines);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      const parsed = splitLines(rest, decoder.decode(value, { stream: true }));
      rest = parsed.rest;
      if (parsed.lines.length) onLines(parsed.lines);
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  } finally {
    reader.releaseLock();
  }
  rest += decoder.decode();
  if (rest) onLines([rest.replace(/\r$/, "")]);
}
