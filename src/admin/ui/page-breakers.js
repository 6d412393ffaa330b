// Breakers: one card per command, as the Hystrix dashboard draws them (a circle sized by traffic and coloured
// by health, the rate over the last two minutes, the outcome counts, latency percentiles), updated from the
// hystrix.stream, with the operator's controls: force open, force closed, reset.
import { badge, card, empty, fromResult, pageHead, sparkline } from './components.js';
import { h, s } from './dom.js';
import * as fmt from './format.js';
import { HystrixFeed } from './hystrix.js';

let feed;
/** How far a stream object may lag the last poll and still be shown (the stream sends one a second). */
const STALE_MS = 2500;

export const breakersPage = {
  id: 'breakers',
  title: 'Breakers',
  sources: [{ path: 'breakers' }],
  enter(app) {
    feed = new HystrixFeed(app.api, { delayMs: 1000, onUpdate: () => app.renderSoon() });
    feed.start();
  },
  leave() {
    feed?.stop();
    feed = undefined;
  },
  /** The token changed: reconnect with it. */
  restart() {
    feed?.start();
  },
  render(ctx) {
    return h(
      'div',
      { class: 'page' },
      pageHead('Breakers', 'Each command guarding a dependency: its circuit, traffic, errors and latency, live from the Hystrix stream.'),
      streamLine(ctx.now),
      fromResult(
        ctx.result('breakers'),
        'the breakers',
        (report) => {
          const commands = [...(report.commands ?? [])].sort((a, b) => a.name.localeCompare(b.name));
          if (commands.length === 0) return empty('No commands yet', "Commands made with service.command(name, fn) show here once they exist.");
          return h('div', { class: 'breakers' }, commands.map((snapshot) => breakerCard(snapshot, ctx.now)));
        },
        { feature: 'Breakers' },
      ),
    );
  },
};

