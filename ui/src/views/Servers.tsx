// Servers and grants: each upstream's health (transport, sessions, last error, restarts, policy),
// the decision each of its tools would get, and the agent identities (grants): create (the token is
// shown once), rotate, revoke.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { Grant, GrantToken, ServerStatus, Status, ToolPreview } from "../bindings/api";
import { api } from "../api";
import { Access } from "../components/Access";
import { Empty, ErrorNote } from "../components/Empty";
import { formatTime } from "../format";
import { createPolicyHref } from "../route";
import { apiInfo } from "../transport";
import { Import } from "./Import";

const DECISION_LABEL = { allow: "allow", deny: "deny", require_approval: "ask a human" } as const;
const DECISION_CLASS = { allow: "pill-allow", deny: "pill-deny", require_approval: "pill-pending" } as const;

function ServerCard({ server }: { server: ServerStatus }) {
  const [tools, setTools] = useState<ToolPreview[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.tools(server.name).then(setTools, setError);
  }, [server.name, server.policy.revision]);
  const healthy = !server.lastError;
  return (
    <article class="card server" data-server={server.name} aria-labelledby={`srv-${server.name}`}>
      <header class="server-head">
        <h3 id={`srv-${server.name}`}>
          <span class={`dot ${healthy ? "dot-allow" : "dot-deny"}`} aria-hidden="true" /> {server.name}
        </h3>
        <dl class="facts">
          <dt>Transport</dt>
          <dd>{server.transport}</dd>
          <dt>Sessions</dt>
          <dd>{server.sessions}</dd>
          <dt>Restarts</dt>
          <dd>{server.restarts}</dd>
          <dt>Policy</dt>
          <dd>
            <code>{server.policy.source}</code>
            {server.policy.revision ? <span class="muted"> @{server.policy.revision.slice(0, 8)}</span> : null}
          </dd>
        </dl>
        <a class="btn small" href={createPolicyHref(server.name)} aria-label={`Create a policy for ${server.name}`}>
          Create a policy
        </a>
      </header>
      {server.lastError ? (
        <p class="error-note" role="alert">
          Last error: {server.lastError}
        </p>
      ) : null}
      {server.policy.error ? (
        <p class="error-note" role="alert">
          Policy reload failed: {server.policy.error}. The last good policy still applies.
        </p>
      ) : null}
      <ErrorNote error={error} />
      {tools && tools.length === 0 ? <p class="muted">The server lists no tools.</p> : null}
      {tools && tools.length > 0 ? (
        <table class="table tools">
          <thead>
            <tr>
              <th>Tool</th>
              <th>Decision</th>
              <th>Rule</th>
            </tr>
          </thead>
          <tbody>
            {tools.map((t) => (
              <tr key={t.name} data-tool={t.name}>
                <td>
                  <code>{t.name}</code>
                  {t.hidden ? <span class="badge muted-badge">hidden</span> : null}
                  {t.description ? <div class="muted small">{t.description}</div> : null}
                </td>
                <td>
                  <span class={`pill ${DECISION_CLASS[t.decision]}`}>{DECISION_LABEL[t.decision]}</span>
                </td>
                <td>
                  <code class="pointer">{t.rule}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </article>
  );
}

function TokenBox({ token, servers, onClose }: { token: GrantToken; servers: string[]; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const [base, setBase] = useState("http://127.0.0.1:4141");
  useEffect(() => {
    void apiInfo().then((i) => setBase(i.baseUrl));
  }, []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopied(true);
    } catch {
      const el = document.getElementById("grant-token") as HTMLInputElement | null;
      el?.select();
    }
  };
  return (
    <div class="token-box" role="alert" data-testid="grant-token">
      <p>
        <strong>Token for {token.name}.</strong> Copy it now: Airlock keeps only its hash and cannot show it again.
      </p>
      <div class="token-row">
        <input id="grant-token" readOnly value={token.token} aria-label="Grant token" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="btn" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      {token.note ? (
        <p class="small" data-testid="grant-note">
          {token.note}
        </p>
      ) : null}
      <p class="muted small">
        Agents send it as <code>Authorization: Bearer …</code> to <code>{`${base}/mcp/${servers[0] ?? "<server>"}`}</code>.
      </p>
      <button type="button" class="btn small" onClick={onClose}>
        Done
      </button>
    </div>
  );
}

function Grants({ servers, onChange }: { servers: string[]; onChange: () => void }) {
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("");
  const [token, setToken] = useState<GrantToken | null>(null);

  const load = useCallback(() => {
    api.grants().then(setGrants, setError);
  }, []);
  useEffect(load, [load]);

  const act = async (f: () => Promise<GrantToken | void>) => {
    setError(null);
    try {
      const t = await f();
      if (t) setToken(t);
      load();
      onChange();
    } catch (e) {
      setError(e);
    }
  };

  const create = (e: Event) => {
    e.preventDefault();
    const list = scope
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    void act(async () => {
      const t = await api.createGrant({ name: name.trim(), servers: list.length ? list : undefined });
      setName("");
      setScope("");
      return t;
    });
  };

  return (
    <section class="section" aria-labelledby="grants-title">
      <h2 id="grants-title">Grants (agent identities)</h2>
      <p class="muted">Each agent gets its own token, so history shows who did what and limits apply per agent.</p>
      <form class="filters" onSubmit={create} aria-label="Create a grant">
        <label class="field">
          <span>Name</span>
          <input value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} placeholder="e.g. claude-code" required pattern="[A-Za-z0-9._\-]+" aria-label="Grant name" />
        </label>
        <label class="field grow">
          <span>Servers (comma-separated; empty = all)</span>
          <input value={scope} onInput={(e) => setScope((e.currentTarget as HTMLInputElement).value)} placeholder={servers.join(", ")} aria-label="Grant servers" />
        </label>
        <button type="submit" class="btn approve">
          Create grant
        </button>
      </form>
      {token ? <TokenBox token={token} servers={servers} onClose={() => setToken(null)} /> : null}
      <ErrorNote error={error} />
      {grants && grants.length === 0 ? <Empty title="No grants yet.">Create one above and give its token to an agent.</Empty> : null}
      {grants && grants.length > 0 ? (
        <table class="table" data-testid="grants">
          <thead>
            <tr>
              <th>Name</th>
              <th>Servers</th>
              <th>Created</th>
              <th>State</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {grants.map((g) => (
              <tr key={g.name} data-grant={g.name}>
                <td>{g.name}</td>
                <td>{g.servers?.join(", ") ?? <span class="muted">all</span>}</td>
                <td>{g.createdMs ? formatTime(g.createdMs) : "–"}</td>
                <td>{g.revoked ? <span class="pill pill-deny">revoked</span> : <span class="pill pill-allow">active</span>}</td>
                <td class="buttons">
                  {!g.revoked ? (
                    <>
                      <button type="button" class="btn small" aria-label={`Rotate ${g.name}`} onClick={() => act(() => api.rotateGrant(g.name))}>
                        Rotate
                      </button>
                      <button
                        type="button"
                        class="btn small deny"
                        aria-label={`Revoke ${g.name}`}
                        onClick={() => confirm(`Revoke ${g.name}? Agents using its token are refused from now on.`) && act(() => api.revokeGrant(g.name))}
                      >
                        Revoke
                      </button>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export function Servers({ status }: { status: Status | null }) {
  const servers = status?.servers ?? [];
  const [changed, setChanged] = useState(0);
  return (
    <div class="servers">
      <div class="view-head">
        <h1>Servers &amp; grants</h1>
      </div>
      {(status?.configWarnings ?? []).map((w) => (
        <pre key={w} class="error-note config-warning">
          {w}
        </pre>
      ))}
      {status && servers.length === 0 ? (
        <Empty title="No upstream server is configured.">
          Add one to Airlock's config, or import your agents' servers below (or with <code>airlock import</code>).
        </Empty>
      ) : null}
      <Import />
      {servers.map((s) => (
        <ServerCard key={s.name} server={s} />
      ))}
      <Grants servers={servers.map((s) => s.name)} onChange={() => setChanged((n) => n + 1)} />
      <Access changed={changed} />
    </div>
  );
}
