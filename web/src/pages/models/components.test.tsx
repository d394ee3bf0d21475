// The model page's pieces, rendered with given data: what shows, what a click does.
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { ApiError } from "../../api/client";
import { AliasesPanel } from "./AliasesPanel";
import { AliasHistory } from "./AliasHistory";
import { ComparePanel } from "./ComparePanel";
import { aliasMove, comparison, HOSTILE, stubCanvas, validation, version } from "./fixtures";
import { aliasEntries } from "./history";
import { MetricChart } from "./MetricChart";
import { VersionsTable } from "./VersionsTable";

beforeAll(stubCanvas);

const inRouter = (node: ReactNode) => render(<MemoryRouter>{node}</MemoryRouter>);

describe("MetricChart", () => {
  const versions = [
    version(3, { metrics: { accuracy: 0.9, [HOSTILE]: 1 }, aliases: ["deployed"] }),
    version(2, { metrics: { accuracy: 0.8 } }),
    version(1, { metrics: { loss: 0.3 } }),
  ];

  it("plots one point per version having the chosen metric", () => {
    inRouter(
      <MetricChart versions={versions} history={[validation(2, "rejected")]} metric={null} xMode="time" onMetric={() => {}} onXMode={() => {}} />,
    );
    const select = screen.getByLabelText("Metric");
    expect(select).toHaveValue(HOSTILE); // sorted: "<" before letters
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual([HOSTILE, "accuracy", "loss"]);
    expect(screen.getByTestId("metric-chart")).toHaveAttribute("data-points", "1");
    expect(document.querySelector("img")).toBeNull();
  });

  it("follows the metric given and reports a choice", async () => {
    const onMetric = vi.fn();
    inRouter(
      <MetricChart versions={versions} history={[validation(2, "rejected")]} metric="accuracy" xMode="version" onMetric={onMetric} onXMode={() => {}} />,
    );
    const figure = screen.getByTestId("metric-chart");
    expect(figure).toHaveAttribute("data-points", "2");
    const rows = within(figure).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.textContent)).toEqual([
      expect.stringContaining("rejected"),
      expect.stringContaining("deployed"),
    ]);
    await userEvent.selectOptions(screen.getByLabelText("Metric"), "loss");
    expect(onMetric).toHaveBeenCalledWith("loss");
  });

  it("says so when no version logged a metric", () => {
    inRouter(<MetricChart versions={[version(1)]} history={[]} metric={null} xMode="time" onMetric={() => {}} onXMode={() => {}} />);
    expect(screen.queryByTestId("metric-chart")).toBeNull();
    expect(screen.getByText(/No version has logged a metric/)).toBeInTheDocument();
  });
});

describe("AliasHistory", () => {
  it("shows who moved which alias from where to where, when and why, as text", () => {
    const entries = aliasEntries([
      aliasMove("deployed", null, 1, { actor: "token:alice" }),
      aliasMove("deployed", 1, 2, { actor: HOSTILE, reason: HOSTILE }),
    ]);
    inRouter(<AliasHistory model="iris" entries={entries} />);
    const list = screen.getByTestId("alias-history");
    const items = within(list).getAllByTestId("history-entry");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveAttribute("data-from", "1");
    expect(items[0]).toHaveAttribute("data-to", "2");
    expect(within(items[0]).getByTestId("actor")).toHaveTextContent(HOSTILE);
    expect(within(items[0]).getByTestId("reason")).toHaveTextContent(HOSTILE);
    expect(within(items[0]).getByRole("link", { name: "v2" })).toHaveAttribute("href", "/models/iris/versions/2");
    expect(within(items[1]).getByText("(none)")).toBeInTheDocument();
    expect(within(items[1]).getByText("token:alice")).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
  });
});

