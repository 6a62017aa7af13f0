import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses named events split across chunks and skips comments", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\n\nevent: appro")).toEqual([]);
    expect(p.push('val\ndata: {"id":"a"}\n')).toEqual([]);
    expect(p.push("\n")).toEqual([{ event: "approval", data: '{"id":"a"}', id: undefined }]);
  });

  it("joins multi-line data and handles CRLF split between chunks", () => {
    const p = new SseParser();
    expect(p.push("data: one\r")).toEqual([]);
    expect(p.push("\ndata: two\r\n\r\n")).toEqual([{ event: "message", data: "one\ntwo", id: undefined }]);
  });

  it("does not emit an event without data", () => {
    const p = new SseParser();
    expect(p.push("event: status\n\n")).toEqual([]);
  });
});
