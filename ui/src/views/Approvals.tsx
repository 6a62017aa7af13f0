// Approvals: every pending request, oldest first, with what a human needs to decide (agent, server,
// tool, redacted arguments, the rule and its reason, time left, how many agents wait), the remember
// choices with what they cover in words (components/Scope.tsx), a note for the agent, bulk decisions
// for bursts, keyboard control (j/k/a/d), and the remembered decisions, each with its scope, with
// one-click revoke. `#/approvals/<id>` (a notification's body) focuses that
// request's card, or says it was already decided when it is no longer pending.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Approval, Effect, Remember, Remembered } from "../bindings/api";
import { api } from "../api";
import { Empty, ErrorNote } from "../components/Empty";
import { Json } from "../components/Json";
import { type Choice, DEFAULT_CHOICE, ScopeChooser, argsScope } from "../components/Scope";
import { useNow } from "../components/now";
import { PassphrasePanel } from "../components/Passphrase";
import { formatExpiry, formatRemaining, formatTime } from "../format";
import type { Live } from "../live";
import { apiInfo } from "../transport";

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

function ApprovalCard(props: {
  approval: Approval;
  focused: boolean;
  choice: Choice;
  onChoice: (c: Choice) => void;
  onFocus: () => void;
  onDecide: (d: Effect, passphrase?: string) => void;
  busy: boolean;
  error: unknown;
  /** Opened from `#/approvals/<id>`: take keyboard focus once, so j/k/a/d and screen readers start here. */
  targeted: boolean;
}) {
  const { approval: a, choice } = props;
  const now = useNow();
  const left = a.expiresMs - now;
  const total = Math.max(1, a.expiresMs - a.createdMs);
  const urgent = left < 60_000;
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (props.focused) ref.current?.scrollIntoView({ block: "nearest" });
  }, [props.focused]);
  useEffect(() => {
    if (props.targeted) ref.current?.focus({ preventScroll: true });
  }, [props.targeted]);
  const id = `appr-${a.id}`;
  // Typed for one approval and cleared after it: never kept.
  const [passphrase, setPassphrase] = useState("");
  const approve = () => {
    props.onDecide("approve", a.needsPassphrase ? passphrase : undefined);
    setPassphrase("");
  };
  return (
    <article
      ref={ref}
      class={`card approval ${props.focused ? "focused" : ""}`}
      data-approval-id={a.id}
      tabIndex={-1}
      aria-labelledby={`${id}-title`}
      aria-current={props.focused ? "true" : undefined}
      onClick={props.onFocus}
    >
      <header class="approval-head">
        <div>
          <h3 id={`${id}-title`}>
            <span class="tool">{a.tool}</span> <span class="muted">on</span> <span class="server">{a.server}</span>
          </h3>
          <p class="who">
            <span class="badge" data-testid="agent">
              {a.agent}
            </span>
            {a.client?.version ? <span class="muted"> {a.client.version}</span> : null}
            <span class="muted"> · asked {formatTime(a.createdMs)}</span>
            {a.waiting > 0 ? (
              <span class="muted" data-testid="waiting">
                {" "}
                · {a.waiting} {a.waiting === 1 ? "agent waits" : "agents wait"}
              </span>
            ) : (
              <span class="muted"> · agent will retry</span>
            )}
          </p>
        </div>
        <div class={`countdown ${urgent ? "urgent" : ""}`} title={`Expires at ${new Date(a.expiresMs).toLocaleTimeString()}`}>
          <span class="countdown-value" aria-label="time left">
            {formatRemaining(left)}
          </span>
          <span class="countdown-bar" aria-hidden="true">
            <span style={{ width: `${Math.max(0, Math.min(100, (left / total) * 100))}%` }} />
          </span>
        </div>
      </header>
      <p class="rule">
        {a.reason ? <strong>{a.reason}</strong> : <strong>Needs approval</strong>} <code class="pointer">{a.rule}</code>
      </p>
      {a.tokenless ? (
        <p class="muted" data-testid="tokenless">
          This agent sent no grant token: it is not authenticated, and “{a.client?.name ?? "unnamed client"}” is only the name it gives.
        </p>
      ) : null}
      <Json value={a.arguments} label={`arguments of ${a.tool}`} />
      <div class="decide">
        <label class="field">
          <span>Remember</span>
          <select
            value={choice.remember}
            onChange={(e) => props.onChoice({ ...choice, remember: (e.currentTarget as HTMLSelectElement).value as Remember })}
            aria-label="Remember this decision"
          >
            <option value="once">Just this call</option>
            <option value="minutes">For {choice.minutes} minutes</option>
            <option value="session">For this agent session</option>
            <option value="always">Always</option>
          </select>
        </label>
        {choice.remember === "minutes" ? (
          <label class="field narrow">
            <span>Minutes</span>
            <input
              type="number"
              min={1}
              max={10080}
              value={choice.minutes}
              aria-label="Minutes to remember"
              onInput={(e) => props.onChoice({ ...choice, minutes: Math.max(1, Number((e.currentTarget as HTMLInputElement).value) || 10) })}
            />
          </label>
        ) : null}
        <label class="field grow">
          <span>Note for the agent (on deny)</span>
          <input
            type="text"
            value={choice.note}
            placeholder="e.g. use the staging app instead"
            aria-label="Note for the agent"
            onInput={(e) => props.onChoice({ ...choice, note: (e.currentTarget as HTMLInputElement).value })}
          />
        </label>
        {a.needsPassphrase ? (
          <label class="field">
            <span>Your passphrase (needed to approve)</span>
            <input
              type="password"
              autocomplete="off"
              value={passphrase}
              aria-label="Passphrase to approve"
              onInput={(e) => setPassphrase((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter") approve();
              }}
            />
          </label>
        ) : null}
        <div class="buttons">
          <button type="button" class="btn deny" disabled={props.busy} onClick={() => props.onDecide("deny")} aria-label="Deny" title="Deny (d)">
            Deny
          </button>
          <button type="button" class="btn approve" disabled={props.busy} onClick={approve} aria-label="Approve" title="Approve (a)">
            Approve
          </button>
        </div>
      </div>
      <ScopeChooser approval={a} choice={choice} onChoice={props.onChoice} />
      <ErrorNote error={props.error} />
    </article>
  );
}

