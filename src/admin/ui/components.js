// Pieces every page is made of: status badges, cards, key/value lists, empty and error states, small charts.
import { h, s } from './dom.js';
import * as fmt from './format.js';

const tones = {
  good: ['UP', 'PASSING', 'CLOSED', 'ok', 'applied', 'active', 'match', 'enabled', 'ready', 'live', 'teeing'],
  warn: ['OUT_OF_SERVICE', 'WARNING', 'WARN', 'HALF_OPEN', 'FORCED_CLOSED', 'rolledBack', 'pending', 'failing', 'half-open', 'mismatch', 'stopped', 'draining', 'probing'],
  bad: ['DOWN', 'CRITICAL', 'OPEN', 'FORCED_OPEN', 'FAILED', 'failed', 'denied', 'rejected', 'ejected', 'not ready', 'not live'],
};
const toneOf = new Map(Object.entries(tones).flatMap(([tone, words]) => words.map((word) => [word, tone])));

/** The colour family of a status word: good, warn, bad or neutral. */
export function tone(status) {
  return toneOf.get(String(status)) ?? 'neutral';
}

/** A status shown as a coloured badge; the word is always written, colour only adds to it. */
export function badge(status, { label, large = false } = {}) {
  const text = label ?? String(status ?? 'UNKNOWN').replaceAll('_', ' ');
  return h('span', { class: ['badge', `badge-${tone(status)}`, large && 'badge-large'] }, text);
}

/** A card with a heading. */
export function card(title, { id, actions, note, wide = false } = {}, ...content) {
  const headingId = id === undefined ? undefined : `${id}-title`;
  return h(
    'section',
    { class: ['card', wide && 'card-wide'], 'aria-labelledby': headingId, 'data-key': id },
    h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: headingId }, title), note === undefined ? null : h('span', { class: 'card-note' }, note), actions ?? null),
    content,
  );
}

/** The heading of a page, with a line under it. */
export function pageHead(title, subtitle) {
  return h('div', { class: 'page-head' }, h('h1', { class: 'page-title', tabindex: '-1', 'data-key': 'page-title' }, title), subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null);
}

/** A list of name/value pairs; pairs whose value is null or undefined are left out. */
export function keyValues(pairs, { columns = false } = {}) {
  return h(
    'dl',
    { class: ['kv', columns && 'kv-columns'] },
    pairs
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([name, value]) => h('div', { class: 'kv-item' }, h('dt', null, name), h('dd', null, value))),
  );
}

/** A time, shown as a clock time, with the full date as a tooltip and in `datetime`. */
export function time(at, { relative = false, now = Date.now() } = {}) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: new Date(at).toISOString(), title: fmt.dateTime(at) }, relative ? fmt.ago(at, now) : fmt.clock(at));
}

/** A big figure with a caption, for summaries. */
export function stat(label, value, { toneName, sub } = {}) {
  return h(
    'div',
    { class: ['stat', toneName && `stat-${toneName}`] },
    h('div', { class: 'stat-value' }, value),
    h('div', { class: 'stat-label' }, label),
    sub === undefined ? null : h('div', { class: 'stat-sub' }, sub),
  );
}

/** Shown where a feature is not on for this instance (its endpoint answered 404). */
export function notConfigured(what, detail, hint) {
  return h(
    'div',
    { class: 'empty', 'data-state': 'not-configured' },
    h('p', { class: 'empty-title' }, `${what} is not configured on this instance`),
    hint === undefined ? null : h('p', { class: 'empty-hint' }, hint),
    detail === undefined ? null : h('p', { class: 'empty-detail' }, `The service said: ${detail}`),
  );
}

/** A neutral empty state ("no breakers yet"). */
export function empty(text, hint) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, text), hint === undefined ? null : h('p', { class: 'empty-hint' }, hint));
}

