import { describe, expect, it } from "vitest";
import { tokenFromHash } from "./transport";

describe("tokenFromHash", () => {
  it("reads the token printed by airlock serve", () => {
    expect(tokenFromHash("#token=abc%2Bdef")).toBe("abc+def");
    expect(tokenFromHash("#/history?token=t1&x=2")).toBe("t1");
  });
  it("finds nothing in an ordinary route", () => {
    expect(tokenFromHash("#/approvals")).toBeNull();
    expect(tokenFromHash("")).toBeNull();
  });
});
