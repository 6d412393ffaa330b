/** The statsd metric types the relay understands. */
export type StatsdType = 'c' | 'ms' | 'g' | 'h' | 'd' | 's';

/** One parsed statsd line. */
export interface StatsdLine {
  /** The metric name, without Telegraf tags. */
  readonly name: string;
  /** The type letter(s). */
  readonly type: StatsdType;
  /** The value as sent: a number, a signed gauge delta (`+3`, `-2`) or a set member. */
  readonly value: string;
  /** The sample rate (`@0.1`), 1 when absent. */
  readonly rate: number;
  /** Tags sent with the line (DogStatsD `|#k:v` or Telegraf `name,k=v`); a bare DogStatsD tag gets the value `true`. */
  readonly tags: Readonly<Record<string, string>>;
  /** The line without its value: the same for every line of one series, so it keys a cache of handles. */
  readonly seriesKey: string;
}

const TYPES: ReadonlySet<string> = new Set(['c', 'ms', 'g', 'h', 'd', 's']);
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses one line of plain statsd (`name:1|c`), with a sample rate (`|@0.5`) and tags in the DogStatsD
 * (`|#env:prod,canary`) or Telegraf (`name,env=prod:1|c`) format. Unknown trailing sections (DogStatsD's
 * `|c:container`, `|T<timestamp>`) are ignored. Returns the reason as a string when the line is not a metric
 * (an event `_e{`, a service check `_sc|`, a broken line), so the relay can count and report it.
 */
export function parseStatsdLine(line: string): StatsdLine | string {
  if (line.startsWith('_e{') || line.startsWith('_sc|')) return 'DogStatsD events and service checks are not relayed';
  const colon = line.indexOf(':');
  if (colon <= 0) return "no ':' after the metric name";
  const head = line.slice(0, colon);
  const sections = line.slice(colon + 1).split('|');
  if (sections.length < 2) return "no '|type' after the value";
  const value = sections[0] as string;
  const type = sections[1] as string;
  if (!TYPES.has(type)) return `unknown metric type '${type}'`;
  if (type !== 's' && !NUMBER.test(value)) return `value '${value}' is not a number`;
  // A '+' means a delta, which only gauges have; a '-' is a delta for a gauge and a decrement for a counter.
  if (value.startsWith('+') && type !== 'g') return "a '+' value is only meaningful for a gauge";
  let rate = 1;
  const tags: Record<string, string> = {};
  let tagText = '';
  for (let i = 2; i < sections.length; i++) {
    const section = sections[i] as string;
    if (section.startsWith('@')) {
      rate = Number(section.slice(1));
      if (!(rate > 0 && rate <= 1)) return `sample rate '${section}' is not in (0, 1]`;
    } else if (section.startsWith('#')) {
      tagText = section;
      for (const tag of section.slice(1).split(',')) {
        if (tag === '') continue;
        const at = tag.indexOf(':');
        if (at === 0) return `tag '${tag}' has no name`;
        if (at < 0) tags[tag] = 'true';
        else tags[tag.slice(0, at)] = tag.slice(at + 1);
      }
    }
  }
  let name = head;
  const comma = head.indexOf(',');
  if (comma >= 0) {
    name = head.slice(0, comma);
    for (const pair of head.slice(comma + 1).split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) return `Telegraf tag '${pair}' is not key=value`;
      tags[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  if (name.trim() === '') return 'empty metric name';
  return { name, type: type as StatsdType, value, rate, tags, seriesKey: `${head}|${type}|${tagText}` };
}
