// Create a policy: the server's tools, each with the class the classifier gave it, its confidence
// and evidence, and one choice per row (Allow / Limit / Ask / Deny / Hide, the proposal
// preselected); the resulting policy JSON is previewed as it changes and validated by the gate's
// parser; Save writes the file, points the server's config entry at it (files backed up first) and
// the policy is in force at once.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { Diagnostic } from "../bindings/api";
import type { Choice, SavedPolicy, Starter } from "../bindings/onboarding";
import { api } from "../api";
import { ErrorNote } from "../components/Empty";
import { type Choices, policyText, proposedChoices } from "../starter";
import { ApiError } from "../transport";

const CHOICES: { id: Choice; label: string; hint: string }[] = [
  { id: "allow", label: "Allow", hint: "allowed, no limit of its own" },
  { id: "limit", label: "Limit", hint: "allowed under rate limits" },
  { id: "ask", label: "Ask", hint: "a human approves each call" },
  { id: "deny", label: "Deny", hint: "refused" },
  { id: "hide", label: "Hide", hint: "removed from the tool list and refused" },
];

const CLASS_PILL: Record<string, string> = {
  read: "pill-allow",
  write: "pill-pending",
  communication: "pill-pending",
};

export function CreatePolicy({ server }: { server: string }) {
  const [starter, setStarter] = useState<Starter | null>(null);
  const [choices, setChoices] = useState<Choices>({});
  const [error, setError] = useState<unknown>(null);
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<SavedPolicy | null>(null);

  useEffect(() => {
    setStarter(null);
    setError(null);
    api.starter(server).then((s) => {
      setStarter(s);
      setChoices(proposedChoices(s));
    }, setError);
  }, [server]);

  const text = useMemo(() => (starter ? policyText(starter, choices) : ""), [starter, choices]);

  useEffect(() => {
    if (!text) return;
    let live = true;
    api.validate(text).then(
      (v) => live && setDiagnostics(v.diagnostics),
      () => live && setDiagnostics([]),
    );
    return () => {
      live = false;
    };
  }, [text]);

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      setSaved(await api.createPolicy(server, text));
    } catch (e) {
      if (e instanceof ApiError && e.diagnostics.length) setDiagnostics(e.diagnostics);
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="create-policy">
      <div class="view-head">
        <h1>Create a policy for {server}</h1>
        <p class="muted">
          Each tool is classified from its annotations, name, description and schema. Review every row: the classes are a starting point, and
          a server's annotations are hints, not truths. Tools the server adds later ask a human.
        </p>
      </div>
      <ErrorNote error={error} />
      {!starter && !error ? <p class="muted">Asking {server} for its tools…</p> : null}
      {starter ? (
        <>
          <p class="muted small">
            In force now: <code>{starter.current}</code>. Saving writes <code>{starter.file}</code> and points the server's <code>policy</code>{" "}
            at it; every file it changes is backed up first.
          </p>
          <table class="table starter" data-testid="starter">
            <thead>
              <tr>
                <th>Tool</th>
                <th>Class</th>
                <th>Why</th>
                {CHOICES.map((c) => (
                  <th key={c.id} class="choice" title={c.hint}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {starter.rows.map((row) => (
                <tr key={row.tool} data-tool={row.tool}>
                  <td>
                    <code>{row.tool}</code>
                  </td>
                  <td>
                    <span class={`pill ${CLASS_PILL[row.class] ?? "pill-deny"}`}>{row.class}</span>
                    <div class="muted small">{row.confidence} confidence</div>
                  </td>
                  <td class="small">
                    {row.evidence}
                    {row.conflict ? <div class="error-text">annotations disagree: not trusted</div> : null}
                  </td>
                  {CHOICES.map((c) => (
                    <td key={c.id} class="choice">
                      <input
                        type="radio"
                        name={`choice-${row.tool}`}
                        value={c.id}
                        checked={(choices[row.tool] ?? row.proposed) === c.id}
                        aria-label={`${c.label} ${row.tool}`}
                        onChange={() => setChoices((cs) => ({ ...cs, [row.tool]: c.id }))}
                      />
                      {row.proposed === c.id ? <span class="proposed" title="proposed">•</span> : null}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <div class="policy-head">
            <h2>The policy</h2>
            <div class="buttons">
              <button type="button" class="btn" onClick={() => setChoices(proposedChoices(starter))}>
                Back to the proposal
              </button>
              <button type="button" class="btn approve" disabled={saving || diagnostics.length > 0} onClick={save}>
                {saving ? "Saving…" : "Save policy"}
              </button>
            </div>
          </div>
          {saved ? (
            <p class="ok-note" role="status" data-testid="policy-saved">
              Saved <code>{saved.policy}</code>
              {saved.config ? (
                <>
                  {" "}
                  and pointed <code>{server}</code> at it in <code>{saved.config}</code>
                </>
              ) : null}
              ; it is in force now. Backups in <code>{saved.backups}</code>.
            </p>
          ) : null}
          {diagnostics.length > 0 ? (
            <ul class="diagnostics" data-testid="diagnostics">
              {diagnostics.map((d, i) => (
                <li key={i}>
                  line {d.line}:{d.column} {d.message}
                </li>
              ))}
            </ul>
          ) : null}
          <pre class="json preview" data-testid="policy-preview" aria-label="Policy preview">
            {text}
          </pre>
        </>
      ) : null}
    </div>
  );
}
