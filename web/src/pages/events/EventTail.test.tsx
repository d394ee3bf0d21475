import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import type { EventRecord, StreamFilter } from "../../api/events";
import { EventTail } from "./EventTail";

const stream = vi.hoisted(() => ({
  calls: [] as { filter: StreamFilter; enabled: boolean; onEvent: (event: EventRecord) => void }[],
}));
const get = vi.hoisted(() => vi.fn());

vi.mock("../../api/events", () => ({
  useEventStream: (filter: StreamFilter, onEvent: (event: EventRecord) => void, enabled = true) => {
    stream.calls.push({ filter, onEvent, enabled });
  },
}));
vi.mock("../../api/client", () => ({
  api: { GET: get },
  unwrap: async (call: Promise<{ data: unknown }>) => (await call).data,
}));

const event = (seq: number, type = "T"): EventRecord => ({
  seq,
  key: "k",
  type,
  value: "",
  created_at: "2024-01-01T00:00:00Z",
});

const lastCall = () => stream.calls[stream.calls.length - 1];
const seqs = () => screen.getAllByTestId("event-row").map((row) => row.dataset.seq);

function renderTail() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <EventTail filterKey="k" type="" />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("EventTail", () => {
  beforeEach(() => {
    stream.calls.length = 0;
    get.mockReset();
    get.mockResolvedValue({ data: { data: [event(2), event(1)], next_cursor: null } }); // newest first
  });

  it("shows the first page newest first, then streams from its last seq and puts new events on top", async () => {
    renderTail();
    expect(await screen.findAllByTestId("event-row")).toHaveLength(2);
    expect(seqs()).toEqual(["2", "1"]);
    expect(get).toHaveBeenCalledWith("/api/v1/events", {
      params: { query: { order: "desc", key: "k", type: undefined, limit: 200 } },
    });
    expect(lastCall().enabled).toBe(true);
    expect(lastCall().filter).toMatchObject({ key: "k", afterSeq: 2 });

    act(() => {
      lastCall().onEvent(event(3));
      lastCall().onEvent(event(2)); // a repeat is shown once
    });
    await screen.findByText("3");
    expect(seqs()).toEqual(["3", "2", "1"]);
  });

  it("closes the stream while paused and resumes after the last seq seen", async () => {
    renderTail();
    await screen.findAllByTestId("event-row");
    act(() => lastCall().onEvent(event(5)));
    fireEvent.click(screen.getByTestId("pause"));
    expect(lastCall().enabled).toBe(false);
    expect(screen.getByTestId("tail-state")).toHaveAttribute("data-state", "paused");
    expect(screen.getByTestId("pause")).toHaveAttribute("aria-pressed", "true");
    fireEvent.click(screen.getByTestId("pause"));
    expect(lastCall().enabled).toBe(true);
    expect(lastCall().filter.afterSeq).toBe(5);
  });
});
