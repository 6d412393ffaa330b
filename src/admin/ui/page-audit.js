// Audit: every mutation made through the admin API, who made it (token name or loopback), from where, what it
// changed (before and after), and whether it was allowed. Secrets never reach this page: the service leaves them
// out of the log.
import { badge, card, empty, fromResult, jsonValue, pageHead, table, time } from './components.js';
import { h } from './dom.js';
import * as fmt from './format.js';

let filter = '';

export const auditPage = {
  id: 'audit',
  title: 'Audit',
  sources: [{ path: 'audit' }],
  onInput(name, value) {
    if (name === 'audit-filter') filter = value;
  },
  render(ctx) {
    return h(
      'div',
      { class: 'page' },
      pageHead('Audit log', 'Every change made through the admin API, newest first.'),
      fromResult(ctx.result('audit'), 'the audit log', (report) => entries(report), {
        feature: 'The audit log',
        hint: 'The audit log records who changed what once admin roles and tokens are configured.',
      }),
    );
  },
};

function entries(report) {
  const all = [...(report.entries ?? [])].reverse();
  const needle = filter.trim().toLowerCase();
  const shown =
    needle === ''
      ? all
      : all.filter((e) => [e.actor, e.role, e.remote, e.method, e.path, e.action, e.outcome, String(e.status)].some((field) => String(field ?? '').toLowerCase().includes(needle)));
  const denied = all.filter((e) => e.outcome === 'denied').length;
  return card(
    'Entries',
    { id: 'audit-entries', wide: true, note: `${all.length} kept${denied > 0 ? `, ${denied} denied` : ''}` },
    h(
      'div',
      { class: 'toolbar' },
      h(
        'label',
        { class: 'filter' },
        h('span', { class: 'filter-label' }, 'Filter entries'),
        h('input', { type: 'search', class: 'input', 'data-input': 'audit-filter', 'data-key': 'audit-filter', value: filter, placeholder: 'actor, path, outcome…', autocomplete: 'off', spellcheck: 'false' }),
      ),
    ),
    shown.length === 0
      ? empty(all.length === 0 ? 'No change has been made through the admin API yet' : `No entry matches “${filter}”`)
      : table(
          [{ label: 'When' }, { label: 'Actor' }, { label: 'From' }, { label: 'Request' }, { label: 'Action' }, { label: 'Outcome' }, { label: 'What changed' }],
          shown.map((e) => [
            time(e.at),
            h('span', null, h('strong', null, e.actor), e.role ? h('span', { class: 'sub' }, e.role) : null),
            h('code', null, e.remote),
            h('code', null, `${e.method} ${e.path}`),
            e.action,
            h('span', { class: 'cell-badges' }, badge(e.outcome), h('span', { class: 'sub' }, String(e.status))),
            change(e.before, e.after),
          ]),
          { caption: 'Audit log entries, newest first', rowKeys: shown.map((e, i) => `a-${e.at}-${e.method}-${e.path}-${all.length - i}`) },
        ),
  );
}

/**
 * Before and after, as the fields that differ (`state: "CLOSED" → "FORCED_OPEN"`), nested fields by dotted path;
 * the whole records are a click away.
 */
function change(before, after) {
  if ((before === undefined || before === null) && (after === undefined || after === null)) return h('span', { class: 'muted' }, '–');
  const lines = [];
  if (isRecord(before) && isRecord(after)) {
    const a = flatten(before);
    const b = flatten(after);
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (fmt.json(a[key]) === fmt.json(b[key])) continue;
      lines.push(h('li', null, h('code', null, key), ': ', jsonValue(a[key], { max: 40 }), h('span', { 'aria-hidden': 'true' }, ' → '), h('span', { class: 'visually-hidden' }, ' became '), jsonValue(b[key], { max: 40 })));
    }
  }
  const summary = lines.length > 0 ? h('ul', { class: 'changes changes-compact' }, lines) : h('span', null, before === undefined || before === null ? 'created: ' : 'before: ', jsonValue(before ?? after, { max: 60 }));
  return h(
    'div',
    { class: 'audit-change' },
    summary,
    h('details', { class: 'audit-records' }, h('summary', null, 'Records'), h('div', { class: 'diff-sides' }, record('Before', before), record('After', after))),
  );
}

function record(title, value) {
  return h('div', null, h('h3', { class: 'minor-title' }, title), h('pre', { class: 'code-block' }, fmt.prettyJson(value ?? null)));
}

function isRecord(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function flatten(value, prefix = '', out = {}) {
  for (const [key, item] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isRecord(item) && prefix === '') flatten(item, path, out);
    else out[path] = item;
  }
  return out;
}
