// The window's live state and how it stays current: one subscription to `GET /api/events` (read
// with fetch, since EventSource cannot send the Authorization header), reconnecting with backoff,
// and one table of what each event changes. Views read the state (`Live`) and never subscribe
// themselves, so a new view gets live updates by reading it.
//
// What each event does:
// - `approval`: the request joins, changes in or leaves the pending list (a request leaving is
//   kept in `settled`, so a notification's link can say how it was decided); the status is
//   fetched again, as its pending count changed.
// - `status`: replaces the status (header, pause switch, Servers view).
// - `call`: counts as a new call (History offers to show the new ones).
// - every (re)connection: the status and the pending list are fetched again, for what the stream
//   missed while it was down.

import { useCallback, useEffect, useState } from "preact/hooks";
import type { Approval, Call, Event, Status } from "./bindings/api";
import { api } from "./api";
import { SseParser } from "./sse";
import { type ApiInfo, apiInfo } from "./transport";

export type StreamState = "connecting" | "open" | "retrying" | "unauthorized";

/** What every view shares, kept current by the event stream. */
export interface LiveState {
  status: Status | null;
  approvals: Approval[];
  /** False until the first list of pending approvals has arrived (an empty list means none yet). */
  approvalsLoaded: boolean;
  /** Requests seen leaving "pending" while this page was open, by id (their final state). */
  settled: Record<string, Approval>;
  /** The latest call event. */
  lastCall: Call | null;
  /** Call events seen since the page opened (History compares it with what it has shown). */
  callEvents: number;
}

export interface Live extends LiveState {
  /** Fetches the status and the pending list again (after a decision, or a reconnection). */
  reload: () => void;
  stream: StreamState;
}

export const INITIAL: LiveState = {
  status: null,
  approvals: [],
  approvalsLoaded: false,
  settled: {},
  lastCall: null,
  callEvents: 0,
};

/** The state after `event`. */
export function applyEvent(state: LiveState, event: Event): LiveState {
  switch (event.event) {
    case "approval": {
      const a = event.data;
      const rest = state.approvals.filter((x) => x.id !== a.id);
      if (a.status === "pending") {
        return { ...state, approvals: [...rest, a].sort((x, y) => x.createdMs - y.createdMs) };
      }
      return { ...state, approvals: rest, settled: { ...state.settled, [a.id]: a } };
    }
    case "status":
      return { ...state, status: event.data };
    case "call":
      return { ...state, lastCall: event.data, callEvents: state.callEvents + 1 };
  }
}

/** Whether the status must be fetched again after `event` (its pending count changed). */
export function staleStatus(event: Event): boolean {
  return event.event === "approval";
}

/** Backoff between reconnections: doubles from 500 ms up to 10 s, and starts again once a connection opens. */
export function nextDelay(delay: number): number {
  return Math.min(delay * 2, 10_000);
}

export const FIRST_DELAY = 500;

/** What `followEvents` reaches the world through (tests pass their own). */
export interface StreamDeps {
  info: () => Promise<ApiInfo>;
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  sleep: (ms: number) => Promise<void>;
}

const browserDeps: StreamDeps = {
  info: apiInfo,
  fetch: (url, init) => fetch(url, init),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Follows `GET /api/events` until stopped or refused (401). `onState` reports every change, `open`
 * on each (re)connection, so callers reload what they missed; `onEvent` runs for each event. A
 * dropped or failed stream is retried after a backoff. Returns a function that stops following.
 */
export function followEvents(
  handlers: { onEvent: (event: Event) => void; onState: (state: StreamState) => void },
  deps: StreamDeps = browserDeps,
): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let delay = FIRST_DELAY;

  const run = async () => {
    while (!stopped) {
      handlers.onState("connecting");
      controller = new AbortController();
      try {
        const { baseUrl, token } = await deps.info();
        const res = await deps.fetch(`${baseUrl}/api/events`, {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          signal: controller.signal,
          cache: "no-store",
        });
        if (res.status === 401) {
          handlers.onState("unauthorized");
          return;
        }
        if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
        handlers.onState("open");
        delay = FIRST_DELAY;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const msg of parser.push(value)) {
            try {
              handlers.onEvent({ event: msg.event, data: JSON.parse(msg.data) } as Event);
            } catch (err) {
              console.warn("airlock: bad event", msg.event, err);
            }
          }
        }
      } catch (err) {
        if (stopped) return;
        console.warn("airlock: event stream interrupted", err);
      }
      if (stopped) return;
      handlers.onState("retrying");
      await deps.sleep(delay);
      delay = nextDelay(delay);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** The live state for the whole window: one subscription, shared by every view. */
export function useLive(): Live {
  const [state, setState] = useState<LiveState>(INITIAL);
  const [stream, setStream] = useState<StreamState>("connecting");

  const refreshStatus = useCallback(() => {
    api.status().then(
      (status) => setState((s) => ({ ...s, status })),
      (e) => console.warn("status", e),
    );
  }, []);

  const reload = useCallback(() => {
    refreshStatus();
    api.approvals().then(
      (approvals) => setState((s) => ({ ...s, approvals, approvalsLoaded: true })),
      (e) => console.warn("approvals", e),
    );
  }, [refreshStatus]);

  useEffect(() => {
    return followEvents({
      onState: (s) => {
        setStream(s);
        if (s === "open") reload();
      },
      onEvent: (event) => {
        setState((s) => applyEvent(s, event));
        if (staleStatus(event)) refreshStatus();
      },
    });
  }, [reload, refreshStatus]);

  return { ...state, reload, stream };
}
