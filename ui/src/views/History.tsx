// History: every recorded call with filters (time range, server, tool, grant, decision, decided by),
// full-text search, cursor pagination, a chart of calls and denials, one call's details, and export.

import { Fragment } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Call, CallPage, DecidedBy, Decision, HistoryQuery, Stats } from "../bindings/api";
import { api, queryString } from "../api";
import { CallsChart, seriesFrom } from "../components/Chart";
import { Empty, ErrorNote } from "../components/Empty";
import { Json } from "../components/Json";
import { formatLatency, formatTime } from "../format";
import type { Live } from "../live";
import { download } from "../transport";

const RANGES: { id: string; label: string; ms: number | null; bucket: number }[] = [
  { id: "1h", label: "Last hour", ms: 3600_000, bucket: 60 },
  { id: "24h", label: "Last 24 hours", ms: 86_400_000, bucket: 3600 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86_400_000, bucket: 6 * 3600 },
  { id: "30d", label: "Last 30 days", ms: 30 * 86_400_000, bucket: 86_400 },
  { id: "all", label: "All time", ms: null, bucket: 86_400 },
];

// The filters offer every value of the stored vocabulary and nothing else: `satisfies` fails the
// typecheck when the generated bindings gain or lose a value.
const DECISIONS = {
  allow: "allow",
  deny: "deny",
  require_approval: "pending approval",
} satisfies Record<Decision, string>;

const DECIDED_BY_NAMES = {
  policy: "policy",
  human: "human",
  timeout: "timeout",
  remembered: "remembered",
  cancelled: "cancelled",
  disconnected: "disconnected",
  protocol: "protocol",
  restart: "restart",
  error: "error",
  paused: "paused",
  guard: "guard",
} satisfies Record<DecidedBy, string>;

interface Filters {
  range: string;
  server: string;
  tool: string;
  grant: string;
  decision: string;
  decidedBy: string;
  q: string;
}

const EMPTY: Filters = { range: "24h", server: "", tool: "", grant: "", decision: "", decidedBy: "", q: "" };

function toQuery(f: Filters, now: number): HistoryQuery {
  const r = RANGES.find((x) => x.id === f.range) ?? RANGES[1];
  return {
    from: r.ms === null ? undefined : now - r.ms,
    server: f.server || undefined,
    tool: f.tool || undefined,
    grant: f.grant || undefined,
    decision: (f.decision || undefined) as Decision | undefined,
    decidedBy: (f.decidedBy || undefined) as DecidedBy | undefined,
    q: f.q.trim() || undefined,
  };
}

function decisionClass(d: string): string {
  if (d === "allow") return "pill-allow";
  if (d === "deny") return "pill-deny";
  return "pill-pending";
}

function CallDetail({ id, onClose }: { id: number; onClose: () => void }) {
  const [call, setCall] = useState<Call | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setCall(null);
    api.call(id).then(setCall, setError);
  }, [id]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  const rows: [string, string | undefined][] = call
    ? [
        ["Time", new Date(call.timeMs).toLocaleString()],
        ["Agent", call.agent],
        ["Grant", call.grant === "default" ? "default (no token: not authenticated)" : call.grant],
        ["Client", call.client ? `${call.client.name}${call.client.version ? ` ${call.client.version}` : ""}` : undefined],
        ["Session", call.sessionId],
        ["Server", call.server],
        ["Tool", call.tool],
        ["Decision", `${call.decision} (${call.decisionKind})`],
        ["Decided by", decidedByText(call)],
        ["Rule", call.rule],
        ["Message", call.message || undefined],
        ["Approval", call.approvalId],
        ["Outcome", call.outcome],
        ["Latency", call.latencyUs === undefined ? undefined : formatLatency(call.latencyUs)],
      ]
    : [];
  return (
    <aside class="detail" role="dialog" aria-label={`Call ${id}`} data-testid="call-detail">
      <div class="detail-head">
        <h2>Call #{id}</h2>
        <button type="button" class="btn small" onClick={onClose} aria-label="Close details">
          Close
        </button>
      </div>
      <ErrorNote error={error} />
      {call ? (
        <>
          <dl class="fields">
            {rows
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => (
                <Fragment key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </Fragment>
              ))}
          </dl>
          <h3>Arguments</h3>
          <Json value={call.arguments} label="call arguments" />
        </>
      ) : null}
    </aside>
  );
}

