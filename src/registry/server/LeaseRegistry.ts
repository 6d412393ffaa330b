// Just over 500 lines because leases, status overrides, eviction and the delta queue change together under
// one lock-free invariant (every change of a lease is queued for the delta in the same step): a split would
// spread that invariant across files.
import type { Clock } from '../../common/Clock.js';
import type { Logger } from '../../common/Logger.js';
import type { ActionType } from '../eureka/wire.js';
import type { InstanceStatus, RegistryInstance } from '../types.js';
import type { EurekaLease } from './EurekaLease.js';
import { leaseExpiresAt } from './EurekaLease.js';
import type { RegisteredDataCenter, Registration } from './parseRegistration.js';
import { decideStatus } from './statusRules.js';
import type { StatusDecision } from './statusRules.js';

// The registry half of the development Eureka server, with no HTTP in it: leases, status overrides, the
// status rules, eviction and the delta queue, as Netflix's AbstractInstanceRegistry keeps them. Where this
// departs from Netflix it says so; everything else is meant to answer exactly as Netflix's server does.

/** Settings of a {@link LeaseRegistry}. */
export interface LeaseRegistryOptions {
  /** Source of time for leases and the delta queue. */
  readonly clock: Clock;
  /** Receives a readable line per registration, status change, cancellation and eviction. */
  readonly logger: Logger;
  /** Lease duration for instances that send none, in ms. */
  readonly leaseDurationMs: number;
  /** How long a change stays in the delta, in ms. */
  readonly deltaRetentionMs: number;
}

/** What a registration did. */
export interface RegisterOutcome {
  /** The lease now held. */
  readonly lease: EurekaLease;
  /** The lease held before, if any. */
  readonly previous: EurekaLease | undefined;
  /** True when the body was older (by `lastDirtyTimestamp`) than the stored record, which was kept. */
  readonly keptStored: boolean;
  /** The status rule that chose the stored status. */
  readonly decision: StatusDecision;
}

/**
 * What a renewal did. Everything but `renewed` is a 404 on the wire, telling the client to re-register:
 * no lease; the status after the rules is UNKNOWN (an override was removed without a value); or the client's
 * `lastDirtyTimestamp` is newer than the stored record's (the server missed an update).
 */
export type RenewOutcome = 'renewed' | 'not-registered' | 'status-unknown' | 'newer-timestamp';

/** One change in the delta queue. */
export interface DeltaEntry {
  /** The lease as it was right after the change. */
  readonly lease: EurekaLease;
  /** What happened. */
  readonly actionType: ActionType;
  /** When (epoch ms). */
  readonly at: number;
}

/** The delta as a reader sees it now. */
export interface DeltaView {
  /** The latest change of each instance changed within the retention, oldest first. */
  readonly changes: readonly DeltaEntry[];
  /** Until when (epoch ms, exclusive) this view holds if nothing else changes: then the oldest change ages out. */
  readonly validUntil: number;
}

const ruleExplanations = {
  OverrideExistsRule: "kept the operator's override (clear it with DELETE .../status)",
  LeaseExistsRule: 'kept by LeaseExistsRule (re-registering cannot move an instance out of UP or OUT_OF_SERVICE: use the status override)',
  DownOrStartingRule: '',
  AlwaysMatchInstanceStatusRule: '',
} as const;

/**
 * Leases, overrides and the delta queue of the development Eureka server, with Netflix's rules. Plain and
 * synchronous, driven by an injected clock, so each rule is testable without sockets.
 */
export class LeaseRegistry {
  readonly #options: LeaseRegistryOptions;
  /** app (upper case) -> instance id -> lease. Ids are unique per app, as in Eureka, not globally. */
  readonly #apps = new Map<string, Map<string, EurekaLease>>();
  /** Operator overrides by app and id (Netflix keys them by id alone; two apps sharing a host name would clash). */
  readonly #overrides = new Map<string, InstanceStatus>();
  /**
   * The delta queue: the latest change of each instance, oldest first. Netflix queues every change and a
   * reader sees only the latest per instance (its Application keeps one entry per id); keeping only that
   * entry gives readers the same view, with no growth when one instance flaps.
   */
  readonly #changes = new Map<string, DeltaEntry>();
  #version = 0;
  #size = 0;
  /** Instances per status, kept as leases change so the hash costs nothing to compute on a large registry. */
  readonly #statusCounts = new Map<InstanceStatus, number>();
  /**
   * Every lease again, grouped by lease duration, each group in the order of last renewal (every write renews,
   * and moves the lease to the end of its group). Within a group the oldest renewal expires first, so an
   * eviction pass reads each group from the front and stops at the first live lease: its cost is the expired
   * leases and the number of distinct durations, not the size of the registry.
   */
  readonly #expiry = new Map<number, Map<string, EurekaLease>>();

