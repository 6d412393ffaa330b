// How numbers, times and values read on the page. Durations are compact ("3 h 12 min"), times are local clock
// times with the full date in a tooltip, and every value the API sends as JSON is shown as JSON.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const precise = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });

/** A count: 12,345. */
export function count(value) {
  return typeof value === 'number' && Number.isFinite(value) ? integer.format(value) : '–';
}

/** A number with at most one decimal: 12.3. */
export function number(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return Math.abs(value) >= 100 ? integer.format(value) : decimal.format(value);
}

/** A number with three significant digits, for metric values of any scale. */
export function metricValue(value) {
  if (typeof value !== 'number') return '–';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value !== 0 && (Math.abs(value) >= 1e9 || Math.abs(value) < 1e-3)) return value.toExponential(2);
  return Math.abs(value) >= 1000 ? integer.format(value) : precise.format(value);
}

/** Milliseconds as a latency: 0.4 ms, 12 ms, 1.2 s. */
export function ms(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  if (value >= 1000) return `${decimal.format(value / 1000)} s`;
  return `${value < 10 ? decimal.format(value) : integer.format(value)} ms`;
}

/** A duration: 45 s, 3 min 20 s, 2 h 5 min, 3 d 4 h. */
export function duration(value) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return '–';
  const seconds = Math.floor(value / 1000);
  if (seconds < 60) return value < 1000 ? `${integer.format(value)} ms` : `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** How long ago an epoch-ms time was, from `now`: "just now", "12 s ago", "in 3 s". */
export function ago(at, now = Date.now()) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '–';
  const delta = now - at;
  if (Math.abs(delta) < 1000) return 'just now';
  return delta > 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
}

/** A clock time, HH:MM:SS in local time. */
export function clock(at) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '–';
  return new Date(at).toLocaleTimeString(undefined, { hour12: false });
}

/** A full local date and time, for tooltips. */
export function dateTime(at) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return '';
  return new Date(at).toLocaleString(undefined, { hour12: false });
}

/** A percentage of a 0..1 ratio: 25 %. */
export function percent(ratio) {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) return '–';
  return `${decimal.format(ratio * 100)} %`;
}

/** Any JSON value on one line; long values are cut with an ellipsis. */
export function json(value, max = 160) {
  let text;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Any JSON value, indented, for detail views. */
export function prettyJson(value) {
  try {
    return value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
