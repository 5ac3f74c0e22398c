import { BLACK, Canvas, DARK_GREY, GREY, textHeight, textWidth, type Rgb } from './raster.js';

/**
 * Two chart kinds for the benchmark report, drawn on the raster: a line chart (linear or log axes, markers;
 * used for latency CDFs and convergence time against repository count) and a grouped bar chart.
 */
export const PALETTE: Rgb[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]];

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: Rgb;
  markers?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  /** Forced axis ranges (otherwise from the data). */
  x?: [number, number];
  y?: [number, number];
  width?: number;
  height?: number;
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  categories: string[];
  series: Array<{ name: string; values: number[]; color?: Rgb }>;
  format?: (v: number) => string;
  width?: number;
  height?: number;
}

const MARGIN = { left: 90, right: 30, bottom: 62 };
const LEGEND_Y = 38;
const LEGEND_ROW = 22;

/** Round steps (1, 2, 5 × 10^k) covering [min, max] with about `count` ticks. */
export function linearTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** 1, 2, 5 × 10^k within the decades that cover [min, max] (min > 0). */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of hi - lo > 3 ? [1] : [1, 2, 5]) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  return ticks.filter((t) => t >= 10 ** lo && t <= 10 ** hi);
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: number[];
}

function axis(values: number[], log: boolean, forced?: [number, number]): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let [min, max] = forced ?? [Math.min(...finite), Math.max(...finite)];
  if (!finite.length && !forced) [min, max] = log ? [1, 10] : [0, 1];
  if (log) {
    const ticks = logTicks(min, max === min ? min * 10 : max);
    return { min: ticks[0]!, max: ticks[ticks.length - 1]!, log, ticks };
  }
  if (!forced) min = Math.min(0, min);
  const ticks = linearTicks(min, max);
  if (!forced) return { min: ticks[0]!, max: ticks[ticks.length - 1]!, log, ticks };
  return { min, max, log, ticks: ticks.filter((t) => t >= min - 1e-12 && t <= max + 1e-12) };
}

function scale(a: Axis, from: number, to: number): (v: number) => number {
  const f = (v: number) => (a.log ? Math.log10(v) : v);
  const lo = f(a.min);
  const hi = f(a.max);
  return (v) => from + ((f(v) - lo) / (hi - lo || 1)) * (to - from);
}

/** Title, legend (wrapped to the width) and y-axis label; returns the top of the plot area. */
function frame(c: Canvas, title: string, yLabel: string, legend: Array<{ name: string; color: Rgb }>): number {
  c.text(MARGIN.left, 12, title, BLACK, 2);
  let x = MARGIN.left;
  let y = LEGEND_Y;
  for (const item of legend) {
    const w = 20 + textWidth(item.name) + 18;
    if (x > MARGIN.left && x + w > c.width - MARGIN.right) {
      x = MARGIN.left;
      y += LEGEND_ROW;
    }
    c.fillRect(x, y, 14, 14, item.color);
    c.text(x + 20, y, item.name, BLACK, 2);
    x += w;
  }
  const top = y + LEGEND_ROW + 18;
  c.text(8, top - 20, yLabel, DARK_GREY, 2);
  return top;
}

/** The canvas, legend and title of a chart, and the plot area below them. */
function plotArea(spec: { width?: number; height?: number; title: string; yLabel: string }, series: Array<{ name: string; color: Rgb }>) {
  const width = spec.width ?? 900;
  const height = spec.height ?? 520;
  const c = new Canvas(width, height);
  const top = frame(c, spec.title, spec.yLabel, series);
  return { c, width, height, left: MARGIN.left, right: width - MARGIN.right, top, bottom: height - MARGIN.bottom };
}

/** Dashed horizontal grid lines with their labels at the y axis ticks. */
function yGrid(c: Canvas, ys: Axis, sy: (v: number) => number, left: number, right: number): void {
  for (const t of ys.ticks) {
    const y = sy(t);
    c.dashed(left, y, right, y, GREY);
    const label = formatTick(t);
    c.text(left - 8 - textWidth(label), y - textHeight() / 2, label, DARK_GREY);
  }
}

export function lineChart(spec: LineChartSpec): Canvas {
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const xs = axis(series.flatMap((s) => s.points.map((p) => p[0])), !!spec.xLog, spec.x);
  const ys = axis(series.flatMap((s) => s.points.map((p) => p[1])), !!spec.yLog, spec.y);
  const { c, height, left, right, top, bottom } = plotArea(spec, series);
  const sx = scale(xs, left, right);
  const sy = scale(ys, bottom, top);
  yGrid(c, ys, sy, left, right);
  for (const t of xs.ticks) {
    const x = sx(t);
    c.dashed(x, top, x, bottom, GREY);
    const label = formatTick(t);
    c.text(x - textWidth(label) / 2, bottom + 8, label, DARK_GREY);
  }
  c.line(left, bottom, right, bottom, BLACK, 2);
  c.line(left, top, left, bottom, BLACK, 2);
  c.text(right - textWidth(spec.xLabel), height - 24, spec.xLabel, DARK_GREY);
  for (const s of series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!xs.log || x > 0) && (!ys.log || y > 0)).map(([x, y]) => [sx(x), sy(y)] as const);
    for (let i = 1; i < pts.length; i++) c.line(pts[i - 1]![0], pts[i - 1]![1], pts[i]![0], pts[i]![1], s.color, 3);
    if (s.markers || pts.length === 1) for (const [x, y] of pts) c.marker(x, y, s.color, 9);
  }
  return c;
}

export function barChart(spec: BarChartSpec): Canvas {
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const ys = axis(series.flatMap((s) => s.values).concat([0]), false);
  const { c, left, right, top, bottom } = plotArea(spec, series);
  const sy = scale(ys, bottom, top);
  yGrid(c, ys, sy, left, right);
  const group = (right - left) / Math.max(1, spec.categories.length);
  const barW = Math.max(4, (group * 0.7) / Math.max(1, series.length));
  const fmt = spec.format ?? formatTick;
  spec.categories.forEach((cat, i) => {
    const g0 = left + i * group + group * 0.15;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = g0 + j * barW;
      const y = sy(v);
      c.fillRect(x + 2, y, barW - 4, bottom - y, s.color);
      const label = fmt(v);
      const scaleText = textWidth(label) > barW ? 1 : 2;
      c.text(x + barW / 2 - textWidth(label, scaleText) / 2, y - textHeight(scaleText) - 4, label, BLACK, scaleText);
    });
    c.text(left + i * group + group / 2 - textWidth(cat) / 2, bottom + 10, cat, DARK_GREY);
  });
  c.line(left, bottom, right, bottom, BLACK, 2);
  c.line(left, top, left, bottom, BLACK, 2);
  return c;
}
