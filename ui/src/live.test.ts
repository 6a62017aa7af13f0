import { describe, expect, it } from "vitest";
import type { Approval, Call, Event, Status } from "./bindings/api";
import { FIRST_DELAY, INITIAL, type StreamDeps, type StreamState, applyEvent, followEvents, staleStatus } from "./live";

function approval(id: string, status: Approval["status"], createdMs: number): Approval {
  return {
    id,
    createdMs,
    expiresMs: createdMs + 60_000,
    status,
    grant: "default",
    agent: "claude-code (no token)",
    tokenless: true,
    server: "pusher",
    tool: "terminate_user_connections",
    arguments: { userId: "u-42" },
    rule: "/tools/terminate_user_connections",
    sessionId: "s1",
    waiting: 1,
    needsPassphrase: false,
  };
}

const call = { id: 7, tool: "list_channels" } as Call;
const status = { version: "0.1.0", paused: true, pending: 0, servers: [], configWarnings: [] } as Status;

describe("applyEvent", () => {
  it("keeps the pending list in creation order and moves decided requests to settled", () => {
    let s = applyEvent(INITIAL, { event: "approval", data: approval("b", "pending", 20) });
    s = applyEvent(s, { event: "approval", data: approval("a", "pending", 10) });
    expect(s.approvals.map((a) => a.id)).toEqual(["a", "b"]);
    expect(s.settled).toEqual({});

    s = applyEvent(s, { event: "approval", data: approval("a", "approved", 10) });
    expect(s.approvals.map((a) => a.id)).toEqual(["b"]);
    expect(s.settled.a?.status).toBe("approved");
  });

  it("replaces the status and counts calls", () => {
    let s = applyEvent(INITIAL, { event: "status", data: status });
    expect(s.status?.paused).toBe(true);
    s = applyEvent(s, { event: "call", data: call });
    s = applyEvent(s, { event: "call", data: { ...call, id: 8 } });
    expect(s.callEvents).toBe(2);
    expect(s.lastCall?.id).toBe(8);
    expect(INITIAL.callEvents).toBe(0);
  });

  it("fetches the status again only when the pending count may have changed", () => {
    expect(staleStatus({ event: "approval", data: approval("a", "denied", 1) })).toBe(true);
    expect(staleStatus({ event: "status", data: status })).toBe(false);
    expect(staleStatus({ event: "call", data: call })).toBe(false);
  });
});

/** A response whose body arrives in the given chunks, then ends. */
function streamOf(chunks: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const enc = new TextEncoder();
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
}

describe("followEvents", () => {
  it("reconnects with backoff, delivers events, starts the backoff again after a connection, and stops at 401", async () => {
    const answers: (() => Promise<Response>)[] = [
      () => Promise.reject(new TypeError("network down")),
      () => Promise.resolve(new Response("oops", { status: 500 })),
      () =>
        Promise.resolve(
          streamOf([": keep-alive\n\nevent: call\ndata: {\"id\":7,", '"tool":"list_channels"}\n\n', "event: status\ndata: not json\n\n"]),
        ),
      () => Promise.resolve(new Response("", { status: 401 })),
    ];
    const requests: { url: string; auth: string | undefined }[] = [];
    const sleeps: number[] = [];
    const states: StreamState[] = [];
    const events: Event[] = [];
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    const deps: StreamDeps = {
      info: () => Promise.resolve({ baseUrl: "http://127.0.0.1:4141", token: "t0k" }),
      fetch: (url, init) => {
        requests.push({ url, auth: (init.headers as Record<string, string>).Authorization });
        const next = answers.shift();
        return next ? next() : Promise.reject(new Error("no more answers"));
      },
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    };

    followEvents(
      {
        onEvent: (e) => events.push(e),
        onState: (s) => {
          states.push(s);
          if (s === "unauthorized") done();
        },
      },
      deps,
    );
    await finished;

    expect(requests).toHaveLength(4);
    expect(requests[0]).toEqual({ url: "http://127.0.0.1:4141/api/events", auth: "Bearer t0k" });
    expect(states).toEqual(["connecting", "retrying", "connecting", "retrying", "connecting", "open", "retrying", "connecting", "unauthorized"]);
    // 500 ms, doubled after the second failure, and back to 500 ms once a stream had opened.
    expect(sleeps).toEqual([FIRST_DELAY, FIRST_DELAY * 2, FIRST_DELAY]);
    // The event split across chunks arrives whole; the one whose data is not JSON is skipped.
    expect(events).toEqual([{ event: "call", data: { id: 7, tool: "list_channels" } }]);
  });
});
