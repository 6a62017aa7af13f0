// The approval passphrase: whether it is set, and a form to set it (the first time) or change it
// (with the current one). Rules with `"approval": "passphrase"` are approved only with it, so an
// agent that holds the API token cannot approve its own calls (docs/security.md). The fields are
// cleared after every attempt; nothing keeps the passphrase.

import { useEffect, useState } from "preact/hooks";
import type { PassphraseState } from "../bindings/api";
import { api } from "../api";
import { ErrorNote } from "./Empty";
import { formatTime } from "../format";

export function PassphrasePanel() {
  const [state, setState] = useState<PassphraseState | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  useEffect(() => {
    api.passphrase().then(setState, setError);
  }, []);
  if (!state) return <ErrorNote error={error} />;
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(false);
    try {
      if (next !== again) throw new Error("the two new passphrases differ");
      const s = await api.setPassphrase({ passphrase: next, current: state.set ? current : undefined, source: window.__TAURI__ ? "window" : "browser" });
      setState(s);
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setCurrent("");
      setNext("");
      setAgain("");
    }
  };
  const field = (label: string, value: string, set: (v: string) => void) => (
    <label class="field">
      <span>{label}</span>
      <input type="password" autocomplete="off" value={value} aria-label={label} onInput={(e) => set((e.currentTarget as HTMLInputElement).value)} />
    </label>
  );
  return (
    <section class="section" aria-labelledby="passphrase-title">
      <h2 id="passphrase-title">Approval passphrase</h2>
      <p class="muted" data-testid="passphrase-state">
        {state.set
          ? `Set${state.setMs ? ` ${formatTime(state.setMs)}` : ""}. Calls of rules with "approval": "passphrase" are approved only with it. If you did not set it, change it now.`
          : `Not set. Rules with "approval": "passphrase" cannot be approved until it is; an agent holding the API token cannot approve them. At least ${state.minChars} characters.`}
      </p>
      <form class="decide" onSubmit={(e) => void submit(e)}>
        {state.set ? field("Current passphrase", current, setCurrent) : null}
        {field("New passphrase", next, setNext)}
        {field("Repeat the new passphrase", again, setAgain)}
        <div class="buttons">
          <button type="submit" class="btn">
            {state.set ? "Change passphrase" : "Set passphrase"}
          </button>
        </div>
      </form>
      {done ? <p role="status">The passphrase is set.</p> : null}
      <ErrorNote error={error} />
    </section>
  );
}