/** What to show instead of a section whose request failed; 401 and 403 offer the token dialog. */
export function failure(error, what) {
  const kind = error?.kind ?? 'http';
  if (kind === 'unauthorized') {
    return h(
      'div',
      { class: 'problem problem-auth', 'data-state': 'unauthorized' },
      h('p', { class: 'problem-title' }, 'This instance asks for an admin token'),
      h('p', null, `Reading ${what} needs a token: ${error.message}.`),
      h('button', { type: 'button', class: 'button button-primary', 'data-action': 'token', 'data-key': `token-${what}` }, 'Enter token'),
    );
  }
  if (kind === 'forbidden') {
    return h(
      'div',
      { class: 'problem problem-auth', 'data-state': 'forbidden' },
      h('p', { class: 'problem-title' }, 'Your token may not read this'),
      h('p', null, `${error.status} Forbidden: ${error.message}.`),
      h('button', { type: 'button', class: 'button', 'data-action': 'token', 'data-key': `token-${what}` }, 'Use another token'),
    );
  }
  if (kind === 'network') {
    return h('div', { class: 'problem', 'data-state': 'unreachable' }, h('p', { class: 'problem-title' }, `Cannot load ${what}`), h('p', null, error.message));
  }
  return h(
    'div',
    { class: 'problem', 'data-state': 'error' },
    h('p', { class: 'problem-title' }, `Cannot load ${what}`),
    h('p', null, `${error?.status ? `${error.status}: ` : ''}${error?.message ?? 'unknown error'}`),
  );
}

/** Shown while a section's first answer is on its way. */
export function loading(what) {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, `Loading ${what}…`);
}

/**
 * Renders a section from one polled result: loading, its failure, "not configured" on 404 (when `optional`
 * names the feature), or `render(data)`.
 */
export function fromResult(result, what, render, optional) {
  if (result === undefined) return loading(what);
  if (result.error !== undefined) {
    if (result.error.kind === 'not-found' && optional !== undefined) return notConfigured(optional.feature, result.error.message, optional.hint);
    return failure(result.error, what);
  }
  return render(result.data);
}

/**
 * A small line chart of recent values (oldest first), with the area under it. `max` fixes the top of the scale;
 * by default it fits the values.
 */
export function sparkline(values, { width = 160, height = 36, max, className = '', label } = {}) {
  const points = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  // A little headroom, so a steady series reads as a line under the top rather than the top edge itself.
  const top = max ?? Math.max(...points, 1e-9) * 1.15;
  const step = points.length > 1 ? width / (points.length - 1) : width;
  const xy = points.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  return s(
    'svg',
    { class: ['spark', className], viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label ?? 'recent values', preserveAspectRatio: 'none' },
    points.length < 2
      ? s('line', { x1: 0, y1: height - 2, x2: width, y2: height - 2, class: 'spark-base' })
      : [s('polygon', { points: `0,${height} ${xy.join(' ')} ${width},${height}`, class: 'spark-area' }), s('polyline', { points: xy.join(' '), class: 'spark-line' })],
  );
}

/** A horizontal bar for `value` on a scale to `max`. */
export function bar(value, max, { width = 90, label, toneName = 'neutral' } = {}) {
  const ratio = typeof value === 'number' && max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  return s(
    'svg',
    { class: 'bar', viewBox: `0 0 ${width} 8`, width, height: 8, role: 'img', 'aria-label': label ?? `${fmt.number(value)} of ${fmt.number(max)}` },
    s('rect', { x: 0, y: 0, width, height: 8, rx: 2, class: 'bar-track' }),
    s('rect', { x: 0, y: 0, width: (ratio * width).toFixed(1), height: 8, rx: 2, class: `bar-fill bar-${toneName}` }),
  );
}

/** A table from column headings and rows of cells; `rowKey(i)` keys rows so they keep identity. */
export function table(columns, rows, { caption, className, rowKeys, rowClasses } = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: ['table', className] },
      caption === undefined ? null : h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, columns.map((column) => h('th', { scope: 'col', class: column.numeric ? 'num' : undefined }, column.label)))),
      h(
        'tbody',
        null,
        rows.map((cells, i) =>
          h(
            'tr',
            { 'data-key': rowKeys?.[i], class: rowClasses?.[i] },
            cells.map((cell, j) => (j === 0 && columns[0].header ? h('th', { scope: 'row' }, cell) : h('td', { class: columns[j]?.numeric ? 'num' : undefined }, cell))),
          ),
        ),
      ),
    ),
  );
}

/** A value as it appears in configuration and audit views: JSON, with sensitive values marked. */
export function jsonValue(value, { sensitive = false, max = 120 } = {}) {
  if (sensitive) return h('span', { class: 'masked', title: 'sensitive: never shown' }, '•••••• sensitive');
  return h('code', { class: 'json' }, fmt.json(value, max));
}
