// Import from your agents: the same flow as `airlock import`, through the same code. The servers
// found in the agents' configs (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf), chosen
// with checkboxes; the diff of every file the import changes, secrets masked; Apply (each server
// gets a starter policy, every file is backed up first); Undo restores the files.

import { useState } from "preact/hooks";
import type { ImportDone, ImportPreview, ImportScan } from "../bindings/onboarding";
import { api } from "../api";
import { ErrorNote } from "../components/Empty";
import { ApiError } from "../transport";

export function Import() {
  const [scan, setScan] = useState<ImportScan | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [done, setDone] = useState<ImportDone | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = async (what: string, f: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const find = () =>
    run("scan", async () => {
      const s = await api.importScan();
      setScan(s);
      setChosen(s.servers.map((x) => x.id));
      setPreview(null);
      setDone(null);
    });
  const review = () => run("preview", async () => setPreview(await api.importPreview(chosen)));
  const apply = () =>
    run("apply", async () => {
      setDone(await api.importApply(chosen));
      setPreview(null);
      setScan(await api.importScan());
    });
  const undo = (force = false) =>
    run("undo", async () => {
      setDone(await api.importUndo(force));
      setScan(await api.importScan());
    });
  // Undo refuses to overwrite files edited since the import; the user may insist.
  const editedSince = error instanceof ApiError && error.code === "conflict" && /changed since the import/.test(error.message);

  const toggle = (id: string) => {
    setPreview(null);
    setChosen((c) => (c.includes(id) ? c.filter((x) => x !== id) : [...c, id]));
  };

  return (
    <section class="section import" aria-labelledby="import-title" data-testid="import">
      <h2 id="import-title">Import from your agents</h2>
      <p class="muted">
        Moves the MCP servers of your agents into Airlock, each with a starter policy, and points each agent's entry at Airlock. You see every change
        before it is made; every file is backed up first.
      </p>
      <div class="buttons">
        <button type="button" class="btn" onClick={find} disabled={busy !== null}>
          {busy === "scan" ? "Looking…" : scan ? "Look again" : "Find my agents' servers"}
        </button>
        <button type="button" class="btn" onClick={() => undo()} disabled={busy !== null}>
          {busy === "undo" ? "Undoing…" : "Undo the last import"}
        </button>
      </div>
      <ErrorNote error={error} />
      {editedSince ? (
        <button type="button" class="btn deny" onClick={() => undo(true)} disabled={busy !== null}>
          Restore anyway (the later edits are lost)
        </button>
      ) : null}
      {scan ? (
        <div class="import-found">
          <p class="muted small">
            {scan.files.length} agent config file(s) found; {scan.already} server(s) already go through Airlock. Servers are added to{" "}
            <code>{scan.configFile}</code>.
          </p>
          {scan.unreadable.map((u) => (
            <p key={u} class="error-note">
              Skipped {u}
            </p>
          ))}
          {scan.servers.length === 0 ? <p class="muted">Nothing to import.</p> : null}
          {scan.servers.length > 0 ? (
            <table class="table" data-testid="import-servers">
              <thead>
                <tr>
                  <th>
                    <span class="sr-only">Import</span>
                  </th>
                  <th>Server</th>
                  <th>Agent</th>
                  <th>Entry (secrets masked)</th>
                </tr>
              </thead>
              <tbody>
                {scan.servers.map((s) => (
                  <tr key={s.id} data-import-server={s.name}>
                    <td>
                      <input type="checkbox" checked={chosen.includes(s.id)} onChange={() => toggle(s.id)} aria-label={`Import ${s.name} from ${s.client}`} />
                    </td>
                    <td>
                      <code>{s.name}</code>
                    </td>
                    <td class="small">{s.file}</td>
                    <td>
                      <code class="small entry">{s.entry}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {scan.servers.length > 0 ? (
            <div class="buttons">
              <button type="button" class="btn" onClick={review} disabled={busy !== null || chosen.length === 0}>
                {busy === "preview" ? "Preparing…" : "Review the changes"}
              </button>
            </div>
          ) : null}
        </div>
      ) : null}
      {preview ? (
        <div class="import-preview" data-testid="import-preview">
          {preview.skipped.map((s) => (
            <p key={s} class="note">
              {s}
            </p>
          ))}
          {preview.diffs.map((d) => (
            <pre key={d.path} class="json diff" aria-label={`Changes to ${d.path}`}>
              {d.diff}
            </pre>
          ))}
          <p class="muted small">Each added server is asked for its tools, and gets a starter policy in <code>policies/</code>.</p>
          <button type="button" class="btn approve" onClick={apply} disabled={busy !== null || preview.added.length + preview.diffs.length === 0}>
            {busy === "apply" ? "Importing…" : `Import ${preview.added.length} server(s)`}
          </button>
        </div>
      ) : null}
      {done ? (
        <div class="ok-note" role="status" data-testid="import-done">
          <ul>
            {done.lines.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
          {done.restart ? <p>Restart Airlock and your agents to use the changed entries.</p> : null}
        </div>
      ) : null}
    </section>
  );
}
