// Over 500 lines because the views by app, VIP and query string, their bounds and the change events are kept
// consistent with one instance map in one place: a split would share that map's invariants across files.
import { EventEmitter } from 'eventemitter3';
import type { InstanceModification, InstanceStatus, RegistryChange, RegistryInstance } from './types.js';

const EMPTY: readonly RegistryInstance[] = Object.freeze([]);
/** Bound on the views (and on the distinct query strings) kept. */
const MAX_VIEWS = 10_000;

/** How two records of the same instance are compared; equal records are not a change. */
export type InstanceEquality = (a: RegistryInstance, b: RegistryInstance) => boolean;

/** Options of {@link InstanceCache}. */
export interface InstanceCacheOptions {
  /**
   * Decides whether a re-applied record differs from the one held. A registry whose records have a cheaper
   * exact comparison (shared parts compared by identity) passes it here.
   * @default sameInstance
   */
  readonly equals?: InstanceEquality;
  /**
   * Receives what a change listener throws, so one failing listener neither stops the others nor fails the
   * batch. Without it, the error is thrown to whoever applied the batch, after every listener ran.
   */
  readonly onListenerError?: (error: unknown) => void;
}

interface CacheEvents {
  change: [change: RegistryChange];
}

/**
 * The instances of one app, or of one VIP (or a comma list of VIPs), as last built. Views are built only for
 * the keys someone asked for, so the cache costs nothing per instance for apps nobody calls.
 */
interface View {
  /** The VIPs (lower case) or the one app name (upper case) this view collects. */
  readonly names: readonly string[];
  readonly byApp: boolean;
  all: RegistryInstance[];
  up: RegistryInstance[];
}

/** What names one record: its app and its id (two apps may carry the same instance id, as in Eureka). */
export interface InstanceKey {
  /** The application, as the record names it. */
  readonly app: string;
  /** The instance id, unique within its app. */
  readonly instanceId: string;
}

/**
 * A registry's view of every instance: indexed by app, then id (as Eureka's own client keys it, so two apps
 * that share an instance id are two records), with views by app and by VIP built on demand and then
 * kept as frozen arrays until the view changes, so a balancer reads its candidates without allocating.
 * Batches are applied whole and reported as one change; applying the same batch twice reports nothing.
 * Counts of instances by status are kept as batches apply (Eureka's `apps__hashcode` is made from them).
 */
export class InstanceCache {
  /** Records by app, then by id: no key string is built per record. */
  #apps = new Map<string, Map<string, RegistryInstance>>();
  #size = 0;
  /** Bumped by every batch applied, so a replacement compared across tasks knows whether it still holds. */
  #version = 0;
  readonly #events = new EventEmitter<CacheEvents>();
  readonly #equals: InstanceEquality;
  readonly #onListenerError: ((error: unknown) => void) | undefined;
  readonly #statusCounts = new Map<InstanceStatus, number>();
  /** Views by normalized key: `a:APP` or `v:vip1,vip2`. */
  readonly #views = new Map<string, View>();
  /** Views by the exact string asked for, so a read that hits costs one map lookup and no allocation. */
  readonly #appQueries = new Map<string, View>();
  readonly #vipQueries = new Map<string, View>();
  /** Set when a change made every view stale; they are rebuilt, in one pass, at the next read. */
  #stale = false;
  /** The views by app name and by VIP, for patching them; made again when views are added or dropped. */
  #viewIndex: ViewIndex | undefined;
  /** The VIP keys of each distinct `vipAddress` string seen, so a rebuild does not split strings again. */
  readonly #vipKeys = new Map<string, readonly string[]>();
  /**
   * The apps whose records serve each VIP (lower case), or did: a superset, made exact again by each full
   * replacement. A view is filled from the records of its apps alone, so the first read of a VIP after a
   * fetch of 100,000 instances does not walk them all.
   */
  #vipApps: VipApps = new Map();
  /** The index, app and `vipAddress` last noted (see #noteVips): the records of an app come together. */
  #notedIn: VipApps | undefined;
  #notedApp = '';
  #notedVips = '';
  /** Scratch list of the views a changed record is in, reused by every patch. */
  readonly #found: View[] = [];

