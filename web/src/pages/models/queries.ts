// The model pages' API calls: one query key family per model (["model", name, ...]) so that a
// promotion or rollback refreshes everything shown about that model with one invalidation.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { Comparison } from "./types";

/** The API's largest page: the model page plots every version, so it asks for them at once. */
export const VERSIONS_PAGE = 500;

export const modelKeys = {
  all: (name: string) => ["model", name] as const,
  info: (name: string) => ["model", name, "info"] as const,
  versions: (name: string) => ["model", name, "versions"] as const,
  history: (name: string) => ["model", name, "history"] as const,
  compare: (name: string, a: number, b: number) => ["model", name, "compare", a, b] as const,
  version: (name: string, version: number) => ["model", name, "version", version] as const,
  metrics: (name: string, version: number) => ["model", name, "version", version, "metrics"] as const,
  lineage: (name: string, version: number) => ["model", name, "version", version, "lineage"] as const,
};

export function useModel(name: string) {
  return useQuery({
    queryKey: modelKeys.info(name),
    queryFn: () => unwrap(api.GET("/api/v1/models/{name}", { params: { path: { name } } })),
  });
}

export function useVersions(name: string) {
  return useQuery({
    queryKey: modelKeys.versions(name),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models/{name}/versions", {
          params: { path: { name }, query: { limit: VERSIONS_PAGE } },
        }),
      ),
  });
}

export function useHistory(name: string) {
  return useQuery({
    queryKey: modelKeys.history(name),
    queryFn: () => unwrap(api.GET("/api/v1/models/{name}/history", { params: { path: { name } } })),
  });
}

export function useComparison(name: string, a: number | null, b: number | null) {
  return useQuery({
    queryKey: modelKeys.compare(name, a ?? 0, b ?? 0),
    // openapi-fetch widens the schema's pairs ([a, b]) to arrays; the API always sends pairs
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models/{name}/compare", {
          params: { path: { name }, query: { a: a ?? 0, b: b ?? 0 } },
        }),
      ) as Promise<Comparison>,
    enabled: a != null && b != null,
  });
}

export function useVersion(name: string, version: number, enabled = true) {
  return useQuery({
    enabled,
    queryKey: modelKeys.version(name, version),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models/{name}/versions/{version}", { params: { path: { name, version } } }),
      ),
  });
}

export function useVersionMetrics(name: string, version: number, enabled = true) {
  return useQuery({
    enabled,
    queryKey: modelKeys.metrics(name, version),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models/{name}/versions/{version}/metrics", {
          params: { path: { name, version } },
        }),
      ),
  });
}

export function useLineage(name: string, version: number, enabled = true) {
  return useQuery({
    enabled,
    queryKey: modelKeys.lineage(name, version),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/models/{name}/versions/{version}/lineage", {
          params: { path: { name, version } },
        }),
      ),
  });
}

export interface PromoteInput {
  version: number;
  alias: string;
  reason: string;
}

/** POST promote; then the versions (aliases, stages) and the history are stale. */
export function usePromote(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ version, alias, reason }: PromoteInput) =>
      unwrap(
        api.POST("/api/v1/models/{name}/versions/{version}/promote", {
          params: { path: { name, version } },
          body: { alias: alias.trim() || null, reason: reason.trim() || null },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: modelKeys.all(name) }),
  });
}

export interface RollbackInput {
  alias: string;
  reason: string;
}

/** POST rollback: the alias goes back to the version it pointed at before. */
export function useRollback(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ alias, reason }: RollbackInput) =>
      unwrap(
        api.POST("/api/v1/models/{name}/rollback", {
          params: { path: { name }, query: { alias } },
          body: { reason: reason.trim() || null },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: modelKeys.all(name) }),
  });
}
