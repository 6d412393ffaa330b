import { describe, expect, it } from 'vitest';
import { ViewGuard } from '../../src/registry/eureka/ViewGuard.js';
import type { RegistryInstance, ViewProtectionEvent } from 'karyon-ts';
import { testInstance } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';

function records(app: string, count: number): RegistryInstance[] {
  return Array.from({ length: count }, (_, i) => ({ ...testInstance({ instanceId: `${app}-${i}`, app, port: 8000 + i }), status: 'UP' }) as RegistryInstance);
}

/** Records by app, then id, as the cache holds them and a full fetch lists them. */
function byApp(list: readonly RegistryInstance[]): Map<string, Map<string, RegistryInstance>> {
  const apps = new Map<string, Map<string, RegistryInstance>>();
  for (const record of list) {
    const ids = apps.get(record.app) ?? new Map<string, RegistryInstance>();
    apps.set(record.app, ids.set(record.instanceId, record));
  }
  return apps;
}

function guard(ratio = 0.5, maxMs = 10_000) {
  const events: ViewProtectionEvent[] = [];
  const logger = memoryLogger();
  return { events, logger, guard: new ViewGuard(() => ({ ratio, maxMs, logger, onChange: (event) => events.push(event) })) };
}

describe('ViewGuard', () => {
  it('keeps an app whose full fetch lists fewer than the ratio of the held instances, until all are listed again', () => {
    const { guard: g, events } = guard();
    const held = [...records('A', 4), ...records('B', 2)];
    // A: 1 of 4 listed (below half): the three missing are kept; B: 1 of 2 (half) is accepted as it is.
    const kept = g.keep(byApp(held), byApp([held[0]!, held[4]!]), 0);
    expect(kept.map((r) => r.instanceId)).toEqual(['A-1', 'A-2', 'A-3']);
    expect(g.protectedApps).toEqual([{ app: 'A', held: 4, listed: 1, since: 0 }]);
    // Three of four back: still keeping the last one.
    const b = held.slice(4);
    expect(g.keep(byApp(held), byApp([...held.slice(0, 3), ...b]), 100).map((r) => r.instanceId)).toEqual(['A-3']);
    expect(g.keep(byApp(held), byApp(held), 200)).toEqual([]);
    expect(g.protecting).toBe(false);
    expect(events.map((e) => [e.app, e.protecting, e.reason, e.held, e.listed])).toEqual([
      ['A', true, 'shrunk', 4, 1],
      ['A', false, 'converged', 4, 4],
    ]);
  });

  it('accepts the registry after maxMs, and never protects with ratio 0 or on a first fetch', () => {
    const { guard: g, events, logger } = guard(0.5, 1000);
    const held = records('A', 3);
    expect(g.keep(byApp(held), byApp([]), 0)).toHaveLength(3);
    expect(g.keep(byApp(held), byApp([]), 999)).toHaveLength(3);
    expect(g.keep(byApp(held), byApp([]), 1000)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ protecting: false, reason: 'expired', held: 3, listed: 0 });
    expect(logger.lines.at(-1)).toMatch(/^warn eureka view of A: accepting after 1000 ms that the registry lists only 0 of the 3/);
    expect(guard(0).guard.keep(byApp(held), byApp([]), 0)).toEqual([]);
    expect(guard().guard.keep(byApp([]), byApp([]), 0)).toEqual([]);
  });
});
