// What a decision covers, chosen on the approval card and said in words before the click. The
// words follow the gate's (crates/gate/src/scope.rs), which the remembered list shows after: the
// same agent (its grant; for an agent without a token its session for "this session", else the
// client name it declares), the same server and tool, and the same arguments unless the human
// widens to any arguments or to a path argument under a directory.

import type { Approval, ArgsScope, Remember } from "../bindings/api";

/** What the human chose on one card. */
export interface Choice {
  remember: Remember;
  minutes: number;
  note: string;
  args: "same" | "any" | "under";
  /** With `args: "under"`: the argument and the directory. */
  underArg: string;
  underPath: string;
}

export const DEFAULT_CHOICE: Choice = { remember: "once", minutes: 10, note: "", args: "same", underArg: "", underPath: "" };

/** String arguments holding an absolute path: what "under a directory" can be offered for. */
export function pathArguments(a: Approval): { name: string; dir: string }[] {
  const args = a.arguments;
  if (!args || typeof args !== "object" || Array.isArray(args)) return [];
  return Object.entries(args as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === "string" && e[1].startsWith("/") && !e[1].includes("[REDACTED"))
    .map(([name, value]) => ({ name, dir: value.replace(/\/[^/]*\/?$/, "") || "/" }));
}

/** The `args` of the decide request; absent for the same arguments. */
export function argsScope(c: Choice): ArgsScope | undefined {
  if (c.remember === "once" || c.args === "same") return undefined;
  if (c.args === "any") return { kind: "any" };
  return { kind: "under", argument: c.underArg, path: c.underPath };
}

function who(a: Approval, remember: Remember): string {
  if (remember === "session") return `this session of ${a.agent}`;
  if (a.tokenless) return `any tokenless agent that says it is “${a.client?.name ?? "unnamed client"}”`;
  return `grant ${a.grant}`;
}

function duration(c: Choice): string {
  switch (c.remember) {
    case "minutes":
      return `for ${c.minutes} min`;
    case "session":
      return "until the session ends";
    case "always":
      return "until revoked";
    default:
      return "";
  }
}

function argsWords(c: Choice): string {
  if (c.args === "any") return "with any arguments";
  if (c.args === "under") return `with ${c.underArg || "?"} under ${c.underPath || "?"}`;
  return "with these arguments only";
}

/** One sentence: what Approve (or Deny) with this choice covers. */
export function scopeSentence(a: Approval, c: Choice): string {
  if (c.remember === "once") return "This request only: the next call asks again.";
  return `Also covers ${a.tool} on ${a.server} for ${who(a, c.remember)}, ${argsWords(c)}, ${duration(c)}.`;
}

/** The arguments chooser (shown for remembered decisions) and the sentence. */
export function ScopeChooser({ approval, choice, onChoice }: { approval: Approval; choice: Choice; onChoice: (c: Choice) => void }) {
  const paths = pathArguments(approval);
  const pick = (value: string) => {
    if (value === "same" || value === "any") onChoice({ ...choice, args: value });
    else {
      const p = paths.find((x) => `under:${x.name}` === value);
      if (p) onChoice({ ...choice, args: "under", underArg: p.name, underPath: p.dir });
    }
  };
  const selected = choice.args === "under" ? `under:${choice.underArg}` : choice.args;
  return (
    <div class="scope">
      {choice.remember !== "once" ? (
        <div class="decide">
          <label class="field">
            <span>Arguments</span>
            <select value={selected} onChange={(e) => pick((e.currentTarget as HTMLSelectElement).value)} aria-label="Arguments covered">
              <option value="same">These arguments only</option>
              <option value="any">Any arguments</option>
              {paths.map((p) => (
                <option key={p.name} value={`under:${p.name}`}>
                  {p.name} under a directory
                </option>
              ))}
            </select>
          </label>
          {choice.args === "under" ? (
            <label class="field grow">
              <span>Directory</span>
              <input
                type="text"
                value={choice.underPath}
                aria-label="Directory covered"
                onInput={(e) => onChoice({ ...choice, underPath: (e.currentTarget as HTMLInputElement).value })}
              />
            </label>
          ) : null}
        </div>
      ) : null}
      <p class="muted" data-testid="scope">
        {scopeSentence(approval, choice)}
      </p>
    </div>
  );
}