function RememberedList({ items, onRevoke, error }: { items: Remembered[]; onRevoke: (id: string) => void; error: unknown }) {
  const now = useNow();
  return (
    <section class="section" aria-labelledby="remembered-title">
      <h2 id="remembered-title">Remembered decisions</h2>
      <ErrorNote error={error} />
      {items.length === 0 ? (
        <p class="muted">
          None. Choose “For 10 minutes”, “For this agent session” or “Always” when you approve or deny, and the decision shows here, with
          what it covers, until it expires or you revoke it. It covers the same agent, tool and arguments unless you choose wider.
        </p>
      ) : (
        <table class="table" data-testid="remembered">
          <thead>
            <tr>
              <th>Effect</th>
              <th>Agent</th>
              <th>Server · tool</th>
              <th>Applies to</th>
              <th>Expires</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-remembered-id={r.id}>
                <td>
                  <span class={`pill ${r.effect === "approve" ? "pill-allow" : "pill-deny"}`}>{r.effect === "approve" ? "approve" : "deny"}</span>
                </td>
                <td>{r.agent}</td>
                <td>
                  {r.server} · <code>{r.tool}</code>
                </td>
                <td class="muted" data-testid="remembered-scope">
                  {r.scope}
                  {r.note ? ` — “${r.note}”` : ""}
                </td>
                <td>{formatExpiry(r.expiresMs, now)}</td>
                <td>
                  <button type="button" class="btn small" aria-label={`Revoke ${r.effect} of ${r.tool} for ${r.grant}`} onClick={() => onRevoke(r.id)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Where `#/approvals/<id>` points when that request is not among the pending ones. */
function NotPending({ id, settled }: { id: string; settled: Approval | undefined }) {
  const what = settled
    ? {
        approved: "It was approved",
        denied: "It was denied",
        expired: "It expired before anyone answered",
        withdrawn: "The agent withdrew it",
        pending: "",
      }[settled.status]
    : "";
  return (
    <div class="banner banner-info" role="status" data-testid="not-pending" data-approval-target={id}>
      <strong>Request {id} is already decided</strong>
      {settled ? (
        <>
          {" "}
          ({settled.tool} on {settled.server} by {settled.grant}). {what}; History has the details.
        </>
      ) : (
        <> or no longer pending. History has what happened to it.</>
      )}{" "}
      <a href="#/approvals">Show all pending requests</a>
    </div>
  );
}

export function Approvals({ live, focusId }: { live: Live; focusId: string | null }) {
  const list = live.approvals;
  const [focus, setFocus] = useState(0);
  const targetIndex = focusId === null ? -1 : list.findIndex((a) => a.id === focusId);
  useEffect(() => {
    if (targetIndex >= 0) setFocus(targetIndex);
  }, [focusId, targetIndex]);
  const [choices, setChoices] = useState<Record<string, Choice>>({});
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const [remembered, setRemembered] = useState<Remembered[]>([]);
  const [rememberedError, setRememberedError] = useState<unknown>(null);
  const [bulkError, setBulkError] = useState<unknown>(null);
  const [agentUrl, setAgentUrl] = useState("http://127.0.0.1:4141");

  useEffect(() => {
    void apiInfo().then((i) => setAgentUrl(i.baseUrl));
  }, []);

  const loadRemembered = useCallback(() => {
    api.remembered().then(
      (r) => {
        setRemembered(r);
        setRememberedError(null);
      },
      setRememberedError,
    );
  }, []);
  useEffect(loadRemembered, [loadRemembered, list.length]);

  useEffect(() => {
    if (focus >= list.length) setFocus(Math.max(0, list.length - 1));
  }, [list.length, focus]);

  const choiceOf = (id: string) => choices[id] ?? DEFAULT_CHOICE;

  const decide = useCallback(
    async (a: Approval, decision: Effect, passphrase?: string) => {
      const c = choices[a.id] ?? DEFAULT_CHOICE;
      setBusy((b) => ({ ...b, [a.id]: true }));
      setErrors((e) => ({ ...e, [a.id]: null }));
      try {
        await api.decide(a.id, {
          decision,
          remember: c.remember,
          minutes: c.remember === "minutes" ? c.minutes : undefined,
          args: argsScope(c),
          note: c.note.trim() || undefined,
          source: window.__TAURI__ ? "window" : "browser",
          passphrase: decision === "approve" ? passphrase : undefined,
        });
        live.reload();
        if (c.remember !== "once") loadRemembered();
      } catch (e) {
        setErrors((x) => ({ ...x, [a.id]: e }));
        live.reload();
      } finally {
        setBusy((b) => ({ ...b, [a.id]: false }));
      }
    },
    [choices, live, loadRemembered],
  );

  // The key handler reads the latest list, focus and decide through a ref: a handler registered by an
  // effect lags one paint behind, so `j` then `a` in quick succession would approve the card focused
  // before the `j`.
  const keyState = useRef({ list, focus, decide });
  keyState.current = { list, focus, decide };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { list, focus, decide } = keyState.current;
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || list.length === 0) return;
      const at = Math.min(focus, list.length - 1);
      const current = list[at];
      if (e.key === "j") {
        keyState.current.focus = Math.min(at + 1, list.length - 1);
        setFocus(keyState.current.focus);
      } else if (e.key === "k") {
        keyState.current.focus = Math.max(at - 1, 0);
        setFocus(keyState.current.focus);
      } else if (e.key === "a" && current) void decide(current, "approve");
      else if (e.key === "d" && current) void decide(current, "deny");
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const groups = useMemo(() => {
    // One group per agent: a tokenless agent is its declared client, so one click never answers two programs.
    const m = new Map<string, { tool: string; grant: string; client?: string; agent: string; server: string; count: number }>();
    for (const a of list) {
      const client = a.tokenless ? a.client?.name : undefined;
      const k = `${a.agent}\u0000${a.server}\u0000${a.tool}`;
      const g = m.get(k) ?? { tool: a.tool, grant: a.grant, client, agent: a.agent, server: a.server, count: 0 };
      g.count++;
      m.set(k, g);
    }
    return [...m.values()].filter((g) => g.count > 1);
  }, [list]);

  const bulk = async (g: { tool: string; grant: string; client?: string; server: string }, decision: Effect) => {
    setBulkError(null);
    try {
      await api.bulk({ decision, tool: g.tool, grant: g.grant, client: g.client, server: g.server, source: window.__TAURI__ ? "window" : "browser" });
    } catch (e) {
      setBulkError(e);
    }
    live.reload();
  };

  const revoke = async (id: string) => {
    try {
      await api.revokeRemembered(id);
      loadRemembered();
    } catch (e) {
      setRememberedError(e);
    }
  };

  const server = live.status?.servers[0]?.name ?? "pusher";
  return (
    <div class="approvals">
      <div class="view-head">
        <h1>Approvals</h1>
        <p class="muted keys" aria-hidden="true">
          <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>a</kbd> approve · <kbd>d</kbd> deny
        </p>
      </div>
      {groups.map((g) => (
        <div class="bulk" role="group" aria-label={`Bulk decision for ${g.tool} by ${g.agent}`} key={`${g.agent}/${g.server}/${g.tool}`}>
          <span>
            <strong>{g.count}</strong> pending calls of <code>{g.tool}</code> on {g.server} by <span class="badge">{g.agent}</span>
          </span>
          <span class="buttons">
            <button type="button" class="btn deny small" onClick={() => bulk(g, "deny")} aria-label={`Deny all ${g.count} ${g.tool} calls`}>
              Deny all {g.count}
            </button>
            <button type="button" class="btn approve small" onClick={() => bulk(g, "approve")} aria-label={`Approve all ${g.count} ${g.tool} calls`}>
              Approve all {g.count}
            </button>
          </span>
        </div>
      ))}
      <ErrorNote error={bulkError} />
      {focusId !== null && targetIndex < 0 && live.approvalsLoaded ? <NotPending id={focusId} settled={live.settled[focusId]} /> : null}
      {list.length === 0 ? (
        <Empty title="No agent is waiting.">
          <p>
            Point an agent at <code>{`${agentUrl}/mcp/${server}`}</code> or run{" "}
            <code>airlock call {server} terminate_user_connections userId=u-42</code>. Calls that need a human appear here.
          </p>
        </Empty>
      ) : (
        <div class="cards" data-testid="approvals">
          {list.map((a, i) => (
            <ApprovalCard
              key={a.id}
              approval={a}
              focused={i === focus}
              choice={choiceOf(a.id)}
              onChoice={(c) => setChoices((x) => ({ ...x, [a.id]: c }))}
              onFocus={() => setFocus(i)}
              onDecide={(d, passphrase) => void decide(a, d, passphrase)}
              busy={busy[a.id] ?? false}
              error={errors[a.id]}
              targeted={a.id === focusId}
            />
          ))}
        </div>
      )}
      <RememberedList items={remembered} onRevoke={revoke} error={rememberedError} />
      <PassphrasePanel />
    </div>
  );
}