export function History({ live }: { live: Live }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [search, setSearch] = useState("");
  const [page, setPage] = useState<CallPage | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [selected, setSelected] = useState<number | null>(null);
  const [seenCalls, setSeenCalls] = useState(live.callEvents);
  const [anchor, setAnchor] = useState(Date.now());
  const seq = useRef(0);

  // Debounce the search box.
  useEffect(() => {
    const t = setTimeout(() => setFilters((f) => (f.q === search ? f : { ...f, q: search })), 250);
    return () => clearTimeout(t);
  }, [search]);

  const query = useMemo(() => toQuery(filters, anchor), [filters, anchor]);
  const range = RANGES.find((x) => x.id === filters.range) ?? RANGES[1];

  const load = useCallback(() => {
    const mine = ++seq.current;
    setError(null);
    api.history({ ...query, limit: 50 }).then(
      (p) => mine === seq.current && setPage(p),
      (e) => mine === seq.current && setError(e),
    );
    api.stats({ ...query, bucketSeconds: range.bucket }).then(
      (s) => mine === seq.current && setStats(s),
      (e) => mine === seq.current && setError(e),
    );
    setSeenCalls(live.callEvents);
  }, [query, range.bucket, live.callEvents]);

  // Reload when the filters change (not on every live event: a notice offers that instead).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(load, [query]);

  const loadMore = async () => {
    if (!page?.nextCursor) return;
    setLoadingMore(true);
    try {
      const next = await api.history({ ...query, limit: 50, cursor: page.nextCursor });
      setPage({ items: [...page.items, ...next.items], nextCursor: next.nextCursor });
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  const chartData = useMemo(() => {
    const buckets = stats?.buckets ?? [];
    const from = query.from ?? (buckets.length ? Math.min(...buckets.map((b) => b.startMs)) : anchor - 86_400_000);
    return seriesFrom(buckets, from, anchor + 1, range.bucket * 1000);
  }, [stats, query.from, anchor, range.bucket]);

  const set = (k: keyof Filters) => (e: Event) => setFilters((f) => ({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }));
  const newCalls = live.callEvents - seenCalls;
  const servers = live.status?.servers.map((s) => s.name) ?? [];
  const tools = useMemo(() => [...new Set((stats?.buckets ?? []).map((b) => b.tool))].sort(), [stats]);
  const filtered = Object.entries(filters).some(([k, v]) => k !== "range" && v !== "");

  const exportAs = async (format: "jsonl" | "csv") => {
    try {
      await download(`/api/history/export${queryString({ ...query, format })}`, `airlock-history.${format}`);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="history">
      <div class="view-head">
        <h1>History</h1>
        <div class="buttons">
          <button type="button" class="btn small" onClick={() => exportAs("jsonl")}>
            Export JSON Lines
          </button>
          <button type="button" class="btn small" onClick={() => exportAs("csv")}>
            Export CSV
          </button>
        </div>
      </div>
      <form class="filters" role="search" aria-label="Filter history" onSubmit={(e) => e.preventDefault()}>
        <label class="field grow">
          <span>Search</span>
          <input type="search" placeholder="e.g. u-42" value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} aria-label="Search history" />
        </label>
        <label class="field">
          <span>Time</span>
          <select value={filters.range} onChange={(e) => { setAnchor(Date.now()); set("range")(e); }} aria-label="Time range">
            {RANGES.map((r) => (
              <option value={r.id} key={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Server</span>
          <select value={filters.server} onChange={set("server")} aria-label="Server">
            <option value="">any</option>
            {servers.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Tool</span>
          <input list="history-tools" value={filters.tool} onChange={set("tool")} placeholder="any" aria-label="Tool" />
          <datalist id="history-tools">
            {tools.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label class="field">
          <span>Agent</span>
          <input value={filters.grant} onChange={set("grant")} placeholder="any grant" aria-label="Grant" />
        </label>
        <label class="field">
          <span>Decision</span>
          <select value={filters.decision} onChange={set("decision")} aria-label="Decision">
            <option value="">any</option>
            {Object.entries(DECISIONS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>Decided by</span>
          <select value={filters.decidedBy} onChange={set("decidedBy")} aria-label="Decided by">
            <option value="">anyone</option>
            {Object.entries(DECIDED_BY_NAMES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {filtered ? (
          <button type="button" class="btn small" onClick={() => { setSearch(""); setFilters({ ...EMPTY, range: filters.range }); }}>
            Clear filters
          </button>
        ) : null}
      </form>
      <CallsChart data={chartData} />
      <ErrorNote error={error} />
      {newCalls > 0 ? (
        <button type="button" class="notice" onClick={() => { setAnchor(Date.now()); load(); }}>
          {newCalls} new {newCalls === 1 ? "call" : "calls"} — show
        </button>
      ) : null}
      {page && page.items.length === 0 ? (
        filtered ? (
          <Empty title="No call matches these filters.">Widen the time range or clear the filters.</Empty>
        ) : (
          <Empty title="No calls recorded in this time range.">
            Every call an agent makes through Airlock is recorded here, with its arguments (secrets redacted) and who decided it.
          </Empty>
        )
      ) : null}
      {page && page.items.length > 0 ? (
        <table class="table calls" data-testid="history">
          <thead>
            <tr>
              <th>Time</th>
              <th>Agent</th>
              <th>Server · tool</th>
              <th>Decision</th>
              <th>Decided by</th>
              <th>Outcome</th>
              <th class="num">Latency</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((c) => (
              <tr
                key={c.id}
                data-call-id={c.id}
                class={selected === c.id ? "selected" : ""}
                tabIndex={0}
                onClick={() => setSelected(c.id)}
                onKeyDown={(e) => e.key === "Enter" && setSelected(c.id)}
              >
                <td title={new Date(c.timeMs).toLocaleString()}>{formatTime(c.timeMs)}</td>
                <td title={c.grant === "default" ? "No grant token: not authenticated; the client name is what it declared" : `grant ${c.grant}`}>{c.agent}</td>
                <td>
                  {c.server} · <code>{c.tool}</code>
                </td>
                <td>
                  <span class={`pill ${decisionClass(c.decision)}`} title={c.message}>
                    {c.decision === "require_approval" ? "pending" : c.decision}
                  </span>
                </td>
                <td>{decidedByText(c)}</td>
                <td>{c.outcome ?? "–"}</td>
                <td class="num">{formatLatency(c.latencyUs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {page?.nextCursor ? (
        <button type="button" class="btn more" disabled={loadingMore} onClick={loadMore}>
          {loadingMore ? "Loading…" : "Load more"}
        </button>
      ) : null}
      {selected !== null ? <CallDetail id={selected} onClose={() => setSelected(null)} /> : null}
    </div>
  );
}

/// "approved by a human (notification)", "denied by policy", "allowed by a remembered decision"…
export function decidedByText(c: Call): string {
  const verb = c.decision === "allow" ? "approved" : c.decision === "deny" ? "denied" : "held";
  switch (c.decidedBy) {
    case "human":
      return `${verb} by a human${c.decisionSource ? ` (${c.decisionSource})` : ""}`;
    case "policy":
      return c.decision === "allow" ? "allowed by policy" : c.decision === "deny" ? "denied by policy" : "waiting for a human";
    case "remembered":
      return `${c.decision === "allow" ? "allowed" : "denied"} by a remembered decision`;
    case "timeout":
      return c.decisionKind === "expired" ? "expired, no human answered" : "timed out, no human answered";
    case "cancelled":
      return "withdrawn: cancelled by the agent";
    case "disconnected":
      return "withdrawn: the agent disconnected";
    case "protocol":
      return `refused by Airlock (${c.decisionKind.replace(/_/g, " ")})`;
    case "restart":
      return "interrupted by a restart of the gate";
    case "error":
      return "denied (error)";
    case "paused":
      return "denied: agents paused by the user";
    case "guard":
      return "denied: names Airlock's own files";
    default:
      return c.decidedBy;
  }
}
