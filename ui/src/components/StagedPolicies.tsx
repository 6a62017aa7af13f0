// The staged-policy banner: a policy file changed on disk in a way that loosens what agents may
// do, so Airlock kept the previous version in force. Shows the semantic diff of each staged change
// (looser first) with Apply and Discard; Apply sends the revision shown, so a file changed again
// after it was shown is refused instead of applied unseen. Re-read on every status event (a staged
// change, a reload, an apply) — `status` is the live status the header keeps.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { StagedChange, Status } from "../bindings/api";
import { api } from "../api";

/** A diff sentence with its `code` spans (tool names, paths) set as code. */
function Sentence({ text }: { text: string }) {
  return (
    <>
      {text.split("`").map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}
    </>
  );
}

export function StagedPolicies({ status }: { status: Status | null }) {
  const [staged, setStaged] = useState<StagedChange[]>([]);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    api.stagedPolicies().then(setStaged, (e) => console.warn("staged policies", e));
  }, []);
  useEffect(load, [load, status]);

  if (staged.length === 0) return null;

  const act = async (s: StagedChange, verb: "apply" | "discard") => {
    setBusy(s.id);
    setError(null);
    try {
      await (verb === "apply" ? api.applyStaged(s.id, s.revision) : api.discardStaged(s.id, s.revision));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
      load();
    }
  };

  return (
    <section class="banner banner-staged" role="alert" aria-label="Staged policy changes" data-testid="staged-banner">
      {staged.map((s) => {
        const looser = s.changes.filter((c) => c.direction === "looser").length;
        return (
          <div class="staged" key={s.id} data-testid="staged-change">
            <p class="staged-head">
              <code>{s.source}</code>
              {s.servers.length > 0 ? <> ({s.servers.join(", ")})</> : null} changed on disk and would loosen what
              agents may do ({looser} looser {looser === 1 ? "change" : "changes"}). The previous version stays in
              force until you apply it.
            </p>
            <ul class="staged-diff">
              {s.changes.map((c) => (
                <li key={`${c.direction}${c.pointer}${c.text}`} class={`change-${c.direction}`}>
                  <span class="change-kind">{c.direction}</span> <Sentence text={c.text} />{" "}
                  <code class="muted">{c.pointer}</code>
                </li>
              ))}
            </ul>
            <div class="staged-actions">
              <button type="button" class="btn approve small" disabled={busy !== null} onClick={() => act(s, "apply")}>
                Apply
              </button>
              <button
                type="button"
                class="btn deny small"
                disabled={busy !== null}
                onClick={() => act(s, "discard")}
                title="Drop this version and write the policy in force back over the file"
              >
                Discard
              </button>
            </div>
          </div>
        );
      })}
      {error ? <p class="staged-error">{error}</p> : null}
    </section>
  );
}
