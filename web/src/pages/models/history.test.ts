import { aliasMove, change, version } from "./fixtures";
import { aliasEntries, currentAliases, servedVersion } from "./history";

describe("aliasEntries", () => {
  it("lists alias moves newest first with who, from, to and why; other changes are left out", () => {
    const history = [
      aliasMove("deployed", null, 1, { actor: "token:alice", created_at: "2026-01-01T00:00:00Z" }),
      change({ version: 2, kind: "stage", from_value: "generated", to_value: "validated" }),
      aliasMove("deployed", 1, 2, { actor: "token:bob", reason: "better accuracy" }),
      change({ version: 2, kind: "tag", field: "team", to_value: "ml" }),
      aliasMove("deployed", 2, 1, { actor: "token:carol", reason: "rolled back from version 2" }),
      aliasMove("canary", 3, null),
    ];
    const entries = aliasEntries(history);
    expect(entries.map((e) => [e.alias, e.from, e.to, e.actor, e.reason])).toEqual([
      ["canary", 3, null, "aiflow", null],
      ["deployed", 2, 1, "token:carol", "rolled back from version 2"],
      ["deployed", 1, 2, "token:bob", "better accuracy"],
      ["deployed", null, 1, "token:alice", null],
    ]);
  });
});

describe("currentAliases", () => {
  it("lists every alias with its version, the served one first", () => {
    const versions = [
      version(3, { aliases: ["staging", "canary"] }),
      version(2, { aliases: ["deployed"] }),
      version(1),
    ];
    expect(currentAliases(versions)).toEqual([
      { alias: "deployed", version: 2 },
      { alias: "canary", version: 3 },
      { alias: "staging", version: 3 },
    ]);
  });
});

describe("servedVersion", () => {
  it("is the deployed alias's version, else the newest neither rejected nor failed", () => {
    expect(servedVersion([version(3), version(2, { aliases: ["deployed"] })])).toEqual({ version: 2, byAlias: true });
    expect(
      servedVersion([version(3, { stage: "rejected" }), version(2, { stage: "failed" }), version(1)]),
    ).toEqual({ version: 1, byAlias: false });
    expect(servedVersion([version(1, { stage: "rejected" })])).toBeNull();
  });
});
