// A trigger's rule and action as one short sentence each, for the triggers table.
import type { Schemas } from "../../api/client";
import { fmtSeconds } from "../workflows/graph";

export type Trigger = Schemas["TriggerPublic"];

/** What makes the trigger fire: its cron, its interval, or the events it matches. */
export function describeRule(trigger: Trigger): string {
  if (trigger.cron) return `cron ${trigger.cron}`;
  if (trigger.interval != null) return `every ${fmtSeconds(trigger.interval)}`;
  if (trigger.event_type) {
    const parts = [`on ${trigger.event_type}`];
    parts.push(trigger.event_key ? `key ${trigger.event_key}` : "any key");
    if (trigger.event_value) parts.push(`value matching ${trigger.event_value}`);
    return parts.join(", ");
  }
  return trigger.kind;
}

/** What a fire does: start, restart or stop the workflow or one of its jobs. */
export function describeAction(trigger: Trigger): string {
  const target = trigger.job ? `job ${trigger.job}` : "workflow";
  return `${trigger.action} ${target}`;
}
