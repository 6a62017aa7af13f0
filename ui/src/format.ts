// Small formatting helpers shared by the views.

/** "12:04:31" today, else "Mar 3 12:04". */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  if (sameDay) return time;
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time.slice(0, 5)}`;
}

/** "4:59", "1:02:03" or "expired". */
export function formatRemaining(ms: number): string {
  if (ms <= 0) return "expired";
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** "in 9 min", "in 3 h", "in 2 days", or "never". */
export function formatExpiry(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return "never";
  const left = ms - now;
  if (left <= 0) return "expired";
  const min = Math.round(left / 60_000);
  if (min < 1) return "in < 1 min";
  if (min < 120) return `in ${min} min`;
  const h = Math.round(min / 60);
  if (h < 48) return `in ${h} h`;
  return `in ${Math.round(h / 24)} days`;
}

/** "820 µs", "12.3 ms", "4.1 s". */
export function formatLatency(us: number | undefined): string {
  if (us === undefined) return "–";
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(1)} s`;
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
