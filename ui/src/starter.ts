// The policy a Create-a-policy review makes: the starter's base, each tool's chosen rule under
// `tools`, hidden tools under `hide`. The rules themselves come from the gate (the classifier's
// starter, `GET /api/servers/<name>/starter`); this only puts the chosen ones together.

import type { JsonValue } from "./bindings/api";
import type { Choice, Starter } from "./bindings/onboarding";

export type Choices = Record<string, Choice>;

/** Each tool's choice as the starter proposes it. */
export function proposedChoices(starter: Starter): Choices {
  return Object.fromEntries(starter.rows.map((r) => [r.tool, r.proposed]));
}

/** The policy for `choices` (a tool without a choice keeps the proposed one). */
export function buildPolicy(starter: Starter, choices: Choices): { [key: string]: JsonValue } {
  const base = (starter.base && typeof starter.base === "object" && !Array.isArray(starter.base) ? starter.base : {}) as {
    [key: string]: JsonValue;
  };
  const tools: { [key: string]: JsonValue } = {};
  const hide: string[] = [];
  for (const row of starter.rows) {
    const choice = choices[row.tool] ?? row.proposed;
    if (choice === "hide") hide.push(row.tool);
    else tools[row.tool] = row.options[choice];
  }
  const policy: { [key: string]: JsonValue } = { ...base };
  if (hide.length) policy.hide = hide;
  policy.tools = tools;
  return policy;
}

/** The policy as the file is written: two-space JSON and a final newline. */
export function policyText(starter: Starter, choices: Choices): string {
  return `${JSON.stringify(buildPolicy(starter, choices), null, 2)}\n`;
}
