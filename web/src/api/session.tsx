// Who is signed in. The token goes to POST /api/v1/session once and comes back as an http-only
// cookie the page cannot read; the page keeps only the name, the role and the CSRF token.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, type ReactNode } from "react";
import { ApiError, api, setCsrfToken, unwrap, type Schemas } from "./client";

export type Session = Schemas["SessionPublic"];
export type Role = Schemas["Role"];

interface SessionState {
  session: Session | null;
  loading: boolean;
  signIn: (token: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);
const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery({
    queryKey: ["session"],
    queryFn: async () => {
      try {
        const session = await unwrap(api.GET("/api/v1/session"));
        setCsrfToken(session.csrf_token ?? null);
        return session;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
  const signIn = useCallback(
    async (token: string) => {
      const session = await unwrap(api.POST("/api/v1/session", { body: { token } }));
      setCsrfToken(session.csrf_token ?? null);
      client.setQueryData(["session"], session);
    },
    [client],
  );
  const signOut = useCallback(async () => {
    await api.DELETE("/api/v1/session");
    setCsrfToken(null);
    client.clear();
    client.setQueryData(["session"], null);
  }, [client]);
  const value: SessionState = {
    session: query.data ?? null,
    loading: query.isPending,
    signIn,
    signOut,
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession outside SessionProvider");
  return state;
}

/** Whether the signed-in token has ``role`` or a higher one (buttons are hidden otherwise;
 * the API refuses the request anyway). */
export function useCan(role: Role): boolean {
  const { session } = useSession();
  return session != null && RANK[session.role] >= RANK[role];
}
