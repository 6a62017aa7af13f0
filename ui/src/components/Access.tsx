// Who may come in: `gate.require_grants` and the agents connected now. Agents without a token are
// not authenticated: they are told apart only by the client name they declare, which any program
// can claim. Turning the switch on says how many tokenless sessions are connected at that moment.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { Access as AccessState } from "../bindings/api";
import { api } from "../api";
import { ErrorNote } from "./Empty";

export function Access({ changed }: { changed: number }) {
  const [state, setState] = useState<AccessState | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => {
    api.access().then(setState, setError);
  }, []);
  useEffect(load, [load, changed]);

  const toggle = async () => {
    if (!state) return;
    setError(null);
    try {
      const change = await api.setAccess({ requireGrants: !state.requireGrants });
      setMessage(change.message);
      load();
    } catch (e) {
      setError(e);
    }
  };

  const tokenless = state?.sessions.filter((s) => s.tokenless) ?? [];
  return (
    <section class="section" aria-labelledby="access-title" data-testid="access">
      <h2 id="access-title">Who may connect</h2>
      {state ? (
        <>
          <label class="field">
            <span>
              <input type="checkbox" role="switch" checked={state.requireGrants} onChange={toggle} aria-label="Refuse agents without a token" /> Require grant
              tokens (<code>gate.require_grants</code>)
            </span>
          </label>
          <p class="muted">
            {state.requireGrants
              ? "Agents without a grant token are refused."
              : "Agents without a token get in, unauthenticated: they are shown as “<client> (no token)” and told apart only by the client name they declare, which any program can claim."}{" "}
            {state.grants} grant(s); {state.sessions.length} open session(s), {tokenless.length} without a token.
          </p>
          {state.sessions.length > 0 ? (
            <ul class="muted">
              {state.sessions.map((s) => (
                <li key={s.sessionId}>
                  {s.agent} on {s.server}
                </li>
              ))}
            </ul>
          ) : null}
        </>
      ) : null}
      {message ? (
        <p role="status" data-testid="access-message">
          {message}
        </p>
      ) : null}
      <ErrorNote error={error} />
    </section>
  );
}
