// Policies: each policy file in an editor, validated as you type by the gate's own parser
// (debounced `POST /api/policies/validate`), errors at their line with message and hint, and Save
// enabled only when the text is valid and changed. A saved file is hot-reloaded by the gate.
// Built-in policies and "no policy" cannot be saved, so they are shown read-only with the reason
// and "Create a policy" (`#/policies/create/<server>`, the CreatePolicy view) instead.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Diagnostic, PolicyDoc } from "../bindings/api";
import { api } from "../api";
import { Empty, ErrorNote } from "../components/Empty";
import { PolicyEditor } from "../components/PolicyEditor";
import { createPolicyHref, createPolicyServerOf } from "../route";
import { ApiError } from "../transport";
import { CreatePolicy } from "./CreatePolicy";

/** Why a policy cannot be saved from the window, or null when it is a file it can write. */
export function readOnlyReason(source: string): string | null {
  if (source.startsWith("builtin:")) return "This policy is built into Airlock, so it cannot be edited here.";
  if (source.startsWith("(")) return "This server has no policy: every call of a tool it lists asks a human.";
  return null;
}

function ReadOnlyPane({ doc, reason }: { doc: PolicyDoc; reason: string }) {
  return (
    <section class="policy" data-policy-id={doc.id} aria-label={`Policy ${doc.source}`}>
      <div class="policy-head">
        <div>
          <h2>{doc.server ?? doc.id}</h2>
          <p class="muted">
            <code>{doc.source}</code>
            {doc.revision ? ` · revision ${doc.revision.slice(0, 12)}` : ""}
          </p>
        </div>
        {doc.server ? (
          <div class="buttons">
            <a class="btn approve" href={createPolicyHref(doc.server)}>
              Create a policy
            </a>
          </div>
        ) : null}
      </div>
      <p class="note" role="note" data-testid="read-only">
        {reason} {doc.server ? "Create a policy from its tools: Airlock writes it to a file of yours and points the server at it." : null}
      </p>
      <pre class="json read-only" aria-label={`Policy ${doc.source} (read-only)`}>
        {doc.text}
      </pre>
    </section>
  );
}

type Check = { state: "idle" | "checking" | "valid" | "invalid" | "error"; diagnostics: Diagnostic[]; error?: unknown };

