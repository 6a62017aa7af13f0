import { describe, expect, it } from "vitest";
import type { Approval } from "./bindings/api";
import { DEFAULT_CHOICE, argsScope, pathArguments, scopeSentence } from "./components/Scope";

const approval = (over: Partial<Approval>): Approval => ({
  id: "a1",
  createdMs: 0,
  expiresMs: 600_000,
  status: "pending",
  grant: "default",
  agent: "claude-code (no token)",
  tokenless: true,
  server: "files",
  tool: "write_file",
  arguments: { path: "/work/app/notes.txt", content: "x" },
  rule: "/tools/write_file/action",
  client: { name: "claude-code", version: "2.1.0" },
  sessionId: "s1",
  waiting: 1,
  needsPassphrase: false,
  ...over,
});

describe("what a decision covers", () => {
  it("is this request only by default, and the same arguments when remembered", () => {
    expect(scopeSentence(approval({}), DEFAULT_CHOICE)).toBe("This request only: the next call asks again.");
    const ten = { ...DEFAULT_CHOICE, remember: "minutes" as const };
    expect(scopeSentence(approval({}), ten)).toBe(
      "Also covers write_file on files for any tokenless agent that says it is “claude-code”, with these arguments only, for 10 min.",
    );
    expect(argsScope(ten)).toBeUndefined();
  });

  it("widens only when chosen, and a one-off decision never widens", () => {
    const any = { ...DEFAULT_CHOICE, remember: "always" as const, args: "any" as const };
    expect(argsScope(any)).toEqual({ kind: "any" });
    expect(argsScope({ ...any, remember: "once" })).toBeUndefined();
    expect(scopeSentence(approval({ grant: "ci", tokenless: false, agent: "ci · claude-code" }), any)).toBe(
      "Also covers write_file on files for grant ci, with any arguments, until revoked.",
    );
  });

  it("offers a directory for absolute path arguments only", () => {
    expect(pathArguments(approval({}))).toEqual([{ name: "path", dir: "/work/app" }]);
    expect(pathArguments(approval({ arguments: { path: "relative/x" } }))).toEqual([]);
  });
});
