// Overview: who this instance is, its lifecycle state with the timeline of transitions, the operator's
// controls, and one tile per subsystem so trouble shows at a glance.
import { badge, card, fromResult, keyValues, pageHead, stat, table, time } from './components.js';
import { h, s } from './dom.js';
import * as fmt from './format.js';

const OPERABLE = new Set(['STARTING', 'UP', 'DOWN', 'OUT_OF_SERVICE']);

export const overviewPage = {
  id: 'overview',
  title: 'Overview',
  sources: [{ path: 'healthcheck', ok: [200, 503] }, { path: 'breakers' }, { path: 'registry' }],
  render(ctx) {
    const status = ctx.result('status');
    return h(
      'div',
      { class: 'page' },
      pageHead('Overview', 'The instance, its lifecycle and a summary of every subsystem.'),
      fromResult(status, 'the status', (report) => [identity(report, ctx.now), timeline(report, ctx.now)]),
      h('div', { class: 'tiles' }, healthTile(ctx), breakersTile(ctx), discoveryTile(ctx)),
    );
  },
};

function identity(report, now) {
  const operable = OPERABLE.has(report.status);
  const outOfService = report.outOfServiceByOperator === true;
  const actions = h(
    'div',
    { class: 'actions' },
    h(
      'button',
      {
        type: 'button',
        class: 'button button-danger',
        'data-action': 'status',
        'data-status': 'OUT_OF_SERVICE',
        'data-key': 'action-oos',
        disabled: !operable || outOfService,
      },
      'Take out of service',
    ),
    h(
      'button',
      { type: 'button', class: 'button button-primary', 'data-action': 'status', 'data-status': 'UP', 'data-key': 'action-up', disabled: !operable || !outOfService },
      'Mark UP',
    ),
  );
  return card(
    'Instance',
    { id: 'instance', actions, wide: true },
    h(
      'div',
      { class: 'identity' },
      h(
        'div',
        { class: 'identity-state' },
        badge(report.status, { large: true }),
        h('p', { class: 'identity-since' }, 'for ', h('strong', null, fmt.duration(now - report.since)), ' since ', time(report.since)),
        outOfService ? h('p', { class: 'notice notice-warn' }, 'Taken out of service by an operator: clients stop sending traffic until it is marked UP.') : null,
      ),
      keyValues(
        [
          ['Application', report.app],
          ['Instance', h('code', null, report.instanceId || '–')],
          ['VIP address', report.vipAddress],
          ['Zone', report.zone],
          ['Version', report.version ?? h('span', { class: 'muted' }, 'not set')],
          ['Port', report.port ?? '–'],
          ['Registry status', report.registryStatus === undefined ? h('span', { class: 'muted' }, 'not registered') : badge(report.registryStatus)],
          ['Uptime', report.startedAt === undefined ? '–' : fmt.duration(report.uptimeMs)],
          ['Started', time(report.startedAt)],
        ],
        { columns: true },
      ),
    ),
  );
}

