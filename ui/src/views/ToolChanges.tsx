// Tools: the tool definitions Airlock pinned, and a card for each tool it holds because a server
// added it or changed its definition since it was approved (docs/pinning.md). Each card shows the
// change side by side, the approved definition on the left and the one listed now on the right:
// the description word by word, then the rest of the definition (schemas, annotations) line by
// line. Accept makes the tool visible and callable again; Reject keeps it refused while the server
// lists this definition. A decision names the hash shown, so a definition that moved again
// meanwhile is refused by the gate rather than accepted unseen.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { DiffPart, PinDecision, ToolPin } from "../bindings/pins";
import { api } from "../api";
import { Empty, ErrorNote } from "../components/Empty";
import { formatTime } from "../format";
import type { Live } from "../live";

const short = (hash?: string) => (hash ? hash.slice(0, 12) : "—");

/** One side of a diff: the parts both sides share plus this side's own (`delete` on the left,
 * `insert` on the right), marked. */
function Side({ parts, own, lines }: { parts: DiffPart[]; own: "delete" | "insert"; lines: boolean }) {
  const shown = parts.filter((p) => p.tag === "equal" || p.tag === own);
  const Mark = own === "delete" ? "del" : "ins";
  const piece = (p: DiffPart, i: number) =>
    p.tag === "equal" ? (
      <span key={i}>{p.text}</span>
    ) : (
      <Mark key={i} class={`diff-${own}`}>
        {p.text}
      </Mark>
    );
  if (lines) {
    return (
      <pre class="diff-text">
        {shown.map((p, i) => (
          <div key={i} class={p.tag === "equal" ? "diff-line" : `diff-line diff-line-${own}`}>
            {piece(p, i)}
          </div>
        ))}
      </pre>
    );
  }
  return <p class="diff-text">{shown.length ? shown.map(piece) : <span class="muted">(no description)</span>}</p>;
}

function ChangeCard(props: { pin: ToolPin; onDecided: () => void }) {
  const { pin } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const decide = async (accept: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const body: PinDecision = { hash: pin.seenHash, source: window.__TAURI__ ? "window" : "browser" };
      await (accept ? api.acceptTool(pin.server, pin.tool, body) : api.rejectTool(pin.server, pin.tool, body));
      props.onDecided();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const headline =
    pin.state === "new"
      ? "is a new tool since this server was pinned"
      : pin.state === "rejected"
        ? "was rejected; the server still lists this definition"
        : "changed since it was approved";
  return (
    <article class="card tool-change" data-pin-tool={pin.tool} data-pin-server={pin.server} aria-labelledby={`pin-${pin.server}-${pin.tool}`}>
      <header class="approval-head">
        <div>
          <h3 id={`pin-${pin.server}-${pin.tool}`} class="card-title">
            <span class="tool">{pin.tool}</span> <span class="muted">on</span> <span class="server">{pin.server}</span>{" "}
            <span class="muted">{headline}</span>
          </h3>
          <p class="who muted">
            Hidden from agents and refused until you decide · listed {formatTime(pin.changedMs)}
          </p>
        </div>
        <span class={`pill ${pin.state === "rejected" ? "pill-deny" : "pill-pending"}`}>{pin.state}</span>
      </header>
      <div class="diff" role="group" aria-label="What changed">
        <div class="diff-col">
          <h4>
            Approved <code class="muted">{short(pin.pinnedHash)}</code>
          </h4>
          {pin.pinned ? (
            <>
              <Side parts={pin.descriptionDiff} own="delete" lines={false} />
              <Side parts={pin.schemaDiff} own="delete" lines />
            </>
          ) : (
            <p class="muted">Nothing: the server did not have this tool when its tools were approved.</p>
          )}
        </div>
        <div class="diff-col">
          <h4>
            Listed now <code class="muted">{short(pin.seenHash)}</code>
          </h4>
          <Side parts={pin.descriptionDiff} own="insert" lines={false} />
          <Side parts={pin.schemaDiff} own="insert" lines />
        </div>
      </div>
      <ErrorNote error={error} />
      <div class="buttons">
        {pin.state !== "rejected" ? (
          <button type="button" class="btn deny" disabled={busy} onClick={() => decide(false)} aria-label={`Reject ${pin.tool}`}>
            Reject
          </button>
        ) : null}
        <button type="button" class="btn approve" disabled={busy} onClick={() => decide(true)} aria-label={`Accept ${pin.tool}`}>
          Accept
        </button>
      </div>
    </article>
  );
}

export function ToolChanges({ live }: { live: Live }) {
  const [pins, setPins] = useState<ToolPin[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => {
    api.toolPins().then(
      (list) => {
        setPins(list);
        setError(null);
      },
      setError,
    );
  }, []);
  // The gate sends a status event whenever a pin changes.
  useEffect(load, [load, live.status]);

  if (!pins) return error ? <ErrorNote error={error} /> : <p class="muted">Loading…</p>;
  const held = pins.filter((p) => p.state !== "pinned");
  const pinned = pins.filter((p) => p.state === "pinned");
  return (
    <div class="tool-pins">
      <div class="view-head">
        <h2>Tool changes</h2>
        <p class="muted">
          Each server's tools are pinned the first time an agent lists them; a new or changed tool waits here for you.
        </p>
      </div>
      <ErrorNote error={error} />
      {held.length === 0 ? (
        <Empty title="No tool changed since it was approved." />
      ) : (
        held.map((p) => <ChangeCard key={`${p.server}/${p.tool}/${p.seenHash}`} pin={p} onDecided={load} />)
      )}
      <section class="section" aria-labelledby="pinned-title">
        <h3 id="pinned-title">Pinned</h3>
        {pinned.length === 0 ? (
          <p class="muted">No tools pinned yet.</p>
        ) : (
          <table class="table" data-testid="pinned-tools">
            <thead>
              <tr>
                <th>Server</th>
                <th>Tool</th>
                <th>Hash</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {pinned.map((p) => (
                <tr key={`${p.server}/${p.tool}`} data-pinned-tool={p.tool}>
                  <td>{p.server}</td>
                  <td class="tool">{p.tool}</td>
                  <td>
                    <code>{short(p.seenHash)}</code>
                  </td>
                  <td class="muted">{formatTime(p.changedMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
