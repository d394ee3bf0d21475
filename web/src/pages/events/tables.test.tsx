import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import type { EventRecord } from "../../api/events";
import { EventTable } from "./EventTable";
import type { Trigger } from "./rules";
import { ExecutionList, TriggerTable } from "./TriggerTable";

const HOSTILE = "<img src=x onerror=alert(1)>";

const events: EventRecord[] = [
  { seq: 9, key: "execution/4", type: "JOB_FAILED", value: HOSTILE, created_at: "2024-01-01T00:00:00Z" },
  { seq: 8, key: HOSTILE, type: "MODEL_GENERATED", value: "v1", created_at: "2024-01-01T00:00:00Z" },
];

const trigger = (name: string, enabled: boolean): Trigger => ({
  id: name.length,
  name,
  workflow_name: "wf",
  kind: "periodic",
  cron: null,
  interval: 60,
  event_type: null,
  event_key: null,
  event_value: null,
  event_cursor: null,
  mode: "batch",
  enabled,
  next_fire_at: "2024-01-01T00:01:00Z",
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
});

describe("EventTable", () => {
  it("renders events in the given order as text, linking execution keys", () => {
    const { container } = render(
      <MemoryRouter>
        <EventTable events={events} />
      </MemoryRouter>,
    );
    expect(container.querySelector("img")).toBeNull();
    const rows = screen.getAllByTestId("event-row");
    expect(rows.map((row) => row.dataset.seq)).toEqual(["9", "8"]);
    expect(within(rows[0]).getByRole("link", { name: "execution/4" })).toHaveAttribute("href", "/executions/4");
    expect(rows[0]).toHaveTextContent(HOSTILE);
    expect(within(rows[1]).queryByRole("link")).toBeNull();
  });
});

describe("TriggerTable", () => {
  const triggers = [trigger("nightly", true), trigger("off", false)];

  it("shows the rule and state, and no toggle for viewers", () => {
    render(
      <MemoryRouter>
        <TriggerTable triggers={triggers} canEdit={false} onToggle={() => {}} expanded={null} onExpand={() => {}} />
      </MemoryRouter>,
    );
    const rows = screen.getAllByTestId("trigger-row");
    expect(rows.map((row) => row.dataset.trigger)).toEqual(["nightly", "off"]);
    expect(rows[0]).toHaveTextContent("every 1 min");
    expect(within(rows[1]).getByTestId("trigger-enabled")).toHaveTextContent("no");
    expect(screen.queryByTestId("toggle-nightly")).toBeNull();
  });

  it("lets editors enable or disable a trigger", () => {
    const onToggle = vi.fn();
    render(
      <MemoryRouter>
        <TriggerTable
          triggers={triggers}
          canEdit
          busy="off"
          onToggle={onToggle}
          expanded={null}
          onExpand={() => {}}
        />
      </MemoryRouter>,
    );
    const disable = screen.getByTestId("toggle-nightly");
    expect(disable).toHaveTextContent("Disable");
    fireEvent.click(disable);
    expect(onToggle).toHaveBeenCalledWith(triggers[0]);
    expect(screen.getByTestId("toggle-off")).toHaveTextContent("Enable");
    expect(screen.getByTestId("toggle-off")).toBeDisabled();
  });

  it("expands a row to show its executions", () => {
    const onExpand = vi.fn();
    const { rerender } = render(
      <MemoryRouter>
        <TriggerTable triggers={triggers} canEdit={false} onToggle={() => {}} expanded={null} onExpand={onExpand} />
      </MemoryRouter>,
    );
    expect(screen.queryByTestId("trigger-executions")).toBeNull();
    fireEvent.click(screen.getByTestId("expand-off"));
    expect(onExpand).toHaveBeenCalledWith("off");
    rerender(
      <MemoryRouter>
        <TriggerTable
          triggers={triggers}
          canEdit={false}
          onToggle={() => {}}
          expanded="off"
          onExpand={onExpand}
          expandedContent={<p>runs here</p>}
        />
      </MemoryRouter>,
    );
    expect(screen.getByTestId("trigger-executions")).toHaveTextContent("runs here");
    expect(screen.getByTestId("expand-off")).toHaveAttribute("aria-expanded", "true");
    fireEvent.click(screen.getByTestId("expand-off"));
    expect(onExpand).toHaveBeenLastCalledWith(null);
  });

  it("lists a trigger's executions with links", () => {
    render(
      <MemoryRouter>
        <ExecutionList
          trigger="nightly"
          executions={[
            {
              id: 7,
              workflow_name: "wf",
              workflow_version_id: 1,
              status: "failed",
              mode: "batch",
              engine: "local",
              deployer: "local",
              driver_host: null,
              driver_pid: null,
              error: null,
              started_at: null,
              ended_at: null,
              created_at: "2024-01-01T00:00:00Z",
            },
          ]}
        />
      </MemoryRouter>,
    );
    const item = screen.getByTestId("trigger-execution");
    expect(within(item).getByRole("link")).toHaveAttribute("href", "/executions/7");
    expect(within(item).getByTestId("status")).toHaveAttribute("data-status", "failed");
  });
});
