// Discovery: every application and instance the service's registry knows, of any status, and how each of the
// service's clients sees the instances of its target: latency estimates, requests in flight, ejections.
import { badge, bar, card, empty, fromResult, pageHead, table, time } from './components.js';
import { h } from './dom.js';
import * as fmt from './format.js';

export const discoveryPage = {
  id: 'discovery',
  title: 'Discovery',
  sources: [{ path: 'registry' }, { path: 'instances' }],
  render(ctx) {
    const self = ctx.result('status')?.data?.instanceId;
    return h(
      'div',
      { class: 'page' },
      pageHead('Discovery', 'The registry as this instance sees it, and the balancer state of each of its clients.'),
      card(
        'Registry',
        { id: 'registry', wide: true },
        fromResult(ctx.result('registry'), 'the registry', (report) => registry(report, self, ctx.now), {
          feature: 'The registry view (GET /registry)',
          hint: 'Add it with registryAdminRoutes(service.admin, service.registry).',
        }),
      ),
      fromResult(ctx.result('instances'), 'the clients', (report) => clients(report, ctx.now), { feature: 'The client view (GET /instances)' }),
    );
  },
};

function registry(report, self, now) {
  const apps = report.apps ?? [];
  if (apps.length === 0) return empty('The registry knows no instance yet');
  return apps.map((app) => {
    const up = app.instances.filter((i) => i.status === 'UP').length;
    return h(
      'div',
      { class: 'app', 'data-key': `app-${app.name}` },
      h('h3', { class: 'app-title' }, app.name, h('span', { class: 'app-count' }, `${up} of ${app.instances.length} UP`)),
      table(
        [{ label: 'Instance', header: true }, { label: 'Status' }, { label: 'Zone' }, { label: 'VIP' }, { label: 'Address' }, { label: 'Updated' }, { label: 'Console' }],
        app.instances.map((i) => [
          h('span', null, h('code', null, i.instanceId), i.instanceId === self ? h('span', { class: 'tag' }, 'this instance') : null),
          h('span', { class: 'cell-badges' }, badge(i.status), i.overriddenStatus && i.overriddenStatus !== 'UNKNOWN' ? h('span', { class: 'tag', title: 'Eureka keeps this status as an override until it is removed' }, `override ${i.overriddenStatus.replaceAll('_', ' ')}`) : null),
          i.zone,
          i.vipAddress,
          h('code', null, `${i.hostName}:${i.port}`, i.ipAddr && i.ipAddr !== i.hostName ? ` (${i.ipAddr})` : ''),
          h('span', { title: fmt.dateTime(i.lastUpdatedTimestamp) }, fmt.ago(i.lastUpdatedTimestamp, now)),
          consoleLink(i, self),
        ]),
        { caption: `Instances of ${app.name}`, className: 'table-registry', rowKeys: app.instances.map((i) => `i-${i.instanceId}`), rowClasses: app.instances.map((i) => (i.instanceId === self ? 'row-self' : undefined)) },
      ),
    );
  });
}

/** A link to another instance's console, from its status page URL; only http(s) URLs become links. */
function consoleLink(instance, self) {
  if (instance.instanceId === self || typeof instance.statusPageUrl !== 'string') return h('span', { class: 'muted' }, '–');
  let url;
  try {
    url = new URL(instance.statusPageUrl);
  } catch {
    return h('span', { class: 'muted' }, '–');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.pathname.endsWith('/status')) return h('span', { class: 'muted' }, '–');
  url.pathname = url.pathname.slice(0, -'status'.length);
  url.search = '';
  url.hash = '';
  return h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer' }, 'open', h('span', { class: 'visually-hidden' }, ` the console of ${instance.instanceId}`));
}

