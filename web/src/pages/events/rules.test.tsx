import { describeAction, describeRule, type Trigger } from "./rules";

const base: Trigger = {
  id: 1,
  name: "t",
  workflow_name: "wf",
  kind: "periodic",
  cron: null,
  interval: null,
  event_type: null,
  event_key: null,
  event_value: null,
  event_cursor: null,
  mode: "batch",
  enabled: true,
  next_fire_at: null,
  last_fired_at: null,
  origin: "user",
  job: null,
  action: "start",
  deployer: null,
  engine: null,
  max_active: null,
  version: null,
  created_at: "2024-01-01T00:00:00Z",
  updated_at: "2024-01-01T00:00:00Z",
};

describe("describeRule", () => {
  it("names a cron schedule", () => {
    expect(describeRule({ ...base, cron: "0 * * * *" })).toBe("cron 0 * * * *");
  });

  it("names an interval in readable units", () => {
    expect(describeRule({ ...base, interval: 300 })).toBe("every 5 min");
    expect(describeRule({ ...base, interval: 1.5 })).toBe("every 1.5 s");
  });

  it("names an event rule's type, key and value pattern", () => {
    const rule = { ...base, kind: "event" as const, event_type: "MODEL_ALIAS_SET" };
    expect(describeRule(rule)).toBe("on MODEL_ALIAS_SET, any key");
    expect(describeRule({ ...rule, event_key: "churn", event_value: "deployed=*" })).toBe(
      "on MODEL_ALIAS_SET, key churn, value matching deployed=*",
    );
  });
});

describe("describeAction", () => {
  it("says what a fire does to the workflow or one job", () => {
    expect(describeAction(base)).toBe("start workflow");
    expect(describeAction({ ...base, action: "restart", job: "serve" })).toBe("restart job serve");
  });
});
