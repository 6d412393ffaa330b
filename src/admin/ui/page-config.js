// Configuration: each key with its value (sensitive ones masked by the service, never sent), the layer and
// source it comes from, runtime overrides with the controls to set or remove one, the sources' state, and the
// history of applied changes, rejections and rollbacks.
import { badge, card, empty, fromResult, jsonValue, pageHead, table, time } from './components.js';
import { h } from './dom.js';
import * as fmt from './format.js';

const LAYERS = ['default', 'file', 'env', 'argv', 'remote', 'override'];

let filter = '';

export const configPage = {
  id: 'config',
  title: 'Config',
  sources: [{ path: 'config' }, { path: 'config/history' }],
  /** Typing in the filter box. */
  onInput(name, value) {
    if (name === 'config-filter') filter = value;
  },
  render(ctx) {
    const config = ctx.result('config');
    return h(
      'div',
      { class: 'page' },
      pageHead('Config', 'Values in force, the layer each comes from (lowest to highest: default, file, env, argv, remote, override) and what changed.'),
      fromResult(config, 'the configuration', (report) => [values(report), sources(report)], {
        feature: 'A dynamic configuration',
        hint: 'Give createService a config made with defineConfig() to see and change it here.',
      }),
      config?.data === undefined ? null : fromResult(ctx.result('config/history'), 'the history', (report) => history(report, ctx.now)),
    );
  },
};

function values(report) {
  const keys = Object.entries(report.keys ?? {});
  const needle = filter.trim().toLowerCase();
  const shown = needle === '' ? keys : keys.filter(([key, entry]) => key.toLowerCase().includes(needle) || String(entry.doc ?? '').toLowerCase().includes(needle) || entry.layer === needle);
  const byLayer = LAYERS.map((layer) => [layer, keys.filter(([, entry]) => entry.layer === layer).length]).filter(([, n]) => n > 0);
  return card(
    'Values',
    { id: 'config-values', wide: true, note: `version ${report.version}, applied ${fmt.clock(report.updatedAt)}` },
    h(
      'div',
      { class: 'toolbar' },
      h(
        'label',
        { class: 'filter' },
        h('span', { class: 'filter-label' }, 'Filter keys'),
        h('input', { type: 'search', class: 'input', 'data-input': 'config-filter', 'data-key': 'config-filter', value: filter, placeholder: 'e.g. breaker, override', autocomplete: 'off', spellcheck: 'false' }),
      ),
      h('div', { class: 'layer-counts' }, byLayer.map(([layer, n]) => h('span', { class: ['layer', `layer-${layer}`] }, `${layer} ${n}`))),
    ),
    shown.length === 0
      ? empty(`No key matches “${filter}”`)
      : table(
          [{ label: 'Key', header: true }, { label: 'Value' }, { label: 'Layer' }, { label: 'Source' }, { label: 'Change' }],
          shown.map(([key, entry]) => {
            const overridden = entry.layer === 'override' || Object.hasOwn(report.overrides ?? {}, key);
            return [
              h('span', null, h('code', null, key), entry.doc ? h('span', { class: 'sub' }, entry.doc) : null),
              jsonValue(entry.value, { sensitive: entry.sensitive }),
              h('span', { class: ['layer', `layer-${entry.layer}`] }, entry.layer),
              entry.source === entry.layer ? h('span', { class: 'muted' }, '–') : h('span', { class: 'source' }, entry.source),
              h(
                'span',
                { class: 'actions actions-compact' },
                h('button', { type: 'button', class: 'button button-small', 'data-action': 'config-set', 'data-config-key': key, 'data-key': `set-${key}` }, 'Override…', h('span', { class: 'visually-hidden' }, ` ${key}`)),
                overridden
                  ? h('button', { type: 'button', class: 'button button-small', 'data-action': 'config-clear', 'data-config-key': key, 'data-key': `clear-${key}` }, 'Remove override', h('span', { class: 'visually-hidden' }, ` of ${key}`))
                  : null,
              ),
            ];
          }),
          { caption: 'Configuration keys', rowKeys: shown.map(([key]) => `k-${key}`), rowClasses: shown.map(([, entry]) => (entry.layer === 'override' ? 'row-override' : undefined)) },
        ),
  );
}

function sources(report) {
  const list = report.sources ?? [];
  return card(
    'Sources',
    { id: 'config-sources', wide: true },
    list.length === 0
      ? empty('No file or remote source', 'Values come from the defaults, the environment, arguments and overrides only.')
      : table(
          [{ label: 'Source', header: true }, { label: 'Layer' }, { label: 'State' }, { label: 'Origins' }, { label: 'Last read' }, { label: 'Last error' }],
          list.map((src) => [
            h('code', null, src.name),
            h('span', { class: ['layer', `layer-${src.layer}`] }, src.layer),
            badge(src.state),
            src.origins?.length ? src.origins.map((o) => h('code', { class: 'block' }, o)) : h('span', { class: 'muted' }, 'none'),
            time(src.lastSuccessAt),
            src.lastError ? h('span', { class: 'text-bad' }, src.lastError, src.consecutiveFailures ? ` (${src.consecutiveFailures} in a row)` : '') : h('span', { class: 'muted' }, '–'),
          ]),
          { caption: 'Configuration sources', rowKeys: list.map((src) => `s-${src.name}`) },
        ),
  );
}

function history(report, now) {
  const entries = [...(report.entries ?? [])].reverse();
  return card(
    'History',
    { id: 'config-history', wide: true, note: 'newest first' },
    entries.length === 0
      ? empty('Nothing changed yet')
      : h(
          'ol',
          { class: 'history' },
          entries.map((entry) =>
            h(
              'li',
              { class: ['history-item', `history-${entry.kind}`], 'data-key': `h-${entry.at}-${entry.version}-${entry.kind}` },
              h(
                'div',
                { class: 'history-head' },
                badge(entry.kind, { label: entry.kind === 'rolledBack' ? 'rolled back' : entry.kind }),
                h('span', null, `version ${entry.version}`),
                h('span', { class: 'muted' }, `${entry.trigger}${entry.source && entry.source !== entry.trigger ? ` · ${entry.source}` : ''}`),
                h('span', { class: 'muted' }, time(entry.at), ` · ${fmt.ago(entry.at, now)}`),
              ),
              entry.kind === 'rejected'
                ? h('p', { class: 'text-bad' }, entry.reason)
                : entry.kind === 'rolledBack'
                  ? [h('p', null, `Version ${entry.undoneVersion} undone, the values of version ${entry.restoredVersion} are back: ${entry.reason}`), changes(entry.changes ?? [])]
                  : changes(entry.changes ?? []),
            ),
          ),
        ),
  );
}

function changes(list) {
  if (list.length === 0) return h('p', { class: 'muted' }, 'Loaded (no key changed).');
  return h(
    'ul',
    { class: 'changes' },
    list.map((change) => h('li', null, h('code', null, change.key), ': ', jsonValue(change.oldValue, { max: 60 }), h('span', { 'aria-hidden': 'true' }, ' → '), h('span', { class: 'visually-hidden' }, ' became '), jsonValue(change.newValue, { max: 60 }))),
  );
}
