// The alias history: every recorded move of an alias, as the store writes it (kind "alias",
// field the alias, from/to the version numbers as text, to null when the alias was removed).
import { SERVING_ALIAS, type Change, type Version } from "./types";

export interface AliasEntry {
  seq: number;
  alias: string;
  from: number | null;
  to: number | null;
  actor: string;
  at: string;
  reason: string | null;
}

function versionOf(value: string | null): number | null {
  if (value == null) return null;
  const number = Number(value);
  return Number.isInteger(number) ? number : null;
}

/** Alias moves, newest first (a timeline reads from now backwards). */
export function aliasEntries(history: readonly Change[]): AliasEntry[] {
  return history
    .filter((change) => change.kind === "alias")
    .map((change) => ({
      seq: change.seq,
      alias: change.field,
      from: versionOf(change.from_value),
      to: versionOf(change.to_value),
      actor: change.actor,
      at: change.created_at,
      reason: change.reason,
    }))
    .sort((a, b) => b.seq - a.seq);
}

export interface CurrentAlias {
  alias: string;
  version: number;
}

/** Which version each alias points at now, the served alias first. */
export function currentAliases(versions: readonly Version[]): CurrentAlias[] {
  const found: CurrentAlias[] = [];
  for (const version of versions) {
    for (const alias of version.aliases) found.push({ alias, version: version.version });
  }
  return found.sort(
    (a, b) =>
      Number(b.alias === SERVING_ALIAS) - Number(a.alias === SERVING_ALIAS) ||
      a.alias.localeCompare(b.alias),
  );
}

const UNSERVABLE: ReadonlySet<string> = new Set(["rejected", "failed"]);

/** What a model server loads, by the store's rule (``_aliases.serving_statement``): the version
 * holding ``deployed``, else the newest neither rejected nor failed. Computed from the versions
 * the page has, rather than a fourth request to ``/serving``. */
export function servedVersion(
  versions: readonly Version[],
): { version: number; byAlias: boolean } | null {
  const holder = versions.find((v) => v.aliases.includes(SERVING_ALIAS));
  if (holder) return { version: holder.version, byAlias: true };
  const newest = [...versions]
    .filter((v) => !UNSERVABLE.has(v.stage))
    .sort((a, b) => b.version - a.version)[0];
  return newest ? { version: newest.version, byAlias: false } : null;
}
