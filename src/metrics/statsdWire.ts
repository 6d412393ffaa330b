import type { MetricType, TagFormat, MetricTags } from './types.js';

/** The statsd type letter of each metric type. */
export const statsdTypeCode: Readonly<Record<MetricType, string>> = Object.freeze({
  counter: 'c',
  timer: 'ms',
  gauge: 'g',
  histogram: 'h',
  distribution: 'd',
  set: 's',
});

/**
 * A statsd line split around its value: `head + value + tail` is the whole line. Built once per handle so
 * recording concatenates three strings and nothing else.
 */
export interface StatsdLineParts {
  /** Name (and Telegraf tags) and the colon. */
  readonly head: string;
  /** Type and (DogStatsD) tags. */
  readonly tail: string;
}

// Characters that end a name, a value or a line on the wire. Telegraf also splits on ',' (tags), ' ' and
// '=' (it turns lines into InfluxDB line protocol), so those cannot appear in its names or tags either.
const nameUnsafe = /[:|\n\r]/g;
const telegrafNameUnsafe = /[:|\n\r, =]/g;
const dogstatsdKeyUnsafe = /[:|@,#\n\r]/g;
const dogstatsdValueUnsafe = /[|@,#\n\r]/g;
const telegrafTagUnsafe = /[:|,=\s]/g;
const memberUnsafe = /[:|\n\r]/g;

/** Replaces the characters that would break a statsd line in a metric name. */
export function sanitizeStatsdName(name: string, format: TagFormat): string {
  return name.replace(format === 'telegraf' ? telegrafNameUnsafe : nameUnsafe, '_');
}

/** Replaces the characters that would break a statsd line in a set member. */
export function sanitizeSetMember(member: string | number): string {
  return typeof member === 'number' ? String(member) : member.replace(memberUnsafe, '_');
}

function telegrafTag(text: string): string {
  const clean = text.replace(telegrafTagUnsafe, '_');
  // A trailing backslash would escape the separator after it in line protocol.
  return clean.endsWith('\\') ? `${clean.slice(0, -1)}_` : clean;
}

/** Joins a prefix and a name with a dot, either may be empty. */
export function joinName(prefix: string, name: string): string {
  if (prefix === '') return name;
  if (name === '') return prefix;
  return `${prefix}.${name}`;
}

/**
 * Builds the parts of a statsd line for a metric whose name (already prefixed) and tags are fixed.
 * MetricTags with an empty value are left out; `none` drops tags altogether.
 */
export function statsdLineParts(name: string, type: MetricType, tags: MetricTags, format: TagFormat): StatsdLineParts {
  const safeName = sanitizeStatsdName(name, format);
  const code = statsdTypeCode[type];
  const entries = Object.entries(tags).filter(([, value]) => value !== '');
  if (format === 'none' || entries.length === 0) return { head: `${safeName}:`, tail: `|${code}` };
  if (format === 'telegraf') {
    const text = entries.map(([key, value]) => `${telegrafTag(key)}=${telegrafTag(String(value))}`).join(',');
    return { head: `${safeName},${text}:`, tail: `|${code}` };
  }
  const text = entries
    .map(([key, value]) => `${key.replace(dogstatsdKeyUnsafe, '_')}:${String(value).replace(dogstatsdValueUnsafe, '_')}`)
    .join(',');
  return { head: `${safeName}:`, tail: `|${code}|#${text}` };
}
