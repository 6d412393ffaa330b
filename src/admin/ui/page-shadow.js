// Shadow traffic: whether copies of live requests are being sent to a shadow cluster, how each target fares
// (sent, dropped, failed, compared, matching), the latest differences between primary and shadow answers side
// by side, and the kill switch.
import { badge, bar, card, empty, fromResult, pageHead, table, time } from './components.js';
import { h } from './dom.js';
import * as fmt from './format.js';

export const shadowPage = {
  id: 'shadow',
  title: 'Shadow',
  sources: [{ path: 'shadow' }],
  render(ctx) {
    return h(
      'div',
      { class: 'page' },
      pageHead('Shadow traffic', 'Copies of live requests sent to a new version, and where its answers differ from the primary’s.'),
      fromResult(ctx.result('shadow'), 'shadow traffic', (report) => [state(report), targets(report), differences(report, ctx.now)], {
        feature: 'Shadow traffic',
        hint: 'Shadow traffic copies requests to another VIP and compares the answers; give the service (or a client) the shadow option to turn it on.',
      }),
    );
  },
};

function state(report) {
  const enabled = report.enabled === true;
  return card(
    'State',
    {
      id: 'shadow-state',
      actions: enabled
        ? h('button', { type: 'button', class: 'button button-danger', 'data-action': 'shadow-off', 'data-key': 'shadow-off' }, 'Stop shadow traffic')
        : null,
    },
    h(
      'div',
      { class: 'identity-state' },
      badge(enabled ? 'teeing' : 'stopped', { large: true }),
      h('p', null, enabled ? `${fmt.percent(report.rate)} of eligible requests are copied.` : 'No request is copied (the kill switch is off or shadowing was disabled).'),
    ),
  );
}

function targets(report) {
  const list = report.targets ?? [];
  return card(
    'Targets',
    { id: 'shadow-targets', wide: true },
    list.length === 0
      ? empty('No shadow target')
      : table(
          [
            { label: 'VIP', header: true },
            { label: 'Sent', numeric: true },
            { label: 'Dropped', numeric: true },
            { label: 'Failed', numeric: true },
            { label: 'Compared', numeric: true },
            { label: 'Matches', numeric: true },
            { label: 'Mismatches', numeric: true },
            { label: 'Match rate' },
          ],
          list.map((t) => {
            const ratio = t.compared > 0 ? t.matches / t.compared : undefined;
            return [
              h('code', null, t.vip),
              fmt.count(t.sent),
              h('span', { class: t.dropped > 0 ? 'text-warn' : undefined }, fmt.count(t.dropped)),
              h('span', { class: t.failed > 0 ? 'text-bad' : undefined }, fmt.count(t.failed)),
              fmt.count(t.compared),
              fmt.count(t.matches),
              h('span', { class: t.mismatches > 0 ? 'text-bad' : undefined }, fmt.count(t.mismatches)),
              ratio === undefined ? h('span', { class: 'muted' }, 'nothing compared') : h('span', { class: 'ewma' }, bar(ratio, 1, { toneName: ratio >= 0.99 ? 'good' : ratio >= 0.9 ? 'warn' : 'bad' }), fmt.percent(ratio)),
            ];
          }),
          { caption: 'Shadow targets', rowKeys: list.map((t) => `t-${t.vip}`) },
        ),
  );
}

function differences(report, now) {
  const list = [...(report.differences ?? [])].sort((a, b) => b.at - a.at);
  return card(
    'Differences',
    { id: 'shadow-differences', wide: true, note: 'newest first' },
    list.length === 0
      ? empty('No difference found', 'Compared answers that differ (beyond configured and learned noise) show here.')
      : h(
          'ol',
          { class: 'diffs' },
          list.map((d, i) =>
            h(
              'li',
              { class: 'diff', 'data-key': `d-${d.at}-${i}` },
              h(
                'details',
                { 'data-toggle': `diff-${d.at}-${i}` },
                h(
                  'summary',
                  { class: 'diff-summary' },
                  h('code', null, `${d.method} ${d.path}`),
                  h('span', { class: 'change' }, badge(d.primary?.status >= 500 ? 'DOWN' : 'UP', { label: String(d.primary?.status ?? '–') }), ' vs ', badge(d.shadow?.status >= 500 ? 'DOWN' : 'UP', { label: String(d.shadow?.status ?? '–') })),
                  h('span', { class: 'muted' }, (d.fields ?? []).length === 0 ? 'status or headers differ' : `differs at ${(d.fields ?? []).join(', ')}`),
                  h('span', { class: 'muted' }, time(d.at), ` · ${fmt.ago(d.at, now)}`),
                ),
                h('div', { class: 'diff-sides' }, side('Primary', d.primary, d.fields), side('Shadow', d.shadow, d.fields)),
              ),
            ),
          ),
        ),
  );
}

function side(title, answer, fields = []) {
  if (answer === undefined || answer === null) return h('div', { class: 'diff-side' }, h('h3', { class: 'minor-title' }, title), h('p', { class: 'muted' }, 'no answer'));
  return h(
    'div',
    { class: 'diff-side' },
    h('h3', { class: 'minor-title' }, `${title}: ${answer.status}`),
    Object.keys(answer.headers ?? {}).length === 0
      ? null
      : h('dl', { class: 'kv kv-tight' }, Object.entries(answer.headers).map(([k, v]) => h('div', { class: 'kv-item' }, h('dt', null, k), h('dd', null, String(v))))),
    h('pre', { class: 'code-block' }, fmt.prettyJson(answer.body)),
    fields.length === 0 ? null : h('p', { class: 'sub' }, `Fields that differ: ${fields.join(', ')}`),
  );
}