function clients(report, now) {
  const entries = Object.entries(report.vips ?? {}).flatMap(([vip, list]) => list.map((stats, i) => ({ vip, stats, key: `${vip}-${i}` })));
  if (entries.length === 0) {
    return card('Clients', { id: 'clients', wide: true }, empty('This instance has no clients', 'service.client(vip) makes a balanced client; it shows here.'));
  }
  return entries.map(({ vip, stats, key }) => clientCard(vip, stats, key, now));
}

function clientCard(vip, stats, key, now) {
  const instances = stats.instances ?? [];
  const slowest = Math.max(1, ...instances.map((i) => i.ewmaMs ?? 0));
  const fastest = Math.min(...instances.map((i) => i.ewmaMs ?? Infinity));
  const scope = stats.scope ?? {};
  const scopeText = [
    `${scope.candidates ?? 0} candidate${scope.candidates === 1 ? '' : 's'}`,
    scope.zoneAffinity ? `zone ${stats.zone} only` : 'all zones',
    scope.panic ? 'panic mode: too few healthy, ejections ignored' : null,
  ].filter(Boolean);
  return card(
    `Client of ${vip}`,
    { id: `client-${key}`, wide: true, note: `rule ${stats.rule}` },
    h(
      'div',
      { class: 'client-summary' },
      h('span', { class: scope.panic ? 'text-bad' : undefined }, scopeText.join(' · ')),
      h('span', null, `${fmt.count(stats.requests)} calls · ${fmt.count(stats.errors)} errors · ${fmt.count(stats.retries)} retries · ${fmt.count(stats.hedges)} hedges`),
      h('span', null, stats.retryBudget === null ? 'no retry budget' : `retry budget ${fmt.count(stats.retryBudget)} left · ${fmt.count(stats.budgetExhausted)} refused`),
    ),
    instances.length === 0
      ? empty(`No instance of ${vip} is known`)
      : table(
          [
            { label: 'Instance', header: true },
            { label: 'Registry' },
            { label: 'Balancer' },
            { label: 'Latency (EWMA)' },
            { label: 'Avg', numeric: true },
            { label: 'p95', numeric: true },
            { label: 'Pending', numeric: true },
            { label: 'Ejected' },
            { label: 'Tries', numeric: true },
            { label: 'Failed', numeric: true },
          ],
          instances.map((i) => [
            h('span', null, h('code', null, i.instanceId), h('span', { class: 'sub' }, i.zone)),
            badge(i.status),
            h('span', { class: 'cell-badges' }, badge(i.state), i.candidate ? null : h('span', { class: 'tag' }, 'not picked')),
            i.ewmaMs === null ? h('span', { class: 'muted' }, '–') : h('span', { class: 'ewma' }, bar(i.ewmaMs, slowest, { toneName: i.state === 'ejected' ? 'bad' : i.ewmaMs > 2 * fastest ? 'warn' : 'neutral', label: `latency estimate ${fmt.ms(i.ewmaMs)}` }), fmt.ms(i.ewmaMs)),
            fmt.ms(i.averageMs ?? undefined),
            fmt.ms(i.p95Ms ?? undefined),
            fmt.count(i.pending),
            ejected(i, now),
            fmt.count(i.requests),
            h('span', { class: i.failures > 0 ? 'text-bad' : undefined }, `${fmt.count(i.failures)}${i.consecutiveFailures > 0 ? ` (${i.consecutiveFailures} in a row)` : ''}`),
          ]),
          { caption: `Balancer view of ${vip}`, rowKeys: instances.map((i) => `b-${i.instanceId}`) },
        ),
  );
}

function ejected(instance, now) {
  if (instance.ejectedUntil !== null && instance.ejectedUntil > now) {
    return h('span', { class: 'text-bad' }, `for ${fmt.duration(instance.ejectedUntil - now)}`, h('span', { class: 'sub' }, `until `, time(instance.ejectedUntil), ` · ${instance.timesEjected}×`));
  }
  return instance.timesEjected > 0 ? h('span', { class: 'muted' }, `no · ${instance.timesEjected}× before`) : h('span', { class: 'muted' }, 'no');
}
