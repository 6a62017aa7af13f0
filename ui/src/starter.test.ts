import { describe, expect, it } from "vitest";
import type { Starter } from "./bindings/onboarding";
import { buildPolicy, policyText, proposedChoices } from "./starter";

const starter: Starter = {
  server: "demo",
  file: "/c/policies/demo.json",
  current: "(no policy)",
  base: { version: "1", default: "require_approval" },
  rows: [
    {
      tool: "list_items",
      class: "read",
      confidence: "high",
      evidence: "name verb `list`",
      conflict: false,
      proposed: "limit",
      options: { allow: { reason: "r" }, limit: { reason: "r", limits: [] }, ask: { action: "require_approval", reason: "r" }, deny: { action: "deny", reason: "r" } },
    },
    {
      tool: "delete_item",
      class: "destructive",
      confidence: "high",
      evidence: "name verb `delete`",
      conflict: false,
      proposed: "ask",
      options: { allow: { reason: "d" }, limit: { reason: "d", limits: [] }, ask: { action: "require_approval", reason: "d" }, deny: { action: "deny", reason: "d" } },
    },
  ],
};

describe("buildPolicy", () => {
  it("uses the proposed rule of each tool by default", () => {
    const policy = buildPolicy(starter, proposedChoices(starter));
    expect(policy).toEqual({
      version: "1",
      default: "require_approval",
      tools: { list_items: { reason: "r", limits: [] }, delete_item: { action: "require_approval", reason: "d" } },
    });
  });
  it("puts the chosen rule under tools and hidden tools under hide only", () => {
    const policy = buildPolicy(starter, { list_items: "hide", delete_item: "deny" });
    expect(policy.hide).toEqual(["list_items"]);
    expect(policy.tools).toEqual({ delete_item: { action: "deny", reason: "d" } });
  });
  it("writes two-space JSON with a final newline", () => {
    expect(policyText(starter, {}).endsWith("}\n")).toBe(true);
    expect(policyText(starter, {})).toContain('\n  "version": "1",');
  });
});