describe("VersionsTable", () => {
  const versions = [
    version(2, {
      aliases: ["deployed"],
      stage: "deployed",
      metrics: { accuracy: 0.95 },
      execution_id: 12,
      job_id: 40,
      parent_version: 1,
    }),
    version(1, { stage: "validated" }),
  ];

  it("renders a row per version with links, stage, aliases and lineage", () => {
    inRouter(<VersionsTable model="iris" versions={versions} canEdit={false} onPromote={vi.fn()} />);
    const row = document.querySelector<HTMLElement>('tr[data-testid=version-row][data-version="2"]')!;
    expect(within(row).getByRole("link", { name: "2" })).toHaveAttribute("href", "/models/iris/versions/2");
    expect(within(row).getByTestId("stage")).toHaveTextContent("deployed");
    expect(within(row).getByTestId("alias")).toHaveTextContent("deployed");
    expect(within(row).getByTestId("execution-link")).toHaveAttribute("href", "/executions/12");
    expect(within(row).getByTestId("parent-link")).toHaveAttribute("href", "/models/iris/versions/1");
    expect(screen.getAllByTestId("version-row")).toHaveLength(2);
  });

  it("hides Promote from viewers", () => {
    inRouter(<VersionsTable model="iris" versions={versions} canEdit={false} onPromote={vi.fn()} />);
    expect(screen.queryByRole("button", { name: "Promote" })).toBeNull();
  });

  it("promotes with the alias (default deployed) and reason typed, then closes the form", async () => {
    const onPromote = vi.fn().mockResolvedValue({});
    inRouter(<VersionsTable model="iris" versions={versions} canEdit onPromote={onPromote} />);
    await userEvent.click(screen.getByTestId("promote-1"));
    expect(screen.getByLabelText("Alias")).toHaveValue("deployed");
    await userEvent.type(screen.getByLabelText("Reason"), "better recall");
    await userEvent.click(screen.getByRole("button", { name: "Confirm promote" }));
    expect(onPromote).toHaveBeenCalledWith({ version: 1, alias: "deployed", reason: "better recall" });
    expect(screen.queryByRole("button", { name: "Confirm promote" })).toBeNull();
    expect(screen.getByTestId("promote-1")).toBeInTheDocument();
  });

  it("keeps the form open with the API's problem when promoting fails", async () => {
    const onPromote = vi.fn().mockRejectedValue(new ApiError(422, { detail: "version 1 is rejected" }));
    inRouter(<VersionsTable model="iris" versions={versions} canEdit onPromote={onPromote} />);
    await userEvent.click(screen.getByTestId("promote-1"));
    await userEvent.clear(screen.getByLabelText("Alias"));
    await userEvent.type(screen.getByLabelText("Alias"), "canary");
    await userEvent.click(screen.getByRole("button", { name: "Confirm promote" }));
    expect(onPromote).toHaveBeenCalledWith({ version: 1, alias: "canary", reason: "" });
    expect(await screen.findByRole("alert")).toHaveTextContent("422: version 1 is rejected");
    expect(screen.getByRole("button", { name: "Confirm promote" })).toBeInTheDocument();
  });
});

describe("AliasesPanel", () => {
  const aliases = [{ alias: "deployed", version: 2 }];

  it("rolls an alias back only after confirming, with the reason", async () => {
    const onRollback = vi.fn().mockResolvedValue({});
    inRouter(<AliasesPanel model="iris" aliases={aliases} canEdit onRollback={onRollback} />);
    await userEvent.click(screen.getByTestId("rollback-deployed"));
    expect(onRollback).not.toHaveBeenCalled();
    await userEvent.type(screen.getByLabelText("Reason"), "accuracy dropped");
    await userEvent.click(screen.getByTestId("confirm-rollback-deployed"));
    expect(onRollback).toHaveBeenCalledWith({ alias: "deployed", reason: "accuracy dropped" });
    expect(screen.queryByTestId("confirm-rollback-deployed")).toBeNull();
  });

  it("cancels without calling the API, and hides the button from viewers", async () => {
    const onRollback = vi.fn();
    const { unmount } = inRouter(<AliasesPanel model="iris" aliases={aliases} canEdit onRollback={onRollback} />);
    await userEvent.click(screen.getByTestId("rollback-deployed"));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onRollback).not.toHaveBeenCalled();
    unmount();
    inRouter(<AliasesPanel model="iris" aliases={aliases} canEdit={false} onRollback={onRollback} />);
    expect(screen.queryByTestId("rollback-deployed")).toBeNull();
    expect(screen.getByRole("link", { name: "v2" })).toBeInTheDocument();
  });
});

describe("ComparePanel", () => {
  it("shows metrics a vs b with deltas and the lineage differences", () => {
    inRouter(
      <ComparePanel model="iris" versions={[5, 3]} pair={{ a: 3, b: 5 }} onChoose={() => {}} comparison={comparison()} loading={false} error={null} />,
    );
    expect(screen.getByLabelText("Version A")).toHaveValue("3");
    expect(screen.getByLabelText("Version B")).toHaveValue("5");
    const rows = screen.getAllByTestId("compare-row");
    expect(rows.map((row) => row.getAttribute("data-metric"))).toEqual(["accuracy", "f1", "loss"]);
    expect(within(rows[0]).getByTestId("delta")).toHaveTextContent("+0.05");
    expect(within(rows[0]).getByTestId("delta")).toHaveClass("up");
    expect(within(rows[1]).getByTestId("delta")).toHaveTextContent("—");
    expect(within(rows[2]).getByTestId("delta")).toHaveTextContent("−0.1");
    const diff = screen.getByTestId("lineage-diff");
    expect(within(diff).getByRole("rowheader", { name: "execution_id" }).parentElement).toHaveTextContent("execution_id1215");
  });

  it("reports a chosen version and asks for two", async () => {
    const onChoose = vi.fn();
    inRouter(
      <ComparePanel model="iris" versions={[5, 3]} pair={{ a: null, b: 5 }} onChoose={onChoose} comparison={undefined} loading={false} error={null} />,
    );
    expect(screen.getByText("Choose two versions to compare.")).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText("Version A"), "3");
    expect(onChoose).toHaveBeenCalledWith("a", 3);
  });

  it("shows the API's problem", () => {
    inRouter(
      <ComparePanel model="iris" versions={[5]} pair={{ a: 3, b: 5 }} onChoose={() => {}} comparison={undefined} loading={false} error={new ApiError(404, { detail: "version 3 not found" })} />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("404: version 3 not found");
  });
});
