// A parser of the Prometheus text exposition format (0.0.4), enough for `GET /metrics`: HELP and TYPE lines,
// samples with labels and escapes, special values (+Inf, -Inf, NaN), optional timestamps. Histogram and summary
// samples (`_bucket`, `_sum`, `_count`) are filed under their family. A line that does not parse is counted and
// skipped, never fatal.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;
const SUFFIXES = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/**
 * Parses exposition text. Returns `{ families, skipped }`: families in order of appearance, each
 * `{ name, type, help, samples: [{ name, labels, value }] }`; `skipped` counts lines that did not parse.
 */
export function parsePrometheus(text) {
  const families = new Map();
  let skipped = 0;
  const family = (name) => {
    let entry = families.get(name);
    if (entry === undefined) {
      entry = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, entry);
    }
    return entry;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const match = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
      if (match === null) continue;
      const [, keyword, name, rest] = match;
      if (keyword === 'HELP') family(name).help = rest.replaceAll(/\\(n|\\)/g, (_, c) => (c === 'n' ? '\n' : '\\'));
      else family(name).type = rest.trim() || 'untyped';
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) {
      skipped++;
      continue;
    }
    const [, name, labelText, valueText] = match;
    const labels = labelText === undefined ? {} : parseLabels(labelText.slice(1, -1));
    const value = parseValue(valueText);
    if (labels === undefined || value === undefined) {
      skipped++;
      continue;
    }
    family(familyName(name, families)).samples.push({ name, labels, value });
  }
  return { families: [...families.values()].filter((f) => f.samples.length > 0), skipped };
}

/** The family a sample belongs to: its own name, or the histogram or summary it is a part of. */
function familyName(sample, families) {
  if (families.has(sample)) return sample;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!sample.endsWith(suffix)) continue;
      const base = sample.slice(0, -suffix.length);
      if (families.get(base)?.type === type) return base;
    }
  }
  return sample;
}

function parseLabels(text) {
  const labels = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (match === null) return text.slice(start).trim() === '' ? labels : undefined;
    labels[match[1]] = match[2].replaceAll(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(text) {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default: {
      const value = Number(text);
      return text !== '' && !Number.isNaN(value) ? value : undefined;
    }
  }
}

/**
 * Estimates a quantile (0..1) from cumulative histogram buckets `[{ le, count }]`, as PromQL's
 * histogram_quantile does: linear interpolation within the bucket that holds the rank.
 */
export function histogramQuantile(q, buckets) {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const { le, count } of sorted) {
    if (count >= rank) {
      if (le === Infinity) return previousLe;
      const inBucket = count - previousCount;
      return inBucket === 0 ? le : previousLe + ((le - previousLe) * (rank - previousCount)) / inBucket;
    }
    previousLe = le;
    previousCount = count;
  }
  return previousLe;
}
