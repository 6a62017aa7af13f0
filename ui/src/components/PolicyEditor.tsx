// A CodeMirror 6 JSON editor whose diagnostics come from Airlock's own validator (the same strict
// parser `airlock check` uses), shown as underlines and gutter markers at their line.

import { useEffect, useRef } from "preact/hooks";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { bracketMatching, defaultHighlightStyle, foldGutter, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from "@codemirror/lint";
import { EditorState, type Text } from "@codemirror/state";
import { EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import type { Diagnostic } from "../bindings/api";

/** Maps a 1-based line/column diagnostic to a document range covering the token there. */
export function rangeOf(doc: Text, d: Diagnostic): { from: number; to: number } {
  const lineNo = Math.min(Math.max(1, d.line), doc.lines);
  const line = doc.line(lineNo);
  const from = Math.min(line.from + Math.max(0, d.column - 1), line.to);
  const rest = doc.sliceString(from, line.to);
  const token = /^("(?:\\.|[^"\\])*"|[\w.+-]+|\S)/.exec(rest);
  const to = token ? from + token[0].length : Math.min(line.to, from + 1);
  return { from, to: Math.max(to, from) };
}

/**
 * `text` is the initial document and, when `resetKey` changes, the text to replace it with; edits are
 * reported through `onChange` and are never fed back in.
 */
export function PolicyEditor(props: { text: string; resetKey: number; diagnostics: Diagnostic[]; onChange: (text: string) => void; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: props.text,
        extensions: [
          lineNumbers(),
          foldGutter(),
          lintGutter(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          history(),
          indentOnInput(),
          bracketMatching(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          json(),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ "aria-label": props.label }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChange.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // A new editor per policy (the parent keys this component by policy id).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // The editor owns its document: typing never flows back in through `text` (an echo of a stale
  // keystroke would overwrite newer ones, and each echo's own change event re-rendered the parent,
  // which looped). The parent replaces the text only on purpose (Revert), by bumping `resetKey`.
  const firstReset = useRef(true);
  useEffect(() => {
    if (firstReset.current) {
      firstReset.current = false;
      return;
    }
    const v = view.current;
    if (v && v.state.doc.toString() !== props.text) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.text } });
    }
    // Only a new resetKey replaces the document; `text` alone is the editor's own echo.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.resetKey]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const diags: CmDiagnostic[] = props.diagnostics.map((d) => ({
      ...rangeOf(v.state.doc, d),
      severity: "error",
      message: d.hint ? `${d.message} (${d.hint})` : d.message,
      source: d.pointer || undefined,
    }));
    v.dispatch(setDiagnostics(v.state, diags));
  }, [props.diagnostics]);

  return <div class="editor" ref={host} />;
}
