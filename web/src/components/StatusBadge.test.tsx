import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { StatusBadge } from "./StatusBadge";

describe("StatusBadge", () => {
  it("names the status in text and in data-status (colour is never the only cue)", () => {
    render(<StatusBadge status="upstream_failed" />);
    const badge = screen.getByTestId("status");
    expect(badge).toHaveAttribute("data-status", "upstream_failed");
    expect(badge).toHaveTextContent("upstream failed");
    expect(badge).toHaveClass("status-upstream_failed");
  });

  it("shows an icon for known statuses and a dot for others", () => {
    const { rerender } = render(<StatusBadge status="succeeded" />);
    expect(screen.getByTestId("status").textContent).toBe("✓ succeeded");
    rerender(<StatusBadge status="paused" />);
    expect(screen.getByTestId("status").textContent).toBe("• paused");
    expect(screen.getByTestId("status")).toHaveAttribute("data-status", "paused");
  });
});
