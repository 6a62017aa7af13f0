import { describe, expect, it } from "vitest";
import { approvalIdOf, createPolicyHref, createPolicyServerOf } from "./route";

describe("approvalIdOf", () => {
  it("reads the id of #/approvals/<id>", () => {
    expect(approvalIdOf("#/approvals/01JABC")).toBe("01JABC");
    expect(approvalIdOf("#/approvals/a%20b")).toBe("a b");
  });
  it("is null without an id or on other views", () => {
    expect(approvalIdOf("#/approvals")).toBeNull();
    expect(approvalIdOf("#/approvals/")).toBeNull();
    expect(approvalIdOf("#/history/42")).toBeNull();
    expect(approvalIdOf("")).toBeNull();
  });
  it("keeps a malformed escape as written", () => {
    expect(approvalIdOf("#/approvals/%E0%A4%A")).toBe("%E0%A4%A");
  });
});

describe("createPolicyServerOf", () => {
  it("reads the server of #/policies/create/<server> and round-trips its href", () => {
    expect(createPolicyServerOf("#/policies/create/demo")).toBe("demo");
    expect(createPolicyServerOf(createPolicyHref("my server"))).toBe("my server");
  });
  it("is null on the Policies list and other views", () => {
    expect(createPolicyServerOf("#/policies")).toBeNull();
    expect(createPolicyServerOf("#/policies/create/")).toBeNull();
    expect(createPolicyServerOf("#/servers")).toBeNull();
  });
});
