// Triggers (schedules and event rules): what fires them, what they do, whether they are on.
// Editors get an Enable/Disable button per row; any row expands to its recent executions.
import { Fragment, type ReactNode } from "react";
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { fmtTime } from "../../format";
import { describeAction, describeRule, type Trigger } from "./rules";


export function TriggerTable({
  triggers,
  canEdit,
  busy,
  onToggle,
  expanded,
  onExpand,
  expandedContent,
}: {
  triggers: readonly Trigger[];
  canEdit: boolean;
  /** the trigger whose change is being sent, if any */
  busy?: string | null;
  onToggle: (trigger: Trigger) => void;
  expanded: string | null;
  onExpand: (name: string | null) => void;
  /** what the expanded row shows (its executions) */
  expandedContent?: ReactNode;
}) {
  if (triggers.length === 0) return <p className="muted">No triggers.</p>;
  return (
    <table className="data triggers-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Workflow</th>
          <th scope="col">Kind</th>
          <th scope="col">Rule</th>
          <th scope="col">Mode</th>
          <th scope="col">Job / action</th>
          <th scope="col">Enabled</th>
          <th scope="col">Next fire</th>
          <th scope="col">Last fired</th>
          <th scope="col">Executions</th>
          {canEdit && <th scope="col">Change</th>}
        </tr>
      </thead>
      <tbody>
        {triggers.map((trigger) => {
          const open = expanded === trigger.name;
          const panelId = `trigger-executions-${trigger.id}`;
          return (
            <Fragment key={trigger.id}>
              <tr
                data-testid="trigger-row"
                data-trigger={trigger.name}
                data-enabled={trigger.enabled ? "true" : "false"}
                className={trigger.enabled ? undefined : "disabled"}
              >
                <td>
                  {trigger.name}
                  {trigger.origin === "workflow" && (
                    <span className="badge" title="declared in the workflow's file">
                      workflow
                    </span>
                  )}
                </td>
                <td>
                  <Link to={`/workflows/${encodeURIComponent(trigger.workflow_name)}`}>
                    {trigger.workflow_name}
                  </Link>
                  {trigger.version != null && <span className="muted"> v{trigger.version}</span>}
                </td>
                <td>{trigger.kind}</td>
                <td className="mono">{describeRule(trigger)}</td>
                <td>{trigger.mode}</td>
                <td>{describeAction(trigger)}</td>
                <td data-testid="trigger-enabled">{trigger.enabled ? "yes" : "no"}</td>
                <td className="nowrap">{trigger.enabled ? fmtTime(trigger.next_fire_at) : "—"}</td>
                <td className="nowrap">{fmtTime(trigger.last_fired_at)}</td>
                <td>
                  <button
                    type="button"
                    className="ghost"
                    aria-expanded={open}
                    aria-controls={open ? panelId : undefined}
                    data-testid={`expand-${trigger.name}`}
                    onClick={() => onExpand(open ? null : trigger.name)}
                  >
                    {open ? "Hide" : "Show"}
                    <span className="sr-only"> executions of {trigger.name}</span>
                  </button>
                </td>
                {canEdit ? (
                  <td>
                    <button
                      type="button"
                      className={trigger.enabled ? "ghost" : undefined}
                      data-testid={`toggle-${trigger.name}`}
                      disabled={busy === trigger.name}
                      onClick={() => onToggle(trigger)}
                    >
                      {trigger.enabled ? "Disable" : "Enable"}
                      <span className="sr-only"> {trigger.name}</span>
                    </button>
                  </td>
                ) : null}
              </tr>
              {open && (
                <tr className="expanded-row">
                  <td colSpan={canEdit ? 11 : 10} id={panelId} data-testid="trigger-executions">
                    {expandedContent}
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

export function ExecutionList({
  executions,
  trigger,
}: {
  executions: readonly Schemas["ExecutionPublic"][];
  trigger: string;
}) {
  if (executions.length === 0) return <p className="muted">{trigger} has started no executions yet.</p>;
  return (
    <>
      <ul className="trigger-runs">
        {executions.map((execution) => (
          <li key={execution.id} data-testid="trigger-execution" data-execution={execution.id}>
            <Link to={`/executions/${execution.id}`}>execution {execution.id}</Link>{" "}
            <StatusBadge status={execution.status} /> <span className="muted">{execution.mode}</span>{" "}
            <span className="muted">{fmtTime(execution.created_at)}</span>
          </li>
        ))}
      </ul>
      <Link to={`/executions?${new URLSearchParams({ trigger })}`}>All executions of {trigger}</Link>
    </>
  );
}
