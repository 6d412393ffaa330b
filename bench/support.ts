// Small helpers shared by the benchmark scripts.

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

/** A full garbage collection; the script must run with `--expose-gc`. */
export const gc = (): void => (globalThis as { gc?: () => void }).gc!();

/** Heap in use after two full collections, so what is counted is what is still reachable. */
export function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
