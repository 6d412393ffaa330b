// Health: the two verdicts (ready, live) and each check with its state after hysteresis, its last result and
// details, its recent runs and the thresholds it is judged by.
import { badge, card, empty, fromResult, keyValues, pageHead, time } from './components.js';
import { h, s } from './dom.js';
import * as fmt from './format.js';

export const healthPage = {
  id: 'health',
  title: 'Health',
  sources: [{ path: 'healthcheck', ok: [200, 503] }],
  render(ctx) {
    return h(
      'div',
      { class: 'page' },
      pageHead('Health', 'Readiness decides whether the instance takes traffic; liveness whether the process should be restarted.'),
      fromResult(ctx.result('healthcheck'), 'the health checks', (report) => {
        const checks = Object.values(report.checks ?? {}).sort((a, b) => rank(a.status) - rank(b.status) || a.name.localeCompare(b.name));
        return [
          h(
            'div',
            { class: 'verdicts' },
            verdict('Ready', report.ready, 'No readiness check is critical.', 'A readiness check is critical: the instance is DOWN in the registry.'),
            verdict('Live', report.live, 'No liveness check is critical.', 'A liveness check is critical: the process should be restarted.'),
          ),
          checks.length === 0 ? empty('No health checks', 'Add one with service.addHealthCheck(name, fn).') : h('div', { class: 'checks' }, checks.map((check) => checkCard(check, ctx.now))),
        ];
      }),
    );
  },
};

function rank(status) {
  return { CRITICAL: 0, WARNING: 1, PENDING: 2, PASSING: 3 }[status] ?? 4;
}

function verdict(name, ok, good, bad) {
  return h('div', { class: ['verdict', ok ? 'verdict-good' : 'verdict-bad'] }, h('span', { class: 'verdict-name' }, name), badge(ok ? 'ready' : 'not ready', { label: ok ? 'yes' : 'no' }), h('span', { class: 'verdict-text' }, ok ? good : bad));
}

function checkCard(check, now) {
  const o = check.options ?? {};
  const details = check.lastResult?.details;
  return card(
    check.name,
    { id: `check-${check.name}`, note: `${check.kind} check`, actions: badge(check.status, { large: true }) },
    h(
      'div',
      { class: 'check-grid' },
      h(
        'div',
        null,
        keyValues([
          ['Last result', check.lastResult === undefined ? h('span', { class: 'muted' }, 'not run yet') : badge(check.lastResult.status)],
          ['Checked', check.lastCheckedAt === undefined ? undefined : h('span', null, time(check.lastCheckedAt), ' · ', fmt.ago(check.lastCheckedAt, now))],
          ['Error', check.lastError === undefined ? undefined : h('span', { class: 'text-bad' }, check.lastError)],
          ['In a row', `${check.consecutiveSuccesses} up · ${check.consecutiveFailures} down`],
        ]),
        details === undefined || Object.keys(details).length === 0
          ? null
          : h('div', { class: 'details' }, h('h3', { class: 'minor-title' }, 'Details'), keyValues(Object.entries(details).map(([k, v]) => [k, typeof v === 'string' ? v : fmt.json(v)]))),
      ),
      h(
        'div',
        null,
        h('h3', { class: 'minor-title' }, 'Recent runs'),
        runs(check.history ?? [], now),
        h('h3', { class: 'minor-title' }, 'Thresholds'),
        keyValues(
          [
            ['Critical after', `${o.failuresBeforeCritical} failure${o.failuresBeforeCritical === 1 ? '' : 's'} in a row`],
            ['Passing after', `${o.successBeforePassing} success${o.successBeforePassing === 1 ? '' : 'es'} in a row`],
            ['Runs every', fmt.duration(o.intervalMs)],
            ['Timeout', fmt.ms(o.timeoutMs)],
            ['Result reused for', fmt.ms(o.cacheMs)],
          ],
          { columns: true },
        ),
      ),
    ),
  );
}

/** The last runs as a strip of ticks, newest on the right, with a text summary for screen readers. */
function runs(history, now) {
  if (history.length === 0) return h('p', { class: 'muted' }, 'No runs yet.');
  const width = 14;
  const slowest = Math.max(1, ...history.map((r) => r.durationMs));
  const counts = history.reduce((acc, r) => ({ ...acc, [r.result]: (acc[r.result] ?? 0) + 1 }), {});
  return h(
    'div',
    { class: 'runs' },
    s(
      'svg',
      { class: 'runs-strip', viewBox: `0 0 ${history.length * width} 24`, width: history.length * width, height: 24, 'aria-hidden': 'true' },
      history.map((run, i) =>
        s(
          'rect',
          { x: i * width + 1, y: 24 - Math.max(6, (run.durationMs / slowest) * 24), width: width - 3, height: Math.max(6, (run.durationMs / slowest) * 24), rx: 2, class: `run-${run.result}` },
          s('title', null, `${run.result} at ${fmt.clock(run.at)} in ${fmt.ms(run.durationMs)}`),
        ),
      ),
    ),
    h(
      'p',
      { class: 'runs-text' },
      `${history.length} runs: `,
      Object.entries(counts)
        .map(([result, n]) => `${n} ${result}`)
        .join(', '),
      `; last ${fmt.ago(history[history.length - 1].at, now)}, slowest ${fmt.ms(slowest)}.`,
    ),
  );
}
