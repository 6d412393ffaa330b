// Small helpers shared by the benchmark scripts.

/** A seeded PRNG (mulberry32): the same stream on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Percentile of a sorted-on-demand sample (nearest rank). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of a sample. */
export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

/** Milliseconds since `start` (from `performance.now()`). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Formats a number with fixed decimals. */
export function fmt(value: number, decimals = 2): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : String(value);
}

/** Prints a table of rows (objects with the same keys). */
export function table(title: string, rows: readonly Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  console.table(rows);
}

/** What a {@link gapTicker} saw once stopped. */
export interface GapTickerResult {
  /** The longest gap between two ticks (or between the last tick and the stop), ms. */
  readonly maxGapMs: number;
  /** When that gap began (`performance.now()`). */
  readonly maxGapAt: number;
}

/**
 * Starts a 1 ms interval timer that records the longest gap between its ticks: on Node's event loop, the longest
 * time the loop could not run a timer (a long task, a GC pause, or other processes holding the CPU; unlike
 * `monitorEventLoopDelay`, it also sees a block that no later timer measures). `stop()` ends it and counts the
 * time since the last tick.
 */
export function gapTicker(): { stop(): GapTickerResult } {
  let last = performance.now();
  let maxGapMs = 0;
  let maxGapAt = last;
  const note = (): void => {
    const now = performance.now();
    if (now - last > maxGapMs) {
      maxGapMs = now - last;
      maxGapAt = last;
    }
    last = now;
  };
  const timer = setInterval(note, 1);
  return {
    stop() {
      note();
      clearInterval(timer);
      return { maxGapMs, maxGapAt };
    },
  };
}

/** A full garbage collection; the script must run with `--expose-gc`. */
export const gc = (): void => (globalThis as { gc?: () => void }).gc!();

/** Heap in use after two full collections, so what is counted is what is still reachable. */
export function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** One line of a {@link logLogPlot}: points (x, y), both above 0. */
export interface PlotSeries {
  readonly label: string;
  readonly color: string;
  /** SVG stroke-dasharray, '' for a solid line. */
  readonly dash?: string;
  readonly points: readonly (readonly [number, number])[];
}

/** What a {@link logLogPlot} draws. */
export interface LogLogPlot {
  readonly title: string;
  readonly xLabel: string;
  readonly series: readonly PlotSeries[];
  /** The y axis starts no higher than this (e.g. 1 to always show 1 ms); default: the smallest value. */
  readonly yFloor?: number;
  /** Dotted horizontal lines (goals), with one label over the highest. */
  readonly guides?: readonly number[];
  readonly guideLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * An SVG plot of each series against the x values, both axes logarithmic, with the legend on the right:
 * a cost that grows linearly with x is a line of slope 1, a constant cost a flat line.
 */
export function logLogPlot(plot: LogLogPlot): string {
  const width = plot.width ?? 860;
  const height = plot.height ?? 360;
  const left = 70;
  const right = 300;
  const top = 30;
  const bottom = 50;
  const xs = [...new Set(plot.series.flatMap((s) => s.points.map(([px]) => px)))].sort((a, b) => a - b);
  const values = plot.series.flatMap((s) => s.points.map(([, py]) => py)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(plot.yFloor ?? Infinity, ...values)));
  const hi = Math.log10(Math.max(...values) * 1.2);
  const xlo = Math.log10(xs[0]!);
  const xhi = Math.log10(xs[xs.length - 1]!);
  const x = (value: number): number => left + ((Math.log10(value) - xlo) / Math.max(1e-9, xhi - xlo)) * (width - left - right);
  const y = (value: number): number => top + (1 - (Math.log10(Math.max(value, 10 ** lo)) - lo) / (hi - lo)) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14">${plot.title}</text>`,
  ];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${y(10 ** e) + 4}" text-anchor="end">${Number((10 ** e).toPrecision(1))}</text>`);
  }
  for (const value of xs) {
    parts.push(`<line x1="${x(value)}" x2="${x(value)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x(value)}" y="${height - bottom + 18}" text-anchor="middle">${value.toLocaleString('en-US')}</text>`);
  }
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 10}" text-anchor="middle">${plot.xLabel}</text>`);
  const guides = plot.guides ?? [];
  for (const goal of guides) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(goal)}" y2="${y(goal)}" stroke="#2ca02c" stroke-dasharray="2 3"/>`);
  }
  if (guides.length > 0 && plot.guideLabel !== undefined) {
    parts.push(`<text x="${width - right - 4}" y="${y(Math.max(...guides)) - 4}" text-anchor="end" fill="#2ca02c">${plot.guideLabel}</text>`);
  }
  plot.series.forEach((s, i) => {
    const dash = s.dash ?? '';
    const points = [...s.points].sort((a, b) => a[0] - b[0]).map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${dash}"/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
    }
    const ly = top + 10 + i * 20;
    parts.push(`<line x1="${width - right + 10}" x2="${width - right + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${dash}"/>`);
    parts.push(`<text x="${width - right + 46}" y="${ly + 4}">${s.label}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Several SVG plots one under the other in one SVG document. */
export function stackPlots(plots: readonly string[], width = 860, height = 360): string {
  const inner = plots.map((svg, i) => svg.replace('<svg ', `<svg x="0" y="${i * height}" `));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height * plots.length}">\n${inner.join('')}</svg>\n`;
}

/** The exponent k of cost ~ n^k between the first and the last point: 1 is linear growth, 0 none. */
export function growthExponent(points: readonly (readonly [number, number])[]): number {
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  const [n0, c0] = sorted[0]!;
  const [n1, c1] = sorted[sorted.length - 1]!;
  return Math.log(c1 / c0) / Math.log(n1 / n0);
}