function timeline(report, now) {
  const transitions = report.transitions ?? [];
  const start = Math.min(report.startedAt ?? now, transitions[0]?.at ?? now);
  const span = Math.max(1, now - start);
  const segments = [];
  let state = transitions[0]?.from ?? report.status;
  let from = start;
  for (const t of transitions) {
    segments.push({ state, from, to: t.at });
    state = t.to;
    from = t.at;
  }
  segments.push({ state, from, to: now });
  const width = 1000;
  const band = s(
    'svg',
    { class: 'timeline', viewBox: `0 0 ${width} 28`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `States over the last ${fmt.duration(span)}` },
    segments
      .filter((seg) => seg.to > seg.from || segments.length === 1)
      .map((seg) =>
        s(
          'rect',
          {
            x: (((seg.from - start) / span) * width).toFixed(2),
            y: 0,
            width: Math.max(1.5, ((seg.to - seg.from) / span) * width).toFixed(2),
            height: 28,
            class: `timeline-${seg.state}`,
          },
          s('title', null, `${seg.state} for ${fmt.duration(seg.to - seg.from)} from ${fmt.clock(seg.from)}`),
        ),
      ),
  );
  const rows = [...transitions].reverse();
  return card(
    'Lifecycle',
    { id: 'lifecycle', wide: true, note: `${transitions.length} transition${transitions.length === 1 ? '' : 's'}` },
    h('div', { class: 'timeline-wrap' }, band, h('div', { class: 'timeline-axis' }, time(start), h('span', null, 'now'))),
    h('div', { class: 'legend' }, [...new Set(segments.map((seg) => seg.state))].map((st) => h('span', { class: 'legend-item' }, h('span', { class: `legend-swatch timeline-${st}` }), st.replaceAll('_', ' ')))),
    rows.length === 0
      ? null
      : table(
          [{ label: 'When' }, { label: 'Change' }, { label: 'Reason' }, { label: 'Lasted', numeric: true }],
          rows.map((t, i) => {
            const next = rows[i - 1];
            return [time(t.at), h('span', { class: 'change' }, badge(t.from), h('span', { 'aria-hidden': 'true' }, ' → '), h('span', { class: 'visually-hidden' }, ' to '), badge(t.to)), t.reason, fmt.duration((next?.at ?? now) - t.at)];
          }),
          { caption: 'Lifecycle transitions, newest first', rowKeys: rows.map((t) => `t-${t.at}-${t.to}`) },
        ),
  );
}

function tile(title, href, body) {
  return h('section', { class: 'tile', 'data-key': `tile-${title}` }, h('h2', { class: 'tile-title' }, h('a', { href }, title)), body);
}

function healthTile(ctx) {
  return tile(
    'Health',
    '#/health',
    fromResult(ctx.result('healthcheck'), 'health', (report) => {
      const checks = Object.values(report.checks ?? {});
      const by = (st) => checks.filter((c) => c.status === st).length;
      return h(
        'div',
        { class: 'tile-body' },
        h('div', { class: 'tile-badges' }, badge(report.ready ? 'ready' : 'not ready'), badge(report.live ? 'live' : 'not live')),
        h('div', { class: 'stats' }, stat('passing', by('PASSING'), { toneName: 'good' }), stat('warning', by('WARNING'), { toneName: by('WARNING') ? 'warn' : undefined }), stat('critical', by('CRITICAL'), { toneName: by('CRITICAL') ? 'bad' : undefined })),
      );
    }),
  );
}

function breakersTile(ctx) {
  return tile(
    'Breakers',
    '#/breakers',
    fromResult(
      ctx.result('breakers'),
      'breakers',
      (report) => {
        const commands = report.commands ?? [];
        const open = commands.filter((c) => c.circuitOpen);
        return h(
          'div',
          { class: 'tile-body' },
          h('div', { class: 'stats' }, stat('commands', commands.length), stat('open', open.length, { toneName: open.length ? 'bad' : 'good' })),
          open.length === 0 ? h('p', { class: 'muted' }, 'Every circuit is closed.') : h('p', null, 'Open: ', open.map((c) => c.name).join(', ')),
        );
      },
      { feature: 'Breakers' },
    ),
  );
}

function discoveryTile(ctx) {
  return tile(
    'Discovery',
    '#/discovery',
    fromResult(
      ctx.result('registry'),
      'the registry',
      (report) => {
        const instances = (report.apps ?? []).flatMap((app) => app.instances);
        const up = instances.filter((i) => i.status === 'UP').length;
        return h(
          'div',
          { class: 'tile-body' },
          h('div', { class: 'stats' }, stat('apps', (report.apps ?? []).length), stat('instances UP', `${up} / ${instances.length}`, { toneName: up === instances.length ? 'good' : 'warn' })),
        );
      },
      { feature: 'The registry view' },
    ),
  );
}
