import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  /** One value per x; null is a gap. */
  values: (number | null)[];
}

export interface ChartProps {
  /** Seconds since the epoch. */
  xs: number[];
  series: ChartSeries[];
  /** Formats a y value for the axis and the legend. */
  format: (v: number | null) => string;
  height?: number;
  /** Called with the dragged span (ms) when the user selects a range on the chart. */
  onZoom?: (fromMs: number, toMs: number) => void;
  label: string;
}

const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * A uPlot time-series chart: canvas-drawn, so 100k points stay fast. Dragging across the plot
 * selects a range and calls onZoom.
 */
export function Chart({ xs, series, format, height = 180, onZoom, label }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;

  // biome-ignore lint/correctness/useExhaustiveDependencies: rebuilt when the series' shape changes; data updates go through setData
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = cssVar('--muted', '#888');
    const grid = cssVar('--grid', 'rgba(128,128,128,.2)');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid } },
        {
          stroke: axis,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          size: 84,
          values: (_u, vals) => vals.map((v) => format(v)),
        },
      ],
      series: [
        {
          label: 'Time',
          value: (_u, v) =>
            v == null ? '–' : new Date(v * 1000).toISOString().slice(0, 19).replace('T', ' '),
        },
        ...series.map((s, i) => {
          const c = cssVar(PALETTE[i % PALETTE.length]!, '#4a9');
          return {
            label: s.label,
            stroke: c,
            fill: series.length === 1 ? `${c}33` : undefined,
            width: 1.5,
            // Means (RTT) are drawn across empty buckets; counters are zero-filled already.
            spanGaps: true,
            points: { show: s.values.filter((v) => v !== null).length < 60 },
            value: (_u: uPlot, v: number | null) => format(v),
          } as uPlot.Series;
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current?.(Math.round(a * 1000), Math.round(b * 1000));
          },
        ],
      },
    };
    const u = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [series.length, series.map((s) => s.label).join('\u0000'), height]);

  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [xs, series]);

  return <div className="chart" ref={box} role="img" aria-label={label} style={{ minHeight: height + 40 }} />;
}

/**
 * Align API series on one x axis, filling empty buckets: counters (bps, pps, flows) are 0
 * where no flow was seen; means (RTT) are gaps.
 */
export function alignSeries(
  resp: { step: number; series: { group: string | null; points: [string, number | null][] }[] },
  fromMs: number,
  toMs: number,
  fill: 0 | null,
): { xs: number[]; series: ChartSeries[] } {
  const step = resp.step;
  const start = Math.floor(fromMs / 1000 / step) * step;
  const end = Math.ceil(toMs / 1000 / step) * step;
  const n = Math.max(1, Math.min(200_000, Math.round((end - start) / step)));
  const xs = Array.from({ length: n }, (_, i) => start + i * step);
  const series = resp.series.map((s) => {
    const values: (number | null)[] = new Array(n).fill(fill);
    for (const [t, v] of s.points) {
      const i = Math.round((Date.parse(t) / 1000 - start) / step);
      if (i >= 0 && i < n) values[i] = v;
    }
    return { label: s.group ?? 'all', values };
  });
  return { xs, series };
}
