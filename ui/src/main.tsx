// Airlock's window: the header (pending count, pause switch, connection) and the hash router; the
// live state every view shares comes from live.ts.

import "./locale-guard";
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Status } from "./bindings/api";
import { api } from "./api";
import { StagedPolicies } from "./components/StagedPolicies";
import { approvalIdOf } from "./route";
import { useLive } from "./live";
import { hasToken } from "./transport";
import { Approvals } from "./views/Approvals";
import { History } from "./views/History";
import { Policies } from "./views/Policies";
import { Servers } from "./views/Servers";
import { ToolChanges } from "./views/ToolChanges";
import "./styles.css";

type Route = "approvals" | "history" | "policies" | "servers" | "tools";
const ROUTES: { id: Route; label: string }[] = [
  { id: "approvals", label: "Approvals" },
  { id: "history", label: "History" },
  { id: "policies", label: "Policies" },
  { id: "servers", label: "Servers & grants" },
  { id: "tools", label: "Tool changes" },
];

function currentRoute(): Route {
  const m = /^#\/(\w+)/.exec(window.location.hash);
  const r = m?.[1] as Route | undefined;
  return r && ROUTES.some((x) => x.id === r) ? r : "approvals";
}

function PauseSwitch({ status, onChange }: { status: Status | null; onChange: (s: Status) => void }) {
  const [busy, setBusy] = useState(false);
  const paused = status?.paused ?? false;
  const toggle = async () => {
    setBusy(true);
    try {
      onChange(await api.pause(!paused));
    } catch (e) {
      alert(`Could not ${paused ? "resume" : "pause"}: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      type="button"
      role="switch"
      aria-checked={paused}
      aria-label="Pause all calls"
      class={`pause ${paused ? "is-paused" : ""}`}
      disabled={busy || !status}
      onClick={toggle}
      title={paused ? "Every call is denied “paused by the user”. Click to resume." : "Deny every call until resumed"}
    >
      <span class="pause-knob" aria-hidden="true" />
      {paused ? "Paused" : "Running"}
    </button>
  );
}

function NoToken() {
  return (
    <main class="view">
      <div class="empty" role="alert">
        <p class="empty-title">This page needs Airlock's API token.</p>
        <div class="empty-body">
          Open the link that <code>airlock serve</code> printed (it ends in <code>#token=…</code>), or read the token from{" "}
          <code>&lt;data dir&gt;/api-token</code> and open <code>{window.location.origin}/#token=&lt;token&gt;</code>.
        </div>
      </div>
    </main>
  );
}

function App() {
  const [route, setRoute] = useState<Route>(currentRoute());
  const [hash, setHash] = useState(window.location.hash);
  const [tokenKnown, setTokenKnown] = useState<boolean | null>(null);
  const live = useLive();
  const [status, setStatus] = useState<Status | null>(null);
  const mainRef = useRef<HTMLElement>(null);

  useEffect(() => setStatus(live.status), [live.status]);
  useEffect(() => {
    void hasToken().then(setTokenKnown);
    const onHash = () => {
      setRoute(currentRoute());
      setHash(window.location.hash);
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const pending = live.approvals.length;
  useEffect(() => {
    document.title = pending > 0 ? `(${pending}) Airlock` : "Airlock";
  }, [pending]);

  if (tokenKnown === false || live.stream === "unauthorized") return <NoToken />;

  return (
    <>
      <header class="top">
        <div class="brand">
          <svg class="logo" aria-hidden="true" viewBox="0 0 16 16" width="16" height="16">
            <path d="M8 1 2.5 3v4.2c0 3.5 2.3 6.4 5.5 7.8 3.2-1.4 5.5-4.3 5.5-7.8V3L8 1Z" fill="currentColor" />
            <path d="M5.5 8.2 7.3 10l3.4-3.6" fill="none" stroke="var(--panel)" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
          </svg>{" "}
          Airlock
        </div>
        <nav aria-label="Views">
          {ROUTES.map((r) => (
            <a key={r.id} href={`#/${r.id}`} class={route === r.id ? "active" : ""} aria-current={route === r.id ? "page" : undefined}>
              {r.label}
              {r.id === "approvals" && pending > 0 ? (
                <span class="count" aria-label={`${pending} pending`} data-testid="pending-count">
                  {pending}
                </span>
              ) : null}
            </a>
          ))}
        </nav>
        <div class="top-right">
          <span class={`conn conn-${live.stream}`} title={`Event stream: ${live.stream}`} aria-live="polite">
            {live.stream === "open" ? "live" : live.stream === "retrying" ? "reconnecting…" : "connecting…"}
          </span>
          <PauseSwitch status={status} onChange={setStatus} />
        </div>
      </header>
      {status?.paused ? (
        <div class="banner banner-deny" role="status">
          Paused: every call is denied “paused by the user” until you resume.
        </div>
      ) : null}
      <StagedPolicies status={status} />
      <main class="view" ref={mainRef}>
        {route === "approvals" && <Approvals live={live} focusId={approvalIdOf(hash)} />}
        {route === "history" && <History live={live} />}
        {route === "policies" && <Policies hash={hash} />}
        {route === "servers" && <Servers status={status} />}
        {route === "tools" && <ToolChanges live={live} />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
