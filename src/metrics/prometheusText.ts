/** The `Content-Type` of the Prometheus text exposition format 0.0.4. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Turns a statsd-style name (`karyon.client.requests`) into a Prometheus metric name. Everything outside
 * `[a-zA-Z0-9_]` becomes `_`: the colon is legal but reserved for recording rules, so it is replaced too.
 */
export function prometheusMetricName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

/** Turns a tag name into a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, never the reserved `__` prefix). */
export function prometheusLabelName(name: string): string {
  let clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(clean)) clean = `_${clean}`;
  return clean.replace(/^__+/, '_');
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Escapes `# HELP` text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** Formats a sample value as the text format wants it (`+Inf`, `-Inf`, `NaN`, or a Go-parsable float). */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
