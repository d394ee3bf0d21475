// Events: a live tail of the store's change feed, filtered by key and type (both in the URL),
// and below it the triggers that fire on schedules and on events.
import { useEffect, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { EventTail } from "./events/EventTail";
import { Triggers } from "./events/Triggers";
import "./events.css";

const TYPE_DELAY_MS = 400;

export function EventsPage() {
  const [params, setParams] = useSearchParams();
  const key = params.get("key") ?? "";
  const type = params.get("type") ?? "";
  const [draftKey, setDraftKey] = useState(key);
  const [draftType, setDraftType] = useState(type);

  // The URL is the filter; the inputs follow it when it changes (back button, a link).
  useEffect(() => setDraftKey(key), [key]);
  useEffect(() => setDraftType(type), [type]);

  const apply = (nextKey: string, nextType: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        for (const [name, value] of [
          ["key", nextKey],
          ["type", nextType],
        ] as const) {
          if (value) next.set(name, value);
          else next.delete(name);
        }
        return next;
      },
      { replace: true },
    );

  // Typing filters after a short pause (Enter applies at once), not on every keystroke.
  useEffect(() => {
    if (draftKey === key && draftType === type) return;
    const timer = setTimeout(() => apply(draftKey, draftType), TYPE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draftKey, draftType]);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    apply(draftKey, draftType);
  };

  return (
    <>
      <h1>Events</h1>
      <form className="toolbar" role="search" aria-label="filter events" onSubmit={onSubmit}>
        <label>
          Key
          <input
            name="key"
            value={draftKey}
            onChange={(event) => setDraftKey(event.target.value)}
            placeholder="execution/12, a model name…"
          />
        </label>
        <label>
          Type
          <input
            name="type"
            value={draftType}
            onChange={(event) => setDraftType(event.target.value)}
            placeholder="JOB_FAILED, MODEL_VALIDATED…"
          />
        </label>
        <button type="submit">Filter</button>
        {(key || type) && (
          <button
            type="button"
            className="ghost"
            onClick={() => {
              setDraftKey("");
              setDraftType("");
              apply("", "");
            }}
          >
            Clear
          </button>
        )}
      </form>
      <section aria-labelledby="tail-heading">
        <h2 id="tail-heading">Live tail</h2>
        <EventTail key={`${key}\u0000${type}`} filterKey={key} type={type} />
      </section>
      <section aria-labelledby="triggers-heading">
        <h2 id="triggers-heading">Triggers and rules</h2>
        <Triggers />
      </section>
    </>
  );
}
