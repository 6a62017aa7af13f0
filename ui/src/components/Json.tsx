// Readable, highlighted JSON (monospace, two-space indent). Text only: values are never parsed as HTML.

import type { JSX } from "preact";

const TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

export function Json({ value, label }: { value: unknown; label?: string }) {
  const text = JSON.stringify(value, null, 2) ?? "undefined";
  const parts: (string | JSX.Element)[] = [];
  let last = 0;
  let i = 0;
  for (const m of text.matchAll(TOKEN)) {
    const at = m.index ?? 0;
    if (at > last) parts.push(text.slice(last, at));
    const cls = m[1] ? (m[2] ? "j-key" : "j-str") : m[3] ? "j-lit" : "j-num";
    parts.push(<span class={cls} key={i++}>{m[1] ?? m[0]}</span>);
    if (m[1] && m[2]) parts.push(m[2]);
    last = at + m[0].length;
  }
  parts.push(text.slice(last));
  return (
    <pre class="json" aria-label={label ?? "arguments"} tabIndex={0}>
      {parts}
    </pre>
  );
}
