// The events page's filters: labeled inputs whose values go to the URL and to the tail.
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, useLocation } from "react-router";
import { EventsPage } from "../EventsPage";

vi.mock("./EventTail", () => ({
  EventTail: ({ filterKey, type }: { filterKey: string; type: string }) => (
    <p data-testid="tail-props">{`key=${filterKey};type=${type}`}</p>
  ),
}));
vi.mock("./Triggers", () => ({ Triggers: () => <p>triggers</p> }));

function Where() {
  const location = useLocation();
  return <p data-testid="where">{location.search}</p>;
}

function renderAt(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <EventsPage />
      <Where />
    </MemoryRouter>,
  );
}

describe("EventsPage", () => {
  it("takes the filters from the URL", () => {
    renderAt("/events?key=execution%2F4&type=JOB_FAILED");
    expect(screen.getByLabelText("Key")).toHaveValue("execution/4");
    expect(screen.getByLabelText("Type")).toHaveValue("JOB_FAILED");
    expect(screen.getByTestId("tail-props")).toHaveTextContent("key=execution/4;type=JOB_FAILED");
  });

  it("puts typed filters in the URL on Enter, and clears them", () => {
    renderAt("/events");
    fireEvent.change(screen.getByLabelText("Type"), { target: { value: "MODEL_VALIDATED" } });
    fireEvent.submit(screen.getByRole("search"));
    expect(screen.getByTestId("where")).toHaveTextContent("?type=MODEL_VALIDATED");
    expect(screen.getByTestId("tail-props")).toHaveTextContent("key=;type=MODEL_VALIDATED");
    fireEvent.click(screen.getByRole("button", { name: "Clear" }));
    expect(screen.getByTestId("where")).toBeEmptyDOMElement();
  });

  it("applies typing after a pause", async () => {
    vi.useFakeTimers();
    try {
      renderAt("/events");
      fireEvent.change(screen.getByLabelText("Key"), { target: { value: "churn" } });
      expect(screen.getByTestId("where")).toBeEmptyDOMElement();
      await act(() => vi.advanceTimersByTimeAsync(500));
      expect(screen.getByTestId("where")).toHaveTextContent("?key=churn");
    } finally {
      vi.useRealTimers();
    }
  });
});
