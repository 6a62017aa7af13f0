import { describe, expect, it } from "vitest";
import { formatExpiry, formatLatency, formatRemaining } from "./format";

describe("format", () => {
  it("counts down", () => {
    expect(formatRemaining(299_001)).toBe("5:00");
    expect(formatRemaining(61_000)).toBe("1:01");
    expect(formatRemaining(3_723_000)).toBe("1:02:03");
    expect(formatRemaining(0)).toBe("expired");
  });
  it("says when a remembered decision ends", () => {
    expect(formatExpiry(undefined)).toBe("never");
    expect(formatExpiry(10 * 60_000, 0)).toBe("in 10 min");
    expect(formatExpiry(5 * 3600_000, 0)).toBe("in 5 h");
  });
  it("formats latencies", () => {
    expect(formatLatency(820)).toBe("820 µs");
    expect(formatLatency(12_345)).toBe("12.3 ms");
    expect(formatLatency(undefined)).toBe("–");
  });
});
