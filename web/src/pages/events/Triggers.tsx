// The triggers section of the events page: one request for the list, one per expanded row for
// its recent executions, and PATCH { enabled } from an editor's button (then a refetch).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { useCan } from "../../api/session";
import { Loading, ProblemView } from "../../components/Problem";
import type { Trigger } from "./rules";
import { ExecutionList, TriggerTable } from "./TriggerTable";

const PAGE = 200;
const RECENT = 5;

function TriggerExecutions({ name }: { name: string }) {
  const query = useQuery({
    queryKey: ["trigger-executions", name],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/triggers/{name}/executions", {
          params: { path: { name }, query: { limit: RECENT } },
        }),
      ),
  });
  if (query.isPending) return <Loading what={`executions of ${name}`} />;
  if (query.isError) return <ProblemView error={query.error} />;
  return <ExecutionList executions={query.data.data} trigger={name} />;
}

export function Triggers() {
  const canEdit = useCan("editor");
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const expanded = params.get("trigger");
  const list = useQuery({
    queryKey: ["triggers"],
    queryFn: () => unwrap(api.GET("/api/v1/triggers", { params: { query: { limit: PAGE } } })),
  });
  const toggle = useMutation({
    mutationFn: (trigger: Trigger) =>
      unwrap(
        api.PATCH("/api/v1/triggers/{name}", {
          params: { path: { name: trigger.name } },
          body: { enabled: !trigger.enabled },
        }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: ["triggers"] }),
  });
  const onExpand = (name: string | null) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (name) next.set("trigger", name);
        else next.delete("trigger");
        return next;
      },
      { replace: true },
    );

  if (list.isPending) return <Loading what="triggers" />;
  if (list.isError) return <ProblemView error={list.error} />;
  return (
    <>
      {toggle.isError && <ProblemView error={toggle.error} />}
      <TriggerTable
        triggers={list.data.data}
        canEdit={canEdit}
        busy={toggle.isPending ? toggle.variables?.name : null}
        onToggle={(trigger) => toggle.mutate(trigger)}
        expanded={expanded}
        onExpand={onExpand}
        expandedContent={expanded ? <TriggerExecutions name={expanded} /> : null}
      />
      {list.data.next_cursor && (
        <p className="muted">The first {PAGE} triggers by name are shown.</p>
      )}
    </>
  );
}