function PolicyPane({ doc, onSaved }: { doc: PolicyDoc; onSaved: (d: PolicyDoc) => void }) {
  const [text, setText] = useState(doc.text);
  const [check, setCheck] = useState<Check>({ state: "idle", diagnostics: [] });
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [savedAt, setSavedAt] = useState<number | null>(null);
  const [resetKey, setResetKey] = useState(0);
  const seq = useRef(0);

  useEffect(() => {
    const mine = ++seq.current;
    setCheck((c) => ({ ...c, state: "checking" }));
    const t = setTimeout(() => {
      api.validate(text).then(
        (v) => mine === seq.current && setCheck({ state: v.ok ? "valid" : "invalid", diagnostics: v.diagnostics }),
        (e) => mine === seq.current && setCheck({ state: "error", diagnostics: [], error: e }),
      );
    }, 300);
    return () => clearTimeout(t);
  }, [text]);

  const dirty = text !== doc.text;
  const canSave = dirty && check.state === "valid" && !saving;

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      const saved = await api.savePolicy(doc.id, text);
      setSavedAt(Date.now());
      onSaved(saved);
    } catch (e) {
      if (e instanceof ApiError && e.diagnostics.length) setCheck({ state: "invalid", diagnostics: e.diagnostics });
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  };

  const statusText = {
    idle: "",
    checking: "Checking…",
    valid: dirty ? "Valid — not saved yet" : "Valid",
    invalid: `${check.diagnostics.length} ${check.diagnostics.length === 1 ? "problem" : "problems"}`,
    error: "Could not check",
  }[check.state];

  return (
    <section class="policy" data-policy-id={doc.id} aria-label={`Policy ${doc.source}`}>
      <div class="policy-head">
        <div>
          <h2>{doc.server ? `${doc.server}` : doc.id}</h2>
          <p class="muted">
            <code>{doc.source}</code>
            {doc.grant ? ` · grant ${doc.grant}` : ""}
            {doc.revision ? ` · revision ${doc.revision.slice(0, 12)}` : ""}
          </p>
        </div>
        <div class="buttons">
          <span class={`check check-${check.state}`} role="status" data-testid="policy-status">
            {statusText}
          </span>
          <button type="button" class="btn" disabled={!dirty || saving} onClick={() => {
              setText(doc.text);
              setResetKey((k) => k + 1);
            }}>
            Revert
          </button>
          <button type="button" class="btn approve" disabled={!canSave} onClick={save}>
            {saving ? "Saving…" : "Save"}
          </button>
        </div>
      </div>
      {doc.error ? (
        <p class="error-note" role="alert">
          The file on disk is not in force: {doc.error}. The last good policy still applies.
        </p>
      ) : null}
      {savedAt && !dirty ? (
        <p class="ok-note" role="status">
          Saved; the gate reloaded it.
        </p>
      ) : null}
      <ErrorNote error={saveError ?? check.error} />
      <PolicyEditor text={text} resetKey={resetKey} diagnostics={check.diagnostics} onChange={setText} label={`Policy ${doc.source}`} />
      {check.diagnostics.length > 0 ? (
        <ul class="diagnostics" data-testid="diagnostics">
          {check.diagnostics.map((d, i) => (
            <li key={i} data-line={d.line}>
              <span class="loc">
                line {d.line}:{d.column}
              </span>{" "}
              {d.message}
              {d.pointer ? <code class="pointer">{d.pointer}</code> : null}
              {d.hint ? <span class="hint"> — {d.hint}</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

export function Policies({ hash }: { hash: string }) {
  const create = createPolicyServerOf(hash);
  if (create) return <CreatePolicy server={create} />;
  return <PolicyList />;
}

function PolicyList() {
  const [docs, setDocs] = useState<PolicyDoc[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [active, setActive] = useState<string | null>(null);

  useEffect(() => {
    api.policies().then((d) => {
      setDocs(d);
      setActive((a) => a ?? d[0]?.id ?? null);
    }, setError);
  }, []);

  const current = docs?.find((d) => d.id === active) ?? null;
  return (
    <div class="policies">
      <div class="view-head">
        <h1>Policies</h1>
        <p class="muted">
          What you save here is validated and applies at once; an invalid file never replaces the policy in force. An edit made on disk
          that loosens a policy waits for you in a banner above. <code>airlock schema</code> prints a JSON Schema for your own editor.
        </p>
      </div>
      <ErrorNote error={error} />
      {docs && docs.length === 0 ? (
        <Empty title="No policy is configured.">
          Add a server with a <code>policy</code> to the config file that <code>airlock serve --config FILE</code> reads, for example{" "}
          <code>{'"mcpServers": { "pusher": { "builtin": "demo-pusher", "policy": "policies/pusher-channels.json" } }'}</code>, then restart
          Airlock. The policy language is described in <code>docs/policy.md</code>.
        </Empty>
      ) : null}
      {docs && docs.length > 1 ? (
        <div class="tabs" role="tablist">
          {docs.map((d) => (
            <button key={d.id} role="tab" type="button" aria-selected={d.id === active} class={d.id === active ? "active" : ""} onClick={() => setActive(d.id)}>
              {d.server ?? d.id}
              {d.error ? <span class="dot dot-deny" aria-label="has errors" /> : null}
            </button>
          ))}
        </div>
      ) : null}
      {current && readOnlyReason(current.source) ? (
        <ReadOnlyPane key={current.id} doc={current} reason={readOnlyReason(current.source) ?? ""} />
      ) : current ? (
        <PolicyPane key={current.id} doc={current} onSaved={(saved) => setDocs((ds) => ds?.map((d) => (d.id === saved.id ? saved : d)) ?? null)} />
      ) : null}
    </div>
  );
}
