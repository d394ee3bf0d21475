// Where each alias points now, and (for editors) "Roll back": the alias goes back to the
// version it pointed at before, after an inline confirmation that can give the reason.
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { ProblemView } from "../../components/Problem";
import type { CurrentAlias } from "./history";
import type { RollbackInput } from "./queries";
import { versionHref } from "./types";

function RollbackConfirm({
  alias,
  version,
  onSubmit,
  onDone,
}: {
  alias: string;
  version: number;
  onSubmit: (input: RollbackInput) => Promise<unknown>;
  onDone: () => void;
}) {
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await onSubmit({ alias, reason });
      onDone();
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };
  return (
    <form
      className="inline-form"
      data-testid={`rollback-form-${alias}`}
      onSubmit={(event) => void submit(event)}
    >
      <p className="muted">
        Move <strong>{alias}</strong> off version {version}, back to the version it pointed at
        before?
      </p>
      <label>
        Reason
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1000} />
      </label>
      <div className="inline-buttons">
        <button type="submit" className="danger" disabled={pending} data-testid={`confirm-rollback-${alias}`}>
          Confirm roll back
        </button>
        <button type="button" className="ghost" onClick={onDone}>
          Cancel
        </button>
      </div>
      <ProblemView error={error} />
    </form>
  );
}

export function AliasesPanel({
  model,
  aliases,
  canEdit,
  onRollback,
}: {
  model: string;
  aliases: readonly CurrentAlias[];
  canEdit: boolean;
  onRollback: (input: RollbackInput) => Promise<unknown>;
}) {
  const [confirming, setConfirming] = useState<string | null>(null);
  if (aliases.length === 0) return <p className="muted">No aliases set.</p>;
  return (
    <table className="data aliases" data-testid="aliases">
      <thead>
        <tr>
          <th scope="col">Alias</th>
          <th scope="col">Version</th>
          {canEdit && <th scope="col">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {aliases.map(({ alias, version }) => (
          <tr key={alias} data-testid="alias-row" data-alias={alias} data-version={version}>
            <td>
              <span className="badge alias">{alias}</span>
            </td>
            <td>
              <Link to={versionHref(model, version)}>v{version}</Link>
            </td>
            {canEdit && (
              <td>
                {confirming === alias ? (
                  <RollbackConfirm
                    alias={alias}
                    version={version}
                    onSubmit={onRollback}
                    onDone={() => setConfirming(null)}
                  />
                ) : (
                  <button
                    type="button"
                    className="ghost"
                    data-testid={`rollback-${alias}`}
                    onClick={() => setConfirming(alias)}
                  >
                    Roll back
                  </button>
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