function streamLine(now) {
  if (feed === undefined) return null;
  const error = feed.error;
  let text;
  let toneName = 'neutral';
  if (feed.state === 'live') {
    toneName = 'good';
    text = feed.lastEventAt === undefined ? 'Live: waiting for the first update' : `Live from hystrix.stream, updated ${fmt.ago(feed.lastEventAt, now)}`;
  } else if (feed.state === 'connecting') {
    text = 'Connecting to hystrix.stream…';
  } else if (error?.status === 401 || error?.status === 403) {
    return h(
      'div',
      { class: 'problem problem-auth', 'data-state': 'stream-unauthorized' },
      h('p', { class: 'problem-title' }, 'The live stream needs an admin token'),
      h('p', null, `${error.status}: ${error.message}`),
      h('button', { type: 'button', class: 'button button-primary', 'data-action': 'token', 'data-key': 'token-stream' }, 'Enter token'),
    );
  } else {
    toneName = 'warn';
    text = `Stream interrupted (${error?.status ? `${error.status}: ` : ''}${error?.message ?? 'no answer'}); reconnecting…`;
  }
  return h('p', { class: ['stream-line', `stream-${toneName}`], 'data-state': `stream-${feed.state}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}

function breakerCard(snapshot, now) {
  const name = snapshot.name;
  // The stream's last word counts while it is fresh; a stream that stopped (refused, broken) leaves the poll's.
  const streamed = feed?.commands.get(name);
  const live = streamed !== undefined && streamed.currentTime >= snapshot.at - STALE_MS ? streamed : undefined;
  const pool = live === undefined ? undefined : feed?.pools.get(name);
  const history = feed?.history.get(name);
  const settings = snapshot.settings;
  // The stream is fresher than the last poll; the poll has the exact state name.
  const requestCount = live?.requestCount ?? snapshot.health.requestCount;
  const errorPct = live?.errorPercentage ?? snapshot.health.errorPercentage;
  const windowSeconds = settings.rollingWindowMs / 1000;
  const rate = requestCount / windowSeconds;
  const state = currentState(snapshot, live);
  const open = state === 'OPEN' || state === 'HALF_OPEN' || state === 'FORCED_OPEN';
  const health = open || errorPct >= settings.errorThresholdPercentage ? 'bad' : errorPct >= settings.errorThresholdPercentage / 2 ? 'warn' : 'good';
  const counts = live
    ? {
        success: live.rollingCountSuccess,
        shortCircuited: live.rollingCountShortCircuited,
        badRequest: live.rollingCountBadRequests,
        timeout: live.rollingCountTimeout,
        rejected: live.rollingCountSemaphoreRejected,
        failure: live.rollingCountFailure,
      }
    : {
        success: snapshot.rolling.success,
        shortCircuited: snapshot.rolling.shortCircuited,
        badRequest: snapshot.rolling.badRequest,
        timeout: snapshot.rolling.timeout,
        rejected: snapshot.rolling.semaphoreRejected,
        failure: snapshot.rolling.failure,
      };
  const latency = live ? { mean: live.latencyExecute_mean, p: live.latencyExecute } : { mean: snapshot.latency.execute.mean, p: snapshot.latency.execute.percentiles };
  const running = pool?.currentActiveCount ?? snapshot.bulkhead.running;
  const queued = pool?.currentQueueSize ?? snapshot.bulkhead.queued;
  const radius = Math.min(26, 7 + 6 * Math.log10(1 + rate));

  const actions = h(
    'div',
    { class: 'actions actions-compact' },
    actionButton(name, 'forceOpen', 'Force open', settings.forceOpen, 'button-danger'),
    actionButton(name, 'forceClosed', 'Force closed', settings.forceClosed, ''),
    actionButton(name, 'reset', 'Reset', false, ''),
  );
  return card(
    name,
    { id: `breaker-${name}`, note: snapshot.adopted ? `${snapshot.group} · ${snapshot.adopted}` : snapshot.group, actions: badge(state, { large: true }) },
    h(
      'div',
      { class: 'breaker-top' },
      s(
        'svg',
        { class: 'breaker-circle', viewBox: '0 0 60 60', width: 60, height: 60, role: 'img', 'aria-label': `health ${health}, ${fmt.number(rate)} requests per second` },
        s('circle', { cx: 30, cy: 30, r: radius.toFixed(1), class: `health-${health}` }),
      ),
      h(
        'div',
        { class: 'breaker-figures' },
        h('div', { class: 'figure' }, h('span', { class: 'figure-value' }, fmt.number(rate)), h('span', { class: 'figure-unit' }, ' /s'), h('span', { class: 'figure-label' }, 'requests')),
        h('div', { class: ['figure', `figure-${health}`] }, h('span', { class: 'figure-value' }, `${errorPct}`), h('span', { class: 'figure-unit' }, ' %'), h('span', { class: 'figure-label' }, 'errors')),
      ),
      sparkline(history?.rates ?? [], { width: 180, height: 44, className: `spark-${health}`, label: `request rate, last ${history?.rates.length ?? 0} updates` }),
    ),
    h(
      'dl',
      { class: 'counts' },
      count('success', 'Success', counts.success),
      count('short', 'Short-circuited', counts.shortCircuited),
      count('bad-request', 'Bad request', counts.badRequest),
      count('timeout', 'Timeout', counts.timeout),
      count('rejected', 'Rejected', counts.rejected),
      count('failure', 'Failure', counts.failure),
    ),
    h(
      'dl',
      { class: 'latency' },
      ['mean', '50', '90', '99', '99.5'].map((p) =>
        h('div', { class: 'latency-item' }, h('dt', null, p === 'mean' ? 'Mean' : `${p}th`), h('dd', null, fmt.ms(p === 'mean' ? latency.mean : latency.p?.[p]))),
      ),
    ),
    h(
      'p',
      { class: 'breaker-settings' },
      `Opens at ${settings.errorThresholdPercentage} % errors over ${settings.requestVolumeThreshold}+ requests in ${fmt.duration(settings.rollingWindowMs)}; `,
      `retries after ${fmt.duration(settings.sleepWindowMs)}; ${settings.timeoutMs > 0 ? `timeout ${fmt.ms(settings.timeoutMs)}` : 'no timeout'}; `,
      `bulkhead ${running}/${settings.maxConcurrent} running, ${queued} queued.`,
      snapshot.openedAt === undefined ? '' : ` Opened ${fmt.ago(snapshot.openedAt, now)}.`,
    ),
    actions,
  );
}

/**
 * The circuit's state from the fresher of the last poll and the last stream object. The stream does not tell
 * half-open from open, so an open circuit keeps the poll's word for which of the two it is.
 */
function currentState(snapshot, live) {
  if (live === undefined || live.currentTime < snapshot.at) return snapshot.state;
  if (!live.propertyValue_circuitBreakerEnabled) return 'DISABLED';
  if (live.propertyValue_circuitBreakerForceOpen) return 'FORCED_OPEN';
  if (live.propertyValue_circuitBreakerForceClosed) return 'FORCED_CLOSED';
  if (live.isCircuitBreakerOpen) return snapshot.state === 'HALF_OPEN' ? 'HALF_OPEN' : 'OPEN';
  return 'CLOSED';
}

function count(kind, label, value) {
  return h('div', { class: `count count-${kind}` }, h('dt', null, label), h('dd', null, fmt.count(value)));
}

function actionButton(name, op, label, active, className) {
  return h(
    'button',
    { type: 'button', class: ['button', className], 'data-action': 'breaker', 'data-name': name, 'data-op': op, 'data-key': `breaker-${name}-${op}`, disabled: active },
    label,
    h('span', { class: 'visually-hidden' }, ` ${name}`),
  );
}