  /** @param options - clock, logger, default lease duration and delta retention */
  constructor(options: LeaseRegistryOptions) {
    this.#options = options;
  }

  /** Increments on every change that readers can see (`versions__delta`); renewals are not changes. */
  get version(): number {
    return this.#version;
  }

  /** Number of leases held. */
  get size(): number {
    return this.#size;
  }

  /** The lease of an instance of an app, if held. */
  get(app: string, id: string): EurekaLease | undefined {
    return this.#apps.get(app.toUpperCase())?.get(id);
  }

  /** The first lease with this id in any app (`GET /instances/{ID}`). */
  findById(id: string): EurekaLease | undefined {
    for (const leases of this.#apps.values()) {
      const lease = leases.get(id);
      if (lease !== undefined) return lease;
    }
    return undefined;
  }

  /** The leases of an app (empty when the app has none). */
  app(app: string): EurekaLease[] {
    return [...(this.#apps.get(app.toUpperCase())?.values() ?? [])];
  }

  /** Every lease, app by app. */
  *all(): Generator<EurekaLease> {
    for (const leases of this.#apps.values()) yield* leases.values();
  }

  /** The operator override of an instance, if one is stored. */
  overrideOf(app: string, id: string): InstanceStatus | undefined {
    return this.#overrides.get(keyOf(app.toUpperCase(), id));
  }

  /**
   * `apps__hashcode` of the whole registry: every instance of every status counts. Equal to
   * `appsHashcode()` of every lease's status (a test holds the two together), from counts kept up to date.
   */
  hashcode(): string {
    return [...this.#statusCounts.keys()]
      .sort()
      .map((status) => `${status}_${this.#statusCounts.get(status) ?? 0}_`)
      .join('');
  }

  /** Registers or re-registers an instance (`POST /apps/{APP}`), applying the status rules. */
  register(registration: Registration): RegisterOutcome {
    const outcome = this.#register(registration.instance, registration.ownLeaseDurationMs, registration.dataCenter, registration.extraFields);
    const { lease, previous, keptStored, decision } = outcome;
    const instance = lease.instance;
    const label = labelOf(instance);
    const fields = { app: instance.app, instanceId: instance.instanceId, status: instance.status, rule: decision.rule };
    if (keptStored && previous !== undefined) {
      this.#options.logger.info(
        `re-registration of ${label} kept the stored record: its lastDirtyTimestamp ${registration.instance.lastDirtyTimestamp} is older than the stored ${previous.instance.lastDirtyTimestamp}`,
        fields,
      );
      return outcome;
    }
    const reported = registration.instance.status;
    const why = instance.status === reported ? '' : `; reported ${reported}, ${ruleExplanations[decision.rule]}`;
    if (previous === undefined) {
      const vip = instance.vipAddress === '' ? 'no vip' : `vip ${instance.vipAddress}`;
      this.#options.logger.info(
        `registered ${label} as ${instance.status} at ${instance.ipAddr}:${instance.port} (${vip}, lease ${seconds(instance.leaseDurationMs)})${why}`,
        fields,
      );
    } else if (previous.instance.status !== instance.status) {
      this.#options.logger.info(`${label} ${previous.instance.status} -> ${instance.status} (re-registered)${why}`, {
        ...fields,
        previousStatus: previous.instance.status,
      });
    } else {
      this.#options.logger.info(`re-registered ${label} as ${instance.status}${why}`, fields);
    }
    return outcome;
  }

