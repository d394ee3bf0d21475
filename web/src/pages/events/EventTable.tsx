// Events as rows, newest first; an event about an execution links to it.
import { Link } from "react-router";
import type { EventRecord } from "../../api/events";
import { fmtTime } from "../../format";
import { executionOf } from "./tail";

export function EventTable({ events }: { events: readonly EventRecord[] }) {
  return (
    <table className="data events-table">
      <thead>
        <tr>
          <th scope="col">Seq</th>
          <th scope="col">Time</th>
          <th scope="col">Key</th>
          <th scope="col">Type</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {events.length === 0 && (
          <tr>
            <td colSpan={5} className="muted">
              No events yet.
            </td>
          </tr>
        )}
        {events.map((event) => {
          const execution = executionOf(event.key);
          return (
            <tr key={event.seq} data-testid="event-row" data-seq={event.seq} data-type={event.type}>
              <td className="mono">{event.seq}</td>
              <td className="nowrap">{fmtTime(event.created_at)}</td>
              <td className="mono">
                {execution != null ? <Link to={`/executions/${execution}`}>{event.key}</Link> : event.key}
              </td>
              <td className="mono">{event.type}</td>
              <td className="mono event-value">{event.value}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