  /** @param options - how records are compared, where listener errors go */
  constructor(options: InstanceCacheOptions = {}) {
    this.#equals = options.equals ?? sameInstance;
    this.#onListenerError = options.onListenerError;
  }

  /** Number of instances of every status. */
  get size(): number {
    return this.#size;
  }

  /** Moves at every batch applied and every replacement, changing anything or not: the same version, the same records. */
  get version(): number {
    return this.#version;
  }

  /** The records by app, then id: read-only, and replaced (not changed in place) by a full replacement. */
  records(): ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>> {
    return this.#apps;
  }

  /** Every instance, app by app, in insertion order. */
  *all(): IterableIterator<RegistryInstance> {
    for (const records of this.#apps.values()) yield* records.values();
  }

  /**
   * One instance by id, in `app` when given; without it, the first app's record with that id (ids are unique
   * in a fleet that does not reuse them across apps).
   */
  get(instanceId: string, app?: string): RegistryInstance | undefined {
    if (app !== undefined) return this.#apps.get(app)?.get(instanceId) ?? this.#apps.get(app.toUpperCase())?.get(instanceId);
    for (const records of this.#apps.values()) {
      const held = records.get(instanceId);
      if (held !== undefined) return held;
    }
    return undefined;
  }

  /** How many instances have each status (statuses with none are absent). */
  statusCounts(): ReadonlyMap<InstanceStatus, number> {
    return this.#statusCounts;
  }

  /** Every instance of an application (any status), by name, case-insensitively. */
  byApp(app: string): readonly RegistryInstance[] {
    return this.#view(app, true)?.all ?? EMPTY;
  }

  /** Every instance serving the VIP (any status); a comma list gives the instances serving any of them. */
  byVip(vip: string): readonly RegistryInstance[] {
    return this.#view(vip, false)?.all ?? EMPTY;
  }

  /** The UP instances serving the VIP (or any VIP of a comma list); the same array until the view changes. */
  upByVip(vip: string): readonly RegistryInstance[] {
    return this.#view(vip, false)?.up ?? EMPTY;
  }

  /** Calls `listener` after each batch that changed something; returns a function that unsubscribes. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /**
   * Upserts and removals (by app and id) in one batch; emits one change if anything differs. An upsert equal
   * to the record held keeps the held object, so identities (and the arrays of views) stay stable across
   * re-applied data. A record may appear more than once: what counts is its state before and after the batch.
   */
  apply(upserts: Iterable<RegistryInstance>, removals: Iterable<InstanceKey> = []): RegistryChange {
    this.#version++;
    // Each record touched, once, with its state before the batch, compared at the end with its state after it.
    // A delta touches a hundred records of a view of 100,000: the batch is kept in flat arrays, and nothing is
    // allocated per record touched or per app, so a delta costs the records it names.
    const touched = new Touched();
    for (const instance of upserts) {
      const { app, instanceId: id } = instance;
      let records = this.#apps.get(app);
      if (records === undefined) this.#apps.set(app, (records = new Map<string, RegistryInstance>()));
      const held = records.get(id);
      touched.add(app, records, id, held);
      if (held !== undefined && (held === instance || this.#equals(held, instance))) continue;
      records.set(id, instance);
      // A held record's VIPs are noted already: a change of status or address notes nothing.
      if (held === undefined || held.vipAddress !== instance.vipAddress) this.#noteVips(this.#vipApps, instance);
    }
    for (const { app, instanceId } of removals) {
      const records = this.#apps.get(app);
      const held = records?.get(instanceId);
      if (records === undefined || held === undefined) continue;
      touched.add(app, records, instanceId, held);
      records.delete(instanceId);
    }
    const added: RegistryInstance[] = [];
    const removed: RegistryInstance[] = [];
    const modified: InstanceModification[] = [];
    const { apps, maps, ids, previous: before } = touched;
    for (let i = 0; i < ids.length; i++) {
      const records = maps[i]!;
      const id = ids[i]!;
      const previous = before[i];
      const current = records.get(id);
      if (previous === current) continue;
      if (previous === undefined) {
        added.push(current!);
        this.#size++;
        this.#count(current!.status, 1);
      } else if (current === undefined) {
        removed.push(previous);
        this.#size--;
        this.#count(previous.status, -1);
        const app = apps[i]!;
        if (records.size === 0 && this.#apps.get(app) === records) this.#apps.delete(app);
      } else if (this.#equals(previous, current)) {
        // Changed and changed back within the batch: keep the object the views already hold.
        records.set(id, previous);
      } else {
        modified.push({ previous, current });
        this.#count(previous.status, -1);
        this.#count(current.status, 1);
      }
    }
    return this.#emit({ added, removed, modified });
  }

  /** Makes the view exactly `instances` (a full fetch); emits the difference. */
  replaceAll(instances: Iterable<RegistryInstance>): RegistryChange {
    if (this.#size === 0) return this.#fillEmpty(instances);
    const incoming = new Map<string, Set<string>>();
    const list: RegistryInstance[] = [];
    for (const instance of instances) {
      list.push(instance);
      let ids = incoming.get(instance.app);
      if (ids === undefined) incoming.set(instance.app, (ids = new Set()));
      ids.add(instance.instanceId);
    }
    const removals: InstanceKey[] = [];
    for (const [app, records] of this.#apps) {
      const ids = incoming.get(app);
      for (const held of records.values()) if (ids?.has(held.instanceId) !== true) removals.push(held);
    }
    return this.apply(list, removals);
  }

  /** The first full fetch: everything is new, no comparison to make (the last record of a key wins). */
  #fillEmpty(instances: Iterable<RegistryInstance>): RegistryChange {
    this.#version++;
    for (const instance of instances) {
      let records = this.#apps.get(instance.app);
      if (records === undefined) this.#apps.set(instance.app, (records = new Map<string, RegistryInstance>()));
      const held = records.get(instance.instanceId);
      if (held === undefined) this.#size++;
      else this.#count(held.status, -1);
      records.set(instance.instanceId, instance);
      this.#noteVips(this.#vipApps, instance);
      this.#count(instance.status, 1);
    }
    return this.#emit({ added: [...this.all()], removed: [], modified: [] });
  }

  /**
   * Makes the view exactly `next` (records by app, then id), as {@link InstanceCache.replaceAll} does, but
   * compares it with the view held a slice at a time (about `sliceMs` of work each), awaiting `pause()` between
   * slices, so that a registry of 100,000 instances never holds the event loop for long. Readers see the old
   * view until the new one is put in place, whole, at the end; the views by app and VIP asked for so far are
   * rebuilt in slices too. `next` becomes the cache's own. If another batch is applied meanwhile, the
   * replacement is finished in one go instead.
   */
  async replaceInSlices(next: Map<string, Map<string, RegistryInstance>>, pause: () => Promise<void>, sliceMs = 4): Promise<RegistryChange> {
    const version = this.#version;
    for (const [app, records] of next) if (records.size === 0) next.delete(app);
    const views = [...this.#views.values()];
    // The views asked for so far, filled from the new records into fresh arrays (readers keep the old ones).
    const fresh = views.map((view): View => ({ names: view.names, byApp: view.byApp, all: [], up: [] }));
    const pass: Replacement = {
      next,
      added: [],
      removed: [],
      modified: [],
      counts: new Map(),
      vipApps: new Map(),
      size: 0,
      step: 0,
      walk: new RecordWalk(next),
      otherOf: undefined,
      other: EMPTY_APP,
      index: indexViews(fresh),
      fill: fresh.length > 0,
    };
    // Each step is a plain loop that stops when its slice's time is up, this function only awaiting between
    // them: with the loops and their awaits in one async function, V8 took 60 to 90 ms of a compiler thread to
    // optimize it during a client's first fetch, CPU the decoding worker wanted too.
    while (!this.#replaceSlice(pass, performance.now() + sliceMs)) {
      await pause();
      if (this.#version !== version) return this.replaceAll(flatten(next));
    }
    if (this.#version !== version) return this.replaceAll(flatten(next));
    this.#version++;
    this.#apps = next;
    this.#vipApps = pass.vipApps;
    this.#size = pass.size;
    this.#statusCounts.clear();
    for (const [status, count] of pass.counts) this.#statusCounts.set(status, count);
    views.forEach((view, i) => {
      view.all = Object.freeze(fresh[i]!.all) as RegistryInstance[];
      view.up = Object.freeze(fresh[i]!.up) as RegistryInstance[];
    });
    const change = { added: pass.added, removed: pass.removed, modified: pass.modified };
    if (change.added.length + change.removed.length + change.modified.length === 0) return change;
    // Views made while the slices ran were filled from the old records: rebuilt at the next read.
    if (this.#views.size !== views.length || views.some((view) => this.#views.get(viewKey(view)) !== view)) this.#stale = true;
    return this.#emit(change, true);
  }

  /**
   * Goes on with a replacement until it is done (true) or `deadline` has passed (false), the time read every 128
   * records: the new records compared with those held, then the held ones the new view drops, then the views
   * asked for filled from the new records.
   */
  #replaceSlice(pass: Replacement, deadline: number): boolean {
    let work = 0;
    const { next } = pass;
    while (pass.step === 0) {
      const { walk } = pass;
      const record = walk.next();
      if (record === undefined) {
        pass.step = 1;
        pass.walk = new RecordWalk(this.#apps);
        break;
      }
      // The records held of the walk's app, looked up once per app.
      if (walk.records !== pass.otherOf) {
        pass.otherOf = walk.records;
        pass.other = this.#apps.get(walk.app) ?? EMPTY_APP;
      }
      const held = pass.other.get(record.instanceId);
      if (held === undefined) pass.added.push(record);
      else if (held === record || this.#equals(held, record)) walk.records!.set(record.instanceId, held);
      else pass.modified.push({ previous: held, current: record });
      pass.counts.set(record.status, (pass.counts.get(record.status) ?? 0) + 1);
      this.#noteVips(pass.vipApps, record);
      pass.size++;
      if ((++work & 127) === 0 && performance.now() >= deadline) return false;
    }
    while (pass.step === 1) {
      const { walk } = pass;
      const held = walk.next();
      if (held === undefined) {
        pass.step = 2;
        pass.walk = new RecordWalk(pass.fill ? next : EMPTY_RECORDS);
        break;
      }
      // The new records of the walk's app, looked up once per app.
      if (walk.records !== pass.otherOf) {
        pass.otherOf = walk.records;
        pass.other = next.get(walk.app) ?? EMPTY_APP;
      }
      if (!pass.other.has(held.instanceId)) pass.removed.push(held);
      if ((++work & 127) === 0 && performance.now() >= deadline) return false;
    }
    for (;;) {
      const record = pass.walk.next();
      if (record === undefined) return true;
      this.#addToViews(record, pass.index);
      if ((++work & 127) === 0 && performance.now() >= deadline) return false;
    }
  }

  /**
   * Updates only the views a change touches, each from its own previous array: a delta of a few instances
   * costs the size of the views of their apps and VIPs, not of the registry, and the other views keep their
   * arrays. A change of more than an eighth of the records rebuilds every view in one pass instead.
   */
  #patchViews(change: RegistryChange): void {
    if (this.#stale || this.#views.size === 0) return;
    const touched = change.added.length + change.removed.length + change.modified.length;
    if (touched * 8 > this.#size) {
      this.#stale = true;
      return;
    }
    const index = (this.#viewIndex ??= indexViews([...this.#views.values()]));
    // Most changed records are in no view asked for: finding that allocates nothing (one scratch array).
    const found = this.#found;
    let patches: Map<View, ViewPatch> | undefined;
    const patchOf = (view: View): ViewPatch => {
      patches ??= new Map();
      let patch = patches.get(view);
      if (patch === undefined) patches.set(view, (patch = { out: new Set(), swap: new Map(), add: new Set() }));
      return patch;
    };
    for (const instance of change.removed) {
      if (this.#viewsOf(instance, index, found)) for (const view of found) patchOf(view).out.add(instance);
    }
    for (const instance of change.added) {
      if (this.#viewsOf(instance, index, found)) for (const view of found) patchOf(view).add.add(instance);
    }
    for (const { previous, current } of change.modified) {
      if (previous.app === current.app && previous.vipAddress === current.vipAddress) {
        // The same app and VIPs (a status or address change): the record is swapped in the views it is in.
        if (this.#viewsOf(current, index, found)) for (const view of found) patchOf(view).swap.set(previous, current);
        continue;
      }
      const now = new Set<View>();
      if (this.#viewsOf(current, index, found)) for (const view of found) now.add(view);
      if (this.#viewsOf(previous, index, found)) {
        for (const view of found) {
          if (now.delete(view)) patchOf(view).swap.set(previous, current);
          else patchOf(view).out.add(previous);
        }
      }
      for (const view of now) patchOf(view).add.add(current);
    }
    found.length = 0;
    if (patches === undefined) return;
    for (const [view, { out, swap, add }] of patches) {
      const all: RegistryInstance[] = [];
      const up: RegistryInstance[] = [];
      const keep = (instance: RegistryInstance): void => {
        all.push(instance);
        if (instance.status === 'UP') up.push(instance);
      };
      for (const held of view.all) if (!out.has(held)) keep(swap.get(held) ?? held);
      for (const instance of add) keep(instance);
      view.all = Object.freeze(all) as RegistryInstance[];
      view.up = Object.freeze(up) as RegistryInstance[];
    }
  }

  /** Puts in `found` the views of `index` that `instance` belongs to; false when there are none. */
  #viewsOf(instance: RegistryInstance, { byApp, byVip }: ViewIndex, found: View[]): boolean {
    found.length = 0;
    if (byApp.size > 0) for (const view of byApp.get(instance.app.toUpperCase()) ?? EMPTY_VIEWS) found.push(view);
    if (byVip.size > 0) {
      const { vipAddress } = instance;
      // The usual address is one VIP, already its own key: looked up as it is, in the few views asked for.
      if (isOneVipKey(vipAddress)) {
        for (const view of byVip.get(vipAddress) ?? EMPTY_VIEWS) if (!found.includes(view)) found.push(view);
      } else {
        for (const vip of this.#vipKeysOf(vipAddress)) {
          for (const view of byVip.get(vip) ?? EMPTY_VIEWS) if (!found.includes(view)) found.push(view);
        }
      }
    }
    return found.length > 0;
  }

  #count(status: InstanceStatus, delta: number): void {
    const count = (this.#statusCounts.get(status) ?? 0) + delta;
    if (count === 0) this.#statusCounts.delete(status);
    else this.#statusCounts.set(status, count);
  }

  /** Brings the views up to date with a change (before listeners, which may read them), then tells the listeners. */
  #emit(change: RegistryChange, viewsDone = false): RegistryChange {
    if (change.added.length + change.removed.length + change.modified.length === 0) return change;
    if (!viewsDone) this.#patchViews(change);
    const errors: unknown[] = [];
    for (const listener of this.#events.listeners('change')) {
      try {
        listener(change);
      } catch (error) {
        if (this.#onListenerError === undefined) errors.push(error);
        else this.#onListenerError(error);
      }
    }
    if (errors.length > 0) throw errors[0];
    return change;
  }

  #view(query: string, byApp: boolean): View | undefined {
    if (this.#stale) this.#rebuild();
    const queries = byApp ? this.#appQueries : this.#vipQueries;
    const hit = queries.get(query);
    if (hit !== undefined) return hit;
    const names = byApp ? [query.trim().toUpperCase()] : splitVips(query);
    if (names.length === 0 || names[0] === '') return undefined;
    let view = this.#views.get(viewKey({ names, byApp }));
    if (view === undefined) {
      // Views live as long as the cache; a caller asking for ever new names must not grow it without end.
      if (this.#views.size >= MAX_VIEWS) this.#dropViews();
      view = { names, byApp, all: [], up: [] };
      this.#fill([view]);
      this.#views.set(viewKey(view), view);
      this.#viewIndex = undefined;
    }
    if (queries.size < MAX_VIEWS) queries.set(query, view);
    return view;
  }

  #dropViews(): void {
    this.#viewIndex = undefined;
    this.#views.clear();
    this.#appQueries.clear();
    this.#vipQueries.clear();
  }

  /** Rebuilds every view in one pass over the instances. */
  #rebuild(): void {
    this.#stale = false;
    if (this.#vipKeys.size > MAX_VIEWS) this.#vipKeys.clear();
    this.#fill([...this.#views.values()]);
  }

  /** Fills `views` from scratch with one pass over the instances, then freezes their arrays. */
  #fill(views: readonly View[]): void {
    for (const view of views) {
      view.all = [];
      view.up = [];
    }
    const index = indexViews(views);
    // Only the apps that can hold a record of these views are walked, in the order of the view.
    const wanted = new Set<string>();
    for (const name of index.byVip.keys()) {
      const apps = this.#vipApps.get(name);
      if (typeof apps === 'string') wanted.add(apps);
      else for (const app of apps ?? EMPTY_APPS) wanted.add(app);
    }
    for (const [app, records] of this.#apps) {
      if (!wanted.has(app) && (index.byApp.size === 0 || !index.byApp.has(app.toUpperCase()))) continue;
      for (const instance of records.values()) this.#addToViews(instance, index);
    }
    for (const view of views) {
      Object.freeze(view.all);
      Object.freeze(view.up);
    }
  }

  /** Adds an instance to the views of `index` it belongs to. */
  #addToViews(instance: RegistryInstance, { byApp, byVip }: ViewIndex): void {
    if (byApp.size > 0) {
      for (const view of byApp.get(instance.app.toUpperCase()) ?? EMPTY_VIEWS) add(view, instance);
    }
    if (byVip.size > 0) {
      for (const vip of this.#vipKeysOf(instance.vipAddress)) {
        for (const view of byVip.get(vip) ?? EMPTY_VIEWS) add(view, instance);
      }
    }
  }

  /** Notes in `vipApps` the VIPs `instance` serves, under its app. */
  #noteVips(vipApps: VipApps, instance: RegistryInstance): void {
    const { app, vipAddress } = instance;
    if (vipApps === this.#notedIn && app === this.#notedApp && vipAddress === this.#notedVips) return;
    this.#notedIn = vipApps;
    this.#notedApp = app;
    this.#notedVips = vipAddress;
    for (const vip of this.#vipKeysOf(vipAddress)) {
      const apps = vipApps.get(vip);
      if (apps === undefined) vipApps.set(vip, app);
      else if (typeof apps !== 'string') apps.add(app);
      else if (apps !== app) vipApps.set(vip, new Set([apps, app]));
    }
  }

  #vipKeysOf(vipAddress: string): readonly string[] {
    let keys = this.#vipKeys.get(vipAddress);
    if (keys === undefined) {
      // Copied to its exact length: the array split fills keeps room for 17 VIPs, 128 bytes more per address.
      keys = Object.freeze(splitVips(vipAddress).slice());
      this.#vipKeys.set(vipAddress, keys);
    }
    return keys;
  }
}

/**
 * The records a batch touched, each once, in the order first touched, with the record held before the batch:
 * parallel arrays, and the index of each id's first touch to find a record touched again.
 */
class Touched {
  readonly apps: string[] = [];
  readonly maps: Map<string, RegistryInstance>[] = [];
  readonly ids: string[] = [];
  readonly previous: (RegistryInstance | undefined)[] = [];
  readonly #firstById = new Map<string, number>();
  /** `app NUL id` of the records touched whose id an earlier record of another app has too (rare). */
  #shared: Set<string> | undefined;

  /** Notes the record `id` of `app` (held in `records`) with its state before the batch, unless already noted. */
  add(app: string, records: Map<string, RegistryInstance>, id: string, held: RegistryInstance | undefined): void {
    const first = this.#firstById.get(id);
    if (first === undefined) this.#firstById.set(id, this.ids.length);
    else if (this.maps[first] === records) return;
    else {
      // Two apps carrying the same instance id: told apart by app.
      const key = `${app}\u0000${id}`;
      this.#shared ??= new Set();
      if (this.#shared.has(key)) return;
      this.#shared.add(key);
    }
    this.apps.push(app);
    this.maps.push(records);
    this.ids.push(id);
    this.previous.push(held);
  }
}

/** Where a replacement in slices is (see InstanceCache.replaceInSlices), and what it found so far. */
interface Replacement {
  readonly next: Map<string, Map<string, RegistryInstance>>;
  readonly added: RegistryInstance[];
  readonly removed: RegistryInstance[];
  readonly modified: InstanceModification[];
  readonly counts: Map<InstanceStatus, number>;
  readonly vipApps: VipApps;
  size: number;
  /** 0: comparing the new records, 1: finding the dropped ones, 2: filling the views. */
  step: 0 | 1 | 2;
  walk: RecordWalk;
  /**
   * The other side's records of the app of `otherOf` (the walk's app): those held while comparing, the new ones
   * while finding the dropped.
   */
  otherOf: ReadonlyMap<string, RegistryInstance> | undefined;
  other: ReadonlyMap<string, RegistryInstance>;
  readonly index: ViewIndex;
  /** Whether views were asked for, to fill. */
  readonly fill: boolean;
}

const EMPTY_RECORDS: ReadonlyMap<string, Map<string, RegistryInstance>> = new Map();
const EMPTY_APP: ReadonlyMap<string, RegistryInstance> = new Map();

/**
 * A walk over records by app, then id, that a slice of work can leave after any record and the next take up:
 * a plain loop calling `next()` is a small function for V8 to optimize, unlike a generator or an async function.
 */
export class RecordWalk<R extends ReadonlyMap<string, RegistryInstance> = Map<string, RegistryInstance>> {
  readonly #apps: MapIterator<[string, R]>;
  #records: MapIterator<RegistryInstance> | undefined;
  /** The app of the record last given, and the map of its records. */
  app = '';
  records: R | undefined;

  constructor(apps: ReadonlyMap<string, R>) {
    this.#apps = apps.entries();
  }

  /** The next record, or undefined when there is none left. */
  next(): RegistryInstance | undefined {
    for (;;) {
      if (this.#records !== undefined) {
        const step = this.#records.next();
        if (step.done !== true) return step.value;
      }
      const app = this.#apps.next();
      if (app.done === true) return undefined;
      [this.app, this.records] = app.value;
      this.#records = this.records.values();
    }
  }
}

const EMPTY_VIEWS: readonly View[] = Object.freeze([]);
const EMPTY_APPS: ReadonlySet<string> = new Set();

/** The apps serving each VIP: the one app as it is (the usual case, and no set to hold), or a set of them. */
type VipApps = Map<string, string | Set<string>>;

/** How one view changes: records that leave it, records replaced by their new state, records that join it. */
interface ViewPatch {
  readonly out: Set<RegistryInstance>;
  readonly swap: Map<RegistryInstance, RegistryInstance>;
  readonly add: Set<RegistryInstance>;
}

/** Views by the app names and by the VIPs they collect. */
interface ViewIndex {
  readonly byApp: Map<string, View[]>;
  readonly byVip: Map<string, View[]>;
}

function indexViews(views: readonly View[]): ViewIndex {
  const byApp = new Map<string, View[]>();
  const byVip = new Map<string, View[]>();
  for (const view of views) for (const name of view.names) push(view.byApp ? byApp : byVip, name, view);
  return { byApp, byVip };
}

/** A view's normalized key: `a:APP` or `v:vip1,vip2`. */
function viewKey(view: Pick<View, 'names' | 'byApp'>): string {
  return `${view.byApp ? 'a' : 'v'}:${view.names.join(',')}`;
}

function* flatten(apps: Map<string, Map<string, RegistryInstance>>): IterableIterator<RegistryInstance> {
  for (const records of apps.values()) yield* records.values();
}

/** Adds an instance to a view once: an instance serving two VIPs of a comma-list view comes up twice in a row. */
function add(view: View, instance: RegistryInstance): void {
  if (view.all[view.all.length - 1] === instance) return;
  view.all.push(instance);
  if (instance.status === 'UP') view.up.push(instance);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** True when `vipAddress` is one VIP spelt as its key (ASCII, no comma, no upper case, no space): its own split. */
function isOneVipKey(vipAddress: string): boolean {
  if (vipAddress.length === 0) return false;
  for (let i = 0; i < vipAddress.length; i++) {
    const code = vipAddress.charCodeAt(i);
    if (code <= 32 || code >= 127 || code === 44 /* , */ || (code >= 65 && code <= 90)) return false;
  }
  return true;
}

/** The VIPs of a comma-separated list: trimmed, lower-cased, without blanks or repeats. */
function splitVips(list: string): string[] {
  const vips: string[] = [];
  for (const part of list.split(',')) {
    const vip = part.trim().toLowerCase();
    if (vip !== '' && !vips.includes(vip)) vips.push(vip);
  }
  return vips;
}

/** The VIP addresses an instance serves: its comma-separated list, lower-cased. */
export function vipsOf(instance: Pick<RegistryInstance, 'vipAddress'>): string[] {
  return splitVips(instance.vipAddress);
}

/** Every field of a {@link RegistryInstance}, for comparisons that must not depend on how a record is built. */
const instanceFields = [
  'instanceId',
  'app',
  'vipAddress',
  'secureVipAddress',
  'hostName',
  'ipAddr',
  'port',
  'portEnabled',
  'securePort',
  'securePortEnabled',
  'zone',
  'homePageUrl',
  'statusPageUrl',
  'healthCheckUrl',
  'leaseRenewalIntervalMs',
  'leaseDurationMs',
  'status',
  'overriddenStatus',
  'lastUpdatedTimestamp',
  'lastDirtyTimestamp',
] as const satisfies readonly Exclude<keyof RegistryInstance, 'metadata'>[];

/**
 * Field-by-field equality of two records (metadata compared entry by entry): a re-applied delta is not a
 * change. Reads the fields, so it works for plain objects and for records whose fields are getters.
 */
export function sameInstance(a: RegistryInstance, b: RegistryInstance): boolean {
  if (a === b) return true;
  for (const key of instanceFields) if (a[key] !== b[key]) return false;
  return sameMetadata(a.metadata, b.metadata);
}

/** Entry-by-entry equality of two metadata maps. */
export function sameMetadata(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}
