// Calls and denials over time (uPlot, a small canvas chart). Stats come per tool per bucket; the
// chart sums the tools of each bucket and fills empty buckets with zero so gaps read as quiet time.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { StatsBucket } from "../bindings/api";

export function seriesFrom(buckets: StatsBucket[], from: number, to: number, bucketMs: number): [number[], number[], number[]] {
  const byStart = new Map<number, { calls: number; denials: number }>();
  for (const b of buckets) {
    const e = byStart.get(b.startMs) ?? { calls: 0, denials: 0 };
    e.calls += b.calls;
    e.denials += b.denials;
    byStart.set(b.startMs, e);
  }
  const xs: number[] = [];
  const calls: number[] = [];
  const denials: number[] = [];
  const first = Math.floor(from / bucketMs) * bucketMs;
  for (let t = first; t < to && xs.length < 2000; t += bucketMs) {
    const e = byStart.get(t);
    xs.push(t / 1000);
    calls.push(e?.calls ?? 0);
    denials.push(e?.denials ?? 0);
  }
  return [xs, calls, denials];
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

export function CallsChart({ data }: { data: [number[], number[], number[]] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--line") } },
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--line") }, size: 40 },
      ],
      series: [
        {},
        { label: "calls", stroke: cssVar("--accent"), fill: cssVar("--accent-soft"), width: 2, points: { show: false } },
        { label: "denials", stroke: cssVar("--deny"), fill: cssVar("--deny-soft"), width: 2, points: { show: false } },
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const onResize = () => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: 180 });
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is created once; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div class="chart" ref={host} role="img" aria-label="Calls and denials over time" />;
}
