// The inline form behind a version's "Promote" button: which alias to move onto it (default
// the served one) and why; the API records both in the model's history.
import { useState, type FormEvent } from "react";
import { ProblemView } from "../../components/Problem";
import { SERVING_ALIAS } from "./types";

export function PromoteForm({
  version,
  onSubmit,
  onDone,
}: {
  version: number;
  /** rejects with the API's error, which the form shows */
  onSubmit: (alias: string, reason: string) => Promise<unknown>;
  /** closes the form (after a promotion, or on Cancel) */
  onDone: () => void;
}) {
  const [alias, setAlias] = useState(SERVING_ALIAS);
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await onSubmit(alias, reason);
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
      data-testid={`promote-form-${version}`}
      onSubmit={(event) => void submit(event)}
    >
      <label>
        Alias
        <input value={alias} onChange={(e) => setAlias(e.target.value)} required maxLength={200} />
      </label>
      <label>
        Reason
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1000} />
      </label>
      <div className="inline-buttons">
        <button type="submit" disabled={pending}>
          Confirm promote
        </button>
        <button type="button" className="ghost" onClick={onDone}>
          Cancel
        </button>
      </div>
      <ProblemView error={error} />
    </form>
  );
}
