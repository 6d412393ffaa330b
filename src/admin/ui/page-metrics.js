// Metrics: the Prometheus exposition of `GET /metrics`, parsed in the browser and kept for the last minute or
// so, so each family shows its recent values: rates for counters, values for gauges, rates and estimated
// percentiles for histograms. Labels every series shares (app, instance, zone, version) are shown once.
import { badge, empty, fromResult, pageHead, sparkline, table } from './components.js';
import { h } from './dom.js';
import * as fmt from './format.js';
import { histogramQuantile, parsePrometheus } from './prometheus.js';

const KEEP = 40;

let filter = '';
const open = new Set();
/** Recent scrapes: `{ at, values: Map<seriesKey, number> }`, oldest first. */
const scrapes = [];
let lastIngested;
let parsed;

export const metricsPage = {
  id: 'metrics',
  title: 'Metrics',
  sources: [{ path: 'metrics', as: 'text' }],
  onInput(name, value) {
    if (name === 'metrics-filter') filter = value;
  },
  onToggle(key, isOpen) {
    if (isOpen) open.add(key);
    else open.delete(key);
  },
  render(ctx) {
    const result = ctx.result('metrics');
    if (result?.data !== undefined && result.at !== lastIngested) ingest(result);
    return h(
      'div',
      { class: 'page' },
      pageHead('Metrics', 'Recent values of the Prometheus exposition, scraped by this page every few seconds.'),
      fromResult(result, 'the metrics', () => families(), {
        feature: 'The Prometheus exposition (GET /metrics)',
        hint: 'Create the service with metrics: { prometheus: true } to see its metrics here.',
      }),
    );
  },
};

function ingest(result) {
  lastIngested = result.at;
  parsed = parsePrometheus(result.data);
  const values = new Map();
  for (const family of parsed.families) for (const sample of family.samples) values.set(seriesKey(sample.name, sample.labels), sample.value);
  scrapes.push({ at: result.at, values });
  if (scrapes.length > KEEP) scrapes.shift();
}