  /**
   * Renews a lease (`PUT /apps/{APP}/{ID}`). The status the client reports with a heartbeat is ignored, as
   * Netflix does; only its `lastDirtyTimestamp` matters.
   */
  renew(app: string, id: string, lastDirtyTimestamp?: number): RenewOutcome {
    const lease = this.get(app, id);
    const label = `${app.toUpperCase()}/${id}`;
    if (lease === undefined) {
      this.#options.logger.info(`heartbeat of ${label} refused (404): not registered, so the client must register`, { app, instanceId: id });
      return 'not-registered';
    }
    const now = this.#options.clock.now();
    const { status } = lease.instance;
    // Every write here leaves the stored status as the rules would pick it, so on renew they can only keep it
    // or find it UNKNOWN (Netflix re-applies them in full because replication from peers writes around them).
    const override = this.#overrides.size === 0 ? undefined : this.#overrides.get(keyOf(lease.instance.app, id));
    if (decideStatus(status, override, status).status === 'UNKNOWN') {
      this.#options.logger.info(`heartbeat of ${label} refused (404): its status is UNKNOWN, so the client must re-register`, {
        app,
        instanceId: id,
      });
      return 'status-unknown';
    }
    const renewed: EurekaLease = Object.freeze({ ...lease, lastRenewalTimestamp: now });
    this.#put(renewed);
    this.#options.logger.debug(`renewed ${label}`, { app: lease.instance.app, instanceId: id });
    if (lastDirtyTimestamp !== undefined && lastDirtyTimestamp > renewed.instance.lastDirtyTimestamp) {
      this.#options.logger.info(
        `heartbeat of ${label} refused (404): its lastDirtyTimestamp ${lastDirtyTimestamp} is newer than the stored ${renewed.instance.lastDirtyTimestamp}, so the client must re-register`,
        { app, instanceId: id },
      );
      return 'newer-timestamp';
    }
    return 'renewed';
  }

  /** Removes an instance (`DELETE /apps/{APP}/{ID}`) and its override; false when it holds no lease. */
  cancel(app: string, id: string): boolean {
    const lease = this.get(app, id);
    this.#overrides.delete(keyOf(app.toUpperCase(), id));
    if (lease === undefined) return false;
    this.#cancel(lease, this.#options.clock.now());
    this.#options.logger.info(`cancelled ${labelOf(lease.instance)} (was ${lease.instance.status})`, {
      app: lease.instance.app,
      instanceId: id,
      previousStatus: lease.instance.status,
    });
    return true;
  }

  /**
   * Sets an operator override (`PUT .../status?value=`) and renews the lease; false when there is no lease.
   * As on Netflix, nothing is stored when the instance already has that status.
   */
  setOverride(app: string, id: string, status: InstanceStatus, lastDirtyTimestamp?: number): boolean {
    const lease = this.get(app, id);
    if (lease === undefined) return false;
    const now = this.#options.clock.now();
    const label = labelOf(lease.instance);
    if (lease.instance.status === status) {
      this.#put(Object.freeze({ ...lease, lastRenewalTimestamp: now }));
      this.#options.logger.debug(`override of ${label} to ${status} changed nothing: it is already ${status}`, {
        app: lease.instance.app,
        instanceId: id,
      });
      return true;
    }
    this.#overrides.set(keyOf(lease.instance.app, id), status);
    const updated: EurekaLease = Object.freeze({
      ...lease,
      instance: Object.freeze({
        ...lease.instance,
        status,
        overriddenStatus: status,
        lastDirtyTimestamp: Math.max(lease.instance.lastDirtyTimestamp, lastDirtyTimestamp ?? 0),
        lastUpdatedTimestamp: now,
      }),
      lastRenewalTimestamp: now,
      serviceUpTimestamp: status === 'UP' && lease.serviceUpTimestamp === 0 ? now : lease.serviceUpTimestamp,
    });
    this.#put(updated);
    this.#record(updated, 'MODIFIED', now);
    this.#options.logger.info(`${label} ${lease.instance.status} -> ${status} (override set)`, {
      app: lease.instance.app,
      instanceId: id,
      status,
      previousStatus: lease.instance.status,
    });
    return true;
  }

  /**
   * Removes the override (`DELETE .../status[?value=]`) and sets the status to `status`, renewing the lease;
   * false when there is no lease. Without a value the status becomes UNKNOWN: the next heartbeat gets 404 and
   * the client re-registers. As on Netflix (deleteStatusOverride), when no override is stored nothing changes
   * but the renewal: an instance that registered itself OUT_OF_SERVICE stays so.
   */
  removeOverride(app: string, id: string, status: InstanceStatus = 'UNKNOWN', lastDirtyTimestamp?: number): boolean {
    const lease = this.get(app, id);
    if (lease === undefined) return false;
    const now = this.#options.clock.now();
    const label = labelOf(lease.instance);
    if (!this.#overrides.delete(keyOf(lease.instance.app, id))) {
      this.#put(Object.freeze({ ...lease, lastRenewalTimestamp: now }));
      this.#options.logger.info(`override removal of ${label} changed nothing: it has no override (status stays ${lease.instance.status})`, {
        app: lease.instance.app,
        instanceId: id,
        status: lease.instance.status,
      });
      return true;
    }
    const updated: EurekaLease = Object.freeze({
      ...lease,
      instance: Object.freeze({
        ...lease.instance,
        status,
        overriddenStatus: 'UNKNOWN' as const,
        lastDirtyTimestamp: Math.max(lease.instance.lastDirtyTimestamp, lastDirtyTimestamp ?? 0),
        lastUpdatedTimestamp: now,
      }),
      lastRenewalTimestamp: now,
    });
    this.#put(updated);
    this.#record(updated, 'MODIFIED', now);
    const note = status === 'UNKNOWN' ? ' without a status: its next heartbeat gets 404 and it re-registers' : '';
    this.#options.logger.info(`${label} ${lease.instance.status} -> ${status} (override removed${note})`, {
      app: lease.instance.app,
      instanceId: id,
      status,
      previousStatus: lease.instance.status,
    });
    return true;
  }

  /**
   * Merges metadata into an instance (`PUT .../metadata?k=v`). As on Netflix this re-registers the stored
   * record, so readers see it as ADDED with a new lease. Undefined when there is no lease.
   */
  updateMetadata(app: string, id: string, entries: Readonly<Record<string, string>>): EurekaLease | undefined {
    const lease = this.get(app, id);
    if (lease === undefined) return undefined;
    const metadata = Object.freeze({ ...lease.instance.metadata, ...entries });
    const instance: RegistryInstance = Object.freeze({ ...lease.instance, metadata, zone: metadata.zone ?? lease.instance.zone });
    const { lease: updated } = this.#register(instance, lease.instance.leaseDurationMs, lease.dataCenter, lease.extraFields);
    const list = Object.entries(entries)
      .map(([key, value]) => `${key}=${value}`)
      .join(', ');
    this.#options.logger.info(`metadata of ${labelOf(instance)} updated: ${list === '' ? '(nothing)' : list}`, {
      app: instance.app,
      instanceId: id,
    });
    return updated;
  }

  /**
   * Evicts every lease not renewed within its duration (`now > lastRenewal + duration`), returning them.
   * Unlike Netflix there is no self-preservation and no 15% cap per tick: a development registry should
   * forget dead instances, not protect itself from a network partition.
   */
  evictExpired(): EurekaLease[] {
    const now = this.#options.clock.now();
    const expired: EurekaLease[] = [];
    for (const group of this.#expiry.values()) {
      // In renewal order on a clock that moves forward (one that steps back only delays an eviction to a later tick).
      for (const lease of group.values()) {
        if (now <= leaseExpiresAt(lease)) break;
        expired.push(lease);
      }
    }
    for (const lease of expired) {
      this.#overrides.delete(keyOf(lease.instance.app, lease.instance.instanceId));
      this.#cancel(lease, now);
      this.#options.logger.info(
        `evicted ${labelOf(lease.instance)}: no renewal for ${seconds(now - lease.lastRenewalTimestamp)} (lease ${seconds(lease.instance.leaseDurationMs)})`,
        { app: lease.instance.app, instanceId: lease.instance.instanceId, previousStatus: lease.instance.status },
      );
    }
    return expired;
  }

  /** The delta now: the latest change of each instance changed within the retention. */
  delta(): DeltaView {
    const now = this.#options.clock.now();
    this.#prune(now);
    const changes = [...this.#changes.values()];
    const oldest = changes[0];
    return { changes, validUntil: oldest === undefined ? Infinity : oldest.at + this.#options.deltaRetentionMs + 1 };
  }

  /** Drops every lease, override and queued change, as a restart of a real server would. Returns how many leases. */
  clear(): number {
    const dropped = this.#size;
    this.#apps.clear();
    this.#overrides.clear();
    this.#statusCounts.clear();
    this.#expiry.clear();
    this.#changes.clear();
    this.#size = 0;
    // The version keeps counting up so caches keyed by it can never serve a payload from before the clear.
    this.#version++;
    this.#options.logger.info(`registry cleared: ${dropped} instance${dropped === 1 ? '' : 's'} dropped`, { dropped });
    return dropped;
  }

  #register(
    input: RegistryInstance,
    ownLeaseDurationMs: number | undefined,
    dataCenter: RegisteredDataCenter,
    extraFields: Readonly<Record<string, string>>,
  ): RegisterOutcome {
    const app = input.app.toUpperCase();
    const id = input.instanceId;
    const key = keyOf(app, id);
    const now = this.#options.clock.now();
    const previous = this.get(app, id);
    // A registration older than the stored record (e.g. delayed in transit) must not undo a newer change.
    const keptStored = previous !== undefined && previous.instance.lastDirtyTimestamp > input.lastDirtyTimestamp;
    const source = keptStored ? previous.instance : input;
    const leaseDurationMs = keptStored ? previous.instance.leaseDurationMs : (ownLeaseDurationMs ?? this.#options.leaseDurationMs);
    // An override carried in the body is adopted when none is stored (how Netflix peers hand overrides on).
    if (source.overriddenStatus !== 'UNKNOWN' && !this.#overrides.has(key)) this.#overrides.set(key, source.overriddenStatus);
    const override = this.#overrides.get(key);
    const decision = decideStatus(source.status, override, previous?.instance.status);
    const serviceUp = previous?.serviceUpTimestamp ?? 0;
    const lease: EurekaLease = Object.freeze({
      instance: Object.freeze({
        ...source,
        app,
        leaseDurationMs,
        status: decision.status,
        overriddenStatus: override ?? 'UNKNOWN',
        lastUpdatedTimestamp: now,
      }),
      dataCenter: keptStored ? previous.dataCenter : dataCenter,
      extraFields: keptStored ? previous.extraFields : extraFields,
      registrationTimestamp: now,
      lastRenewalTimestamp: now,
      serviceUpTimestamp: decision.status === 'UP' && serviceUp === 0 ? now : serviceUp,
      evictionTimestamp: 0,
    });
    this.#put(lease);
    this.#record(lease, 'ADDED', now);
    return { lease, previous, keptStored, decision };
  }

  #cancel(lease: EurekaLease, now: number): void {
    const leases = this.#apps.get(lease.instance.app);
    if (leases?.delete(lease.instance.instanceId) !== true) return;
    if (leases.size === 0) this.#apps.delete(lease.instance.app);
    this.#unqueue(lease);
    this.#size--;
    this.#count(lease.instance.status, -1);
    const ended: EurekaLease = Object.freeze({
      ...lease,
      instance: Object.freeze({ ...lease.instance, lastUpdatedTimestamp: now }),
      evictionTimestamp: now,
    });
    this.#record(ended, 'DELETED', now);
  }

  #put(lease: EurekaLease): void {
    let leases = this.#apps.get(lease.instance.app);
    if (leases === undefined) {
      leases = new Map();
      this.#apps.set(lease.instance.app, leases);
    }
    const previous = leases.get(lease.instance.instanceId);
    leases.set(lease.instance.instanceId, lease);
    this.#queue(lease, previous);
    if (previous === undefined) this.#size++;
    else if (previous.instance.status === lease.instance.status) return;
    else this.#count(previous.instance.status, -1);
    this.#count(lease.instance.status, 1);
  }

  /** Moves a lease to the end of its duration's expiry group (it was just written, so just renewed). */
  #queue(lease: EurekaLease, previous: EurekaLease | undefined): void {
    // One key for both steps: this runs on every heartbeat.
    const key = keyOf(lease.instance.app, lease.instance.instanceId);
    if (previous !== undefined) this.#unqueueKey(previous.instance.leaseDurationMs, key);
    const duration = lease.instance.leaseDurationMs;
    let group = this.#expiry.get(duration);
    if (group === undefined) {
      group = new Map();
      this.#expiry.set(duration, group);
    }
    group.set(key, lease);
  }

  #unqueue(lease: EurekaLease): void {
    this.#unqueueKey(lease.instance.leaseDurationMs, keyOf(lease.instance.app, lease.instance.instanceId));
  }

  #unqueueKey(duration: number, key: string): void {
    const group = this.#expiry.get(duration);
    if (group === undefined) return;
    group.delete(key);
    if (group.size === 0) this.#expiry.delete(duration);
  }

  #count(status: InstanceStatus, delta: number): void {
    const count = (this.#statusCounts.get(status) ?? 0) + delta;
    if (count === 0) this.#statusCounts.delete(status);
    else this.#statusCounts.set(status, count);
  }

  #record(lease: EurekaLease, actionType: ActionType, now: number): void {
    this.#version++;
    const key = keyOf(lease.instance.app, lease.instance.instanceId);
    // Delete first so the entry moves to the end: the map stays in time order.
    this.#changes.delete(key);
    this.#changes.set(key, { lease, actionType, at: now });
    this.#prune(now);
  }

  /** Drops changes older than the retention; the queue is in time order, so they are all at the front. */
  #prune(now: number): void {
    const cutoff = now - this.#options.deltaRetentionMs;
    for (const [key, entry] of this.#changes) {
      if (entry.at >= cutoff) break;
      this.#changes.delete(key);
    }
  }
}

function keyOf(app: string, id: string): string {
  return `${app}\u0000${id}`;
}

function labelOf(instance: Pick<RegistryInstance, 'app' | 'instanceId'>): string {
  return `${instance.app}/${instance.instanceId}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