function seriesKey(name, labels) {
  return `${name}{${Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;
}

/** Values of one series over the kept scrapes, oldest first. */
function recent(key) {
  return scrapes.map((scrape) => ({ at: scrape.at, value: scrape.values.get(key) })).filter((point) => point.value !== undefined);
}

/** Per-second rates between consecutive scrapes; a counter reset gives no rate for that step. */
function rates(points) {
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const dt = (points[i].at - points[i - 1].at) / 1000;
    const dv = points[i].value - points[i - 1].value;
    if (dt > 0 && dv >= 0) out.push(dv / dt);
  }
  return out;
}

/** Element-wise sum of series histories aligned on the newest scrape. */
function sumSeries(lists) {
  const length = Math.max(0, ...lists.map((l) => l.length));
  const out = new Array(length).fill(0);
  for (const list of lists) list.forEach((v, i) => (out[i + length - list.length] += v));
  return out;
}

function families() {
  if (parsed === undefined) return empty('No metrics yet');
  const all = parsed.families;
  const common = commonLabels(all);
  const needle = filter.trim().toLowerCase();
  const shown = needle === '' ? all : all.filter((f) => f.name.toLowerCase().includes(needle) || f.help.toLowerCase().includes(needle));
  const windowSeconds = scrapes.length > 1 ? Math.round((scrapes.at(-1).at - scrapes[0].at) / 1000) : 0;
  return [
    h(
      'div',
      { class: 'toolbar' },
      h(
        'label',
        { class: 'filter' },
        h('span', { class: 'filter-label' }, 'Filter metrics'),
        h('input', { type: 'search', class: 'input', 'data-input': 'metrics-filter', 'data-key': 'metrics-filter', value: filter, placeholder: 'e.g. client, breaker, health', autocomplete: 'off', spellcheck: 'false' }),
      ),
      h(
        'p',
        { class: 'muted' },
        `${all.length} families · ${scrapes.length} scrapes over ${windowSeconds} s`,
        parsed.skipped > 0 ? ` · ${parsed.skipped} lines could not be read` : '',
        Object.keys(common).length > 0 ? ' · every series has ' : '',
        Object.entries(common).map(([k, v]) => h('code', { class: 'label' }, `${k}=${v}`)),
      ),
    ),
    shown.length === 0
      ? empty(`No metric matches “${filter}”`)
      : h(
          'div',
          { class: 'families' },
          shown.map((family) => familyView(family, common)),
        ),
  ];
}

function commonLabels(all) {
  let common;
  for (const family of all) {
    for (const sample of family.samples) {
      if (common === undefined) {
        common = { ...sample.labels };
        continue;
      }
      for (const [k, v] of Object.entries(common)) if (sample.labels[k] !== v) delete common[k];
    }
  }
  delete common?.le;
  delete common?.quantile;
  return common ?? {};
}

function own(labels, common) {
  return Object.entries(labels).filter(([k]) => !(k in common));
}

function labelText(labels, common) {
  const list = own(labels, common);
  return list.length === 0 ? h('span', { class: 'muted' }, '(no labels)') : list.map(([k, v]) => h('code', { class: 'label' }, `${k}=${v}`));
}

function familyView(family, common) {
  const view = family.type === 'histogram' ? histogram(family, common) : family.type === 'summary' ? summary(family, common) : simple(family, common);
  const isOpen = open.has(family.name);
  return h(
    'details',
    { class: 'family', 'data-key': `f-${family.name}`, 'data-toggle': family.name, open: isOpen },
    h(
      'summary',
      { class: 'family-summary' },
      h('span', { class: 'family-name' }, h('code', null, family.name), h('span', { class: 'sub' }, family.help)),
      badge(family.type, { label: family.type }),
      h('span', { class: 'family-headline' }, view.headline),
      sparkline(view.trend, { width: 120, height: 28, label: `${family.name}, recent` }),
      h('span', { class: 'family-count' }, `${view.rows.length} series`),
    ),
    // Closed families skip their table: a page of histograms would otherwise build thousands of cells a second.
    isOpen ? table(view.columns, view.rows.map((r) => r.cells), { caption: family.name, rowKeys: view.rows.map((r) => r.key) }) : null,
  );
}

function simple(family, common) {
  const counter = family.type === 'counter';
  const rows = family.samples.map((sample) => {
    const key = seriesKey(sample.name, sample.labels);
    const points = recent(key);
    const trend = counter ? rates(points) : points.map((p) => p.value);
    return {
      key,
      trend,
      cells: [labelText(sample.labels, common), fmt.metricValue(sample.value), counter ? `${fmt.metricValue(trend.at(-1) ?? 0)} /s` : null, sparkline(trend, { width: 100, height: 22 })].filter((c) => c !== null),
    };
  });
  const trend = sumSeries(rows.map((r) => r.trend));
  const headline = counter ? `${fmt.metricValue(trend.at(-1) ?? 0)} /s` : gaugeHeadline(family.samples, common);
  const columns = counter
    ? [{ label: 'Series', header: true }, { label: 'Total', numeric: true }, { label: 'Rate', numeric: true }, { label: 'Recent rate' }]
    : [{ label: 'Series', header: true }, { label: 'Value', numeric: true }, { label: 'Recent' }];
  return { headline, trend, rows, columns };
}

/**
 * One line for a gauge family: its value; for 0/1 gauges of a state (`state="UP"` 1, the others 0) the states
 * that are on; otherwise the total.
 */
function gaugeHeadline(samples, common) {
  if (samples.length === 1) return fmt.metricValue(samples[0].value);
  const keys = [...new Set(samples.flatMap((sample) => Object.keys(sample.labels)))].filter((k) => !(k in common));
  const varying = keys.filter((k) => new Set(samples.map((sample) => sample.labels[k])).size > 1);
  if (samples.every((sample) => sample.value === 0 || sample.value === 1)) {
    const on = samples.filter((sample) => sample.value === 1).map((sample) => varying.map((k) => sample.labels[k]).join(' '));
    const text = on.length === 0 ? 'none on' : on.join(', ');
    return text.length > 40 ? `${on.length} of ${samples.length} on` : text;
  }
  return `total ${fmt.metricValue(samples.reduce((sum, sample) => sum + sample.value, 0))}`;
}

function histogram(family, common) {
  const seconds = family.name.endsWith('_seconds');
  const show = (v) => (v === undefined ? '–' : seconds ? fmt.ms(v * 1000) : fmt.metricValue(v));
  const groups = new Map();
  for (const sample of family.samples) {
    const { le, ...labels } = sample.labels;
    const key = seriesKey(family.name, labels);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { labels, buckets: [], sum: 0, count: 0 }));
    if (sample.name.endsWith('_bucket')) group.buckets.push({ le: Number(le === '+Inf' ? Infinity : le), count: sample.value });
    else if (sample.name.endsWith('_sum')) group.sum = sample.value;
    else if (sample.name.endsWith('_count')) group.count = sample.value;
  }
  const merged = new Map();
  const rows = [...groups].map(([key, group]) => {
    for (const b of group.buckets) merged.set(b.le, (merged.get(b.le) ?? 0) + b.count);
    const trend = rates(recent(seriesKey(`${family.name}_count`, group.labels)));
    return {
      key,
      trend,
      cells: [
        labelText(group.labels, common),
        fmt.count(group.count),
        `${fmt.metricValue(trend.at(-1) ?? 0)} /s`,
        show(group.count > 0 ? group.sum / group.count : undefined),
        show(histogramQuantile(0.5, group.buckets)),
        show(histogramQuantile(0.99, group.buckets)),
        sparkline(trend, { width: 100, height: 22 }),
      ],
    };
  });
  const p99 = histogramQuantile(
    0.99,
    [...merged].map(([le, count]) => ({ le, count })),
  );
  const trend = sumSeries(rows.map((r) => r.trend));
  return {
    headline: `${fmt.metricValue(trend.at(-1) ?? 0)} /s · p99 ${show(p99)}`,
    trend,
    rows,
    columns: [
      { label: 'Series', header: true },
      { label: 'Count', numeric: true },
      { label: 'Rate', numeric: true },
      { label: 'Mean', numeric: true },
      { label: 'p50 (est.)', numeric: true },
      { label: 'p99 (est.)', numeric: true },
      { label: 'Recent rate' },
    ],
  };
}

function summary(family, common) {
  const groups = new Map();
  for (const sample of family.samples) {
    const { quantile, ...labels } = sample.labels;
    const key = seriesKey(family.name, labels);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { labels, quantiles: [], sum: 0, count: 0 }));
    if (quantile !== undefined) group.quantiles.push([quantile, sample.value]);
    else if (sample.name.endsWith('_sum')) group.sum = sample.value;
    else if (sample.name.endsWith('_count')) group.count = sample.value;
  }
  const rows = [...groups].map(([key, group]) => {
    const trend = rates(recent(seriesKey(`${family.name}_count`, group.labels)));
    return {
      key,
      trend,
      cells: [labelText(group.labels, common), fmt.count(group.count), `${fmt.metricValue(trend.at(-1) ?? 0)} /s`, group.quantiles.map(([q, v]) => `q${q}: ${fmt.metricValue(v)}`).join(' · ') || '–', sparkline(trend, { width: 100, height: 22 })],
    };
  });
  const trend = sumSeries(rows.map((r) => r.trend));
  return {
    headline: `${fmt.metricValue(trend.at(-1) ?? 0)} /s`,
    trend,
    rows,
    columns: [{ label: 'Series', header: true }, { label: 'Count', numeric: true }, { label: 'Rate', numeric: true }, { label: 'Quantiles' }, { label: 'Recent rate' }],
  };
}
