// Over 500 lines because the compact record of a Eureka instance and the pool that shares its profiles and
// URL templates are one memory layout (offsets, shared profiles, templates) that is read and written together;
// see the benchmarks of memory per instance.
import { KaryonError } from '../../common/KaryonError.js';
import { RecordWalk, sameInstance, sameMetadata } from '../InstanceCache.js';
import { InstanceStatus } from '../types.js';
import type { RegistryInstance } from '../types.js';

// A client caches every instance of every application (Eureka's hash check needs them all), though it calls
// few of them. Held as decoded, a record is a 21-field object and a dozen strings; most of that is the same for
// every instance of an app (app, VIPs, zone, metadata, lease, the shape of its URLs). So a record here keeps
// only what is its own (id, IP, timestamps, port and statuses packed in one small integer) and points at a
// profile shared with the instances that have the same rest. URLs that follow the usual
// `scheme://host:port/path` shape are kept as templates, and a host name that starts the instance id
// (`host:app:port`, the usual id), is the whole id or is the IP address is read from that string. The
// benchmark measures the result against the parsed JSON other Node clients keep.
//
// What a record costs (64-bit V8 without pointer compression, as Node ships): an object header of 3 words and
// 6 one-word fields, 72 bytes, plus its two strings (a 40-character id 64 bytes, an IP address 32). Private
// fields cost what plain ones do (each is one in-object slot; only private methods would add a brand slot). The
// rare values, a host name of its own (Netflix's EC2 ids, random ids) and timestamps too far apart for a small
// integer, go in one extra object (`Detail`) instead of a field every record carries. Every field of every
// record holds a small integer or a pointer, never a double: a number that is not a small integer is boxed
// (a 16-byte heap number per record and field), and an integer computed from doubles, such as a timestamp
// minus another, is such a box until `| 0` makes it a small integer again.

const statusByCode: readonly InstanceStatus[] = [
  InstanceStatus.UP,
  InstanceStatus.DOWN,
  InstanceStatus.STARTING,
  InstanceStatus.OUT_OF_SERVICE,
  InstanceStatus.UNKNOWN,
];

function statusCode(status: InstanceStatus): number {
  const code = statusByCode.indexOf(status);
  return code < 0 ? 4 : code;
}

// Layout of the packed integer: port in bits 0-15, status 16-18, overridden status 19-21, and in 22-28 where the
// host name is read from: HOST_HELD (the record's Detail), HOST_IS_IP (the IP address), HOST_IS_ID (the whole
// id), otherwise the length of the id's prefix that is the host name. 29 bits: a small integer in every V8
// build, stored in the object itself.
const STATUS_SHIFT = 16;
const OVERRIDE_SHIFT = 19;
const HOST_SHIFT = 22;
const HOST_HELD = 0;
const HOST_IS_IP = 0x7f;
const HOST_IS_ID = 0x7e;
/** Longest host name read as a prefix of the id. */
const MAX_DERIVED_HOST = 0x7d;

// Timestamps are kept as small integers (offsets) where they fit, and otherwise in a box object. A field that
// ever held a non-integer number would make V8 box every value of that field in every record, so a value that
// does not fit is never stored as a bare number.
/** Largest offset stored bare: a small integer in every V8 build (about 12 days of milliseconds). */
const MAX_SMALL = 2 ** 30 - 1;

/** A number too large (or not an integer) to be stored bare. */
interface Boxed {
  readonly value: number;
}

/**
 * A number as a small integer when it is one (`| 0`: an integral result of double arithmetic is otherwise a heap
 * number), else boxed.
 */
function small(value: number): number | Boxed {
  return Number.isInteger(value) && Math.abs(value) <= MAX_SMALL ? value | 0 : Object.freeze({ value });
}

function unbox(value: number | Boxed): number {
  return typeof value === 'number' ? value : value.value;
}

/**
 * What few records have: a host name that is neither the start of the id, the id nor the IP address, or a
 * lastUpdatedTimestamp too far from lastDirtyTimestamp (or not an integer). Kept in the record's slot for the
 * latter's distance, so the common record has one field less.
 */
interface Detail {
  /** lastUpdatedTimestamp as its distance from lastDirtyTimestamp. */
  readonly updatedAfterDirty: number | Boxed;
  /** The host name, when the packed integer says HOST_HELD. */
  readonly host: string;
}

/** Profiles tried before the hash lookup: a few zones or versions of the app being decoded. */
const RECENT_PROFILES = 4;
/** Profiles of each app tried (without allocating) before the hash lookup: the app's last few. */
const APP_PROFILES = 8;

/**
 * How a URL is rebuilt from its instance: `literal` when it does not name the instance, otherwise
 * `prefix + (ipAddr | hostName) + (':' + port)? + suffix`.
 */
interface UrlTemplate {
  readonly literal: string | undefined;
  readonly prefix: string;
  readonly useIp: boolean;
  readonly withPort: boolean;
  readonly suffix: string;
}

/** What the instances of one app, zone and configuration have in common. */
interface InstanceProfile {
  readonly hash: number;
  /**
   * The lastDirtyTimestamp of the instance that made the profile: records keep theirs as an offset from it (a
   * small integer) instead of a boxed double. Not part of what makes two profiles equal.
   */
  readonly epoch: number;
  readonly app: string;
  readonly vipAddress: string;
  readonly secureVipAddress: string;
  readonly zone: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly portEnabled: boolean;
  readonly securePort: number;
  readonly securePortEnabled: boolean;
  readonly leaseRenewalIntervalMs: number;
  readonly leaseDurationMs: number;
  readonly homePageUrl: UrlTemplate;
  readonly statusPageUrl: UrlTemplate;
  readonly healthCheckUrl: UrlTemplate;
}

/**
 * An instance as the Eureka client caches it: a compact, frozen {@link RegistryInstance}. Every field reads as
 * in a plain record, but most are getters over a profile shared with similar instances; `hostName` (when it
 * starts the id) and the three URLs (when they follow the instance's host and port) are rebuilt on each read.
 * Being a class instance, spreading it (`{ ...instance }`) copies almost nothing: use `toJSON()` for a plain
 * copy of every field.
 */
export class EurekaInstance implements RegistryInstance {
  /** Unique id of the instance. */
  readonly instanceId: string;
  /** IP address clients should use. */
  readonly ipAddr: string;
  /** lastDirtyTimestamp as an offset from the profile's epoch (boxed: the whole timestamp, when too far from it). */
  readonly #dirty: number | Boxed;
  /** lastUpdatedTimestamp as its distance from lastDirtyTimestamp, or the record's {@link Detail}. */
  readonly #updated: number | Detail;
  readonly #packed: number;
  readonly #profile: InstanceProfile;

  /** Use {@link InstancePool.compact}. */
  private constructor(instance: RegistryInstance, profile: InstanceProfile) {
    const { instanceId, hostName, ipAddr } = instance;
    const host = hostCode(instanceId, hostName, ipAddr);
    this.instanceId = instanceId;
    this.ipAddr = ipAddr;
    const offset = small(instance.lastDirtyTimestamp - profile.epoch);
    this.#dirty = typeof offset === 'number' ? offset : Object.freeze({ value: instance.lastDirtyTimestamp });
    const updatedAfterDirty = small(instance.lastUpdatedTimestamp - instance.lastDirtyTimestamp);
    this.#updated =
      host === HOST_HELD || typeof updatedAfterDirty !== 'number'
        ? Object.freeze({ updatedAfterDirty, host: host === HOST_HELD ? hostName : '' })
        : updatedAfterDirty;
    this.#packed =
      instance.port |
      (statusCode(instance.status) << STATUS_SHIFT) |
      (statusCode(instance.overriddenStatus) << OVERRIDE_SHIFT) |
      (host << HOST_SHIFT);
    this.#profile = profile;
    Object.freeze(this);
  }

  /** @internal Builds a record; only {@link InstancePool} calls it. */
  static create(instance: RegistryInstance, profile: InstanceProfile): EurekaInstance {
    return new EurekaInstance(instance, profile);
  }

  /** @internal The record's profile, for {@link InstancePool}. */
  static profileOf(record: EurekaInstance): InstanceProfile {
    return record.#profile;
  }

  /** Host name clients should use. */
  get hostName(): string {
    const host = this.#packed >>> HOST_SHIFT;
    // The usual id (`host:app:port`) first.
    if (host !== HOST_HELD && host <= MAX_DERIVED_HOST) return this.instanceId.slice(0, host);
    if (host === HOST_IS_IP) return this.ipAddr;
    return host === HOST_IS_ID ? this.instanceId : (this.#updated as Detail).host;
  }
  /** Plain HTTP port. */
  get port(): number {
    return this.#packed & 0xffff;
  }
  /** The status clients should act on. */
  get status(): InstanceStatus {
    return statusByCode[(this.#packed >>> STATUS_SHIFT) & 7]!;
  }
  /** The operator override, or `UNKNOWN`. */
  get overriddenStatus(): InstanceStatus {
    return statusByCode[(this.#packed >>> OVERRIDE_SHIFT) & 7]!;
  }
  /** When the instance last changed its own record (epoch ms). */
  get lastDirtyTimestamp(): number {
    const dirty = this.#dirty;
    return typeof dirty === 'number' ? this.#profile.epoch + dirty : dirty.value;
  }
  /** When the registry last changed this record (epoch ms). */
  get lastUpdatedTimestamp(): number {
    return this.lastDirtyTimestamp + EurekaInstance.#updatedAfterDirty(this);
  }
  /** Application name, upper case. */
  get app(): string {
    return this.#profile.app;
  }
  /** Virtual address (a comma-separated list is allowed). */
  get vipAddress(): string {
    return this.#profile.vipAddress;
  }
  /** Secure virtual address. */
  get secureVipAddress(): string {
    return this.#profile.secureVipAddress;
  }
  /** Whether the plain port is enabled. */
  get portEnabled(): boolean {
    return this.#profile.portEnabled;
  }
  /** HTTPS port. */
  get securePort(): number {
    return this.#profile.securePort;
  }
  /** Whether the secure port is enabled. */
  get securePortEnabled(): boolean {
    return this.#profile.securePortEnabled;
  }
  /** Availability zone. */
  get zone(): string {
    return this.#profile.zone;
  }
  /** String metadata (frozen, shared with the instances that have the same). */
  get metadata(): Readonly<Record<string, string>> {
    return this.#profile.metadata;
  }
  /** The instance's home page. */
  get homePageUrl(): string {
    return urlOf(this.#profile.homePageUrl, this);
  }
  /** The instance's status page. */
  get statusPageUrl(): string {
    return urlOf(this.#profile.statusPageUrl, this);
  }
  /** The instance's health URL. */
  get healthCheckUrl(): string {
    return urlOf(this.#profile.healthCheckUrl, this);
  }
  /** Lease renewal interval, ms. */
  get leaseRenewalIntervalMs(): number {
    return this.#profile.leaseRenewalIntervalMs;
  }
  /** Lease duration, ms. */
  get leaseDurationMs(): number {
    return this.#profile.leaseDurationMs;
  }

  /**
   * @internal True when `instance`, a decoded record, would compact to a record equal to this one; allocates
   * nothing. A fetch that lists an instance as it is held keeps the held record instead of making a new one.
   */
  matches(instance: RegistryInstance): boolean {
    const packed = this.#packed;
    // What the record holds in itself first (a delta's usual change is the status): a changed instance is told
    // before any string of the record or its profile is read.
    return (
      statusCode(instance.status) === ((packed >>> STATUS_SHIFT) & 7) &&
      instance.port === (packed & 0xffff) &&
      statusCode(instance.overriddenStatus) === ((packed >>> OVERRIDE_SHIFT) & 7) &&
      instance.instanceId === this.instanceId &&
      instance.ipAddr === this.ipAddr &&
      EurekaInstance.#hostIs(this, instance.hostName) &&
      instance.lastDirtyTimestamp === this.lastDirtyTimestamp &&
      instance.lastUpdatedTimestamp === this.lastUpdatedTimestamp &&
      profileMatches(this.#profile, instance)
    );
  }

  /** True when `other` holds the same record; cheap when both are compact (shared parts compare by identity). */
  sameAs(other: RegistryInstance): boolean {
    if (this === other) return true;
    if (!(other instanceof EurekaInstance)) return sameInstance(this, other);
    // Equal id, IP and packed integer: the host names are read from the same place, equal unless both are held.
    return (
      this.instanceId === other.instanceId &&
      this.ipAddr === other.ipAddr &&
      this.#packed === other.#packed &&
      this.lastDirtyTimestamp === other.lastDirtyTimestamp &&
      EurekaInstance.#updatedAfterDirty(this) === EurekaInstance.#updatedAfterDirty(other) &&
      (this.#packed >>> HOST_SHIFT !== HOST_HELD || (this.#updated as Detail).host === (other.#updated as Detail).host) &&
      sameProfile(this.#profile, other.#profile)
    );
  }

  // Static, not instance, private methods: those would give each record a brand slot.
  /** lastUpdatedTimestamp minus lastDirtyTimestamp. */
  static #updatedAfterDirty(record: EurekaInstance): number {
    const updated = record.#updated;
    return typeof updated === 'number' ? updated : unbox(updated.updatedAfterDirty);
  }

  /** True when `hostName` is the record's host name; allocates nothing. */
  static #hostIs(record: EurekaInstance, hostName: string): boolean {
    const host = record.#packed >>> HOST_SHIFT;
    if (host === HOST_IS_IP) return hostName === record.ipAddr;
    if (host === HOST_IS_ID) return hostName === record.instanceId;
    if (host === HOST_HELD) return hostName === (record.#updated as Detail).host;
    return hostName.length === host && record.instanceId.startsWith(hostName);
  }

  /** A plain object with every field, for JSON and for copies. */
  toJSON(): RegistryInstance {
    return {
      instanceId: this.instanceId,
      app: this.app,
      vipAddress: this.vipAddress,
      secureVipAddress: this.secureVipAddress,
      hostName: this.hostName,
      ipAddr: this.ipAddr,
      port: this.port,
      portEnabled: this.portEnabled,
      securePort: this.securePort,
      securePortEnabled: this.securePortEnabled,
      zone: this.zone,
      metadata: this.metadata,
      homePageUrl: this.homePageUrl,
      statusPageUrl: this.statusPageUrl,
      healthCheckUrl: this.healthCheckUrl,
      leaseRenewalIntervalMs: this.leaseRenewalIntervalMs,
      leaseDurationMs: this.leaseDurationMs,
      status: this.status,
      overriddenStatus: this.overriddenStatus,
      lastUpdatedTimestamp: this.lastUpdatedTimestamp,
      lastDirtyTimestamp: this.lastDirtyTimestamp,
    };
  }

}

/** Equality for an {@link InstanceCache} holding {@link EurekaInstance} records. */
export function eurekaInstanceEquals(a: RegistryInstance, b: RegistryInstance): boolean {
  return a instanceof EurekaInstance ? a.sameAs(b) : sameInstance(a, b);
}

/**
 * Makes compact {@link EurekaInstance} records, sharing one profile among the instances whose shared fields are
 * equal. Profiles are found by a hash of their fields (no key strings kept) and live until
 * {@link InstancePool.retainOnly} drops those no record uses.
 */
export class InstancePool {
  /** Profiles by hash: the profile itself, or (after a collision) an array of them. */
  #profiles = new Map<number, InstanceProfile | readonly InstanceProfile[]>();
  #size = 0;
  /** URL templates are few (one per URL shape of each app): shared by key. */
  readonly #templates = new Map<string, UrlTemplate>();
  readonly #recent: InstanceProfile[] = [];
  #nextRecent = 0;
  /** The last few profiles made or found for each app: a delta's instances come from apps all over the fleet. */
  #byApp = new Map<string, readonly InstanceProfile[]>();

  /** Number of distinct profiles held. */
  get profiles(): number {
    return this.#size;
  }

  /**
   * The compact record of `instance`; compact records are returned as they are. `previous`, the record held for
   * the same instance (a delta's change of status or address), has the profile tried first.
   * @throws KaryonError ERR_EUREKA_PROTOCOL when the port is not a TCP port (such an instance cannot be called).
   */
  compact(instance: RegistryInstance, previous?: RegistryInstance): EurekaInstance {
    if (instance instanceof EurekaInstance) return instance;
    if (!Number.isInteger(instance.port) || instance.port < 0 || instance.port > 0xffff) {
      throw new KaryonError('ERR_EUREKA_PROTOCOL', `instance '${instance.instanceId}' has port ${instance.port}, not a TCP port`, {
        instanceId: instance.instanceId,
      });
    }
    // A changed instance keeps its app, zone and the rest nearly always: one comparison, no search.
    if (previous instanceof EurekaInstance) {
      const profile = EurekaInstance.profileOf(previous);
      if (profileMatches(profile, instance)) return EurekaInstance.create(instance, profile);
    }
    // Instances of an app come together in a payload and share a handful of profiles: try those first, with a
    // comparison that allocates nothing.
    for (const recent of this.#recent) {
      if (profileMatches(recent, instance)) return EurekaInstance.create(instance, recent);
    }
    const ofApp = this.#byApp.get(instance.app);
    let profile = ofApp?.find((candidate) => profileMatches(candidate, instance));
    if (profile === undefined) {
      profile = this.#profile(instance);
      this.#rememberForApp(profile);
    }
    this.#recent[this.#nextRecent] = profile;
    this.#nextRecent = (this.#nextRecent + 1) % RECENT_PROFILES;
    return EurekaInstance.create(instance, profile);
  }

  #rememberForApp(profile: InstanceProfile): void {
    const ofApp = this.#byApp.get(profile.app);
    if (ofApp === undefined) this.#byApp.set(profile.app, [profile]);
    else if (!ofApp.includes(profile)) {
      // A new array of the exact size (concat): one grown by push keeps room for 17 profiles, about 130 bytes more
      // for each app. An app whose instances each have their own profile (per-instance metadata) keeps only its
      // last few here.
      this.#byApp.set(profile.app, (ofApp.length >= APP_PROFILES ? ofApp.slice(1) : ofApp).concat(profile));
    }
  }

  #profile(instance: RegistryInstance): InstanceProfile {
    const wanted: InstanceProfile = {
      hash: 0,
      epoch: instance.lastDirtyTimestamp,
      app: instance.app,
      vipAddress: instance.vipAddress,
      secureVipAddress: instance.secureVipAddress,
      zone: instance.zone,
      metadata: instance.metadata,
      portEnabled: instance.portEnabled,
      securePort: instance.securePort,
      securePortEnabled: instance.securePortEnabled,
      leaseRenewalIntervalMs: instance.leaseRenewalIntervalMs,
      leaseDurationMs: instance.leaseDurationMs,
      homePageUrl: this.#template(instance.homePageUrl, instance),
      statusPageUrl: this.#template(instance.statusPageUrl, instance),
      healthCheckUrl: this.#template(instance.healthCheckUrl, instance),
    };
    const hash = profileHash(wanted);
    const bucket = this.#profiles.get(hash);
    let profile = bucketFind(bucket, wanted);
    if (profile === undefined) {
      profile = Object.freeze({
        hash,
        epoch: Number.isFinite(wanted.epoch) ? wanted.epoch : 0,
        app: wanted.app,
        vipAddress: wanted.vipAddress,
        secureVipAddress: wanted.secureVipAddress,
        zone: wanted.zone,
        metadata: Object.isFrozen(instance.metadata) ? instance.metadata : Object.freeze({ ...instance.metadata }),
        portEnabled: wanted.portEnabled,
        securePort: wanted.securePort,
        securePortEnabled: wanted.securePortEnabled,
        leaseRenewalIntervalMs: wanted.leaseRenewalIntervalMs,
        leaseDurationMs: wanted.leaseDurationMs,
        homePageUrl: wanted.homePageUrl,
        statusPageUrl: wanted.statusPageUrl,
        healthCheckUrl: wanted.healthCheckUrl,
      });
      this.#profiles.set(hash, bucketWith(bucket, profile));
      this.#size++;
    }
    return profile;
  }

  /** Drops the profiles (and templates) that none of `records` uses, e.g. after a full fetch replaced the view. */
  retainOnly(records: Iterable<RegistryInstance>): void {
    const used = new Set<InstanceProfile>();
    for (const record of records) if (record instanceof EurekaInstance) used.add(EurekaInstance.profileOf(record));
    this.#keep(used);
  }

  /**
   * {@link InstancePool.retainOnly} of the records by app, then id, walking them a few ms at a time and awaiting
   * `pause()` between: 100,000 records take longer than any request may wait. Nothing may be compacted meanwhile.
   */
  async retainOnlyInSlices(
    records: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>>,
    pause: () => Promise<void>,
    sliceMs = 2,
  ): Promise<void> {
    const used = new Set<InstanceProfile>();
    const walk = new RecordWalk(records);
    while (!usedProfiles(walk, used, performance.now() + sliceMs)) await pause();
    this.#keep(used);
  }

  /** Keeps only the profiles of `used`, and the templates they use. */
  #keep(used: ReadonlySet<InstanceProfile>): void {
    const kept = new Map<number, InstanceProfile | readonly InstanceProfile[]>();
    const templates = new Set<UrlTemplate>();
    for (const profile of used) {
      kept.set(profile.hash, bucketWith(kept.get(profile.hash), profile));
      templates.add(profile.homePageUrl).add(profile.statusPageUrl).add(profile.healthCheckUrl);
    }
    this.#profiles = kept;
    this.#size = used.size;
    this.#byApp = new Map();
    for (const profile of used) this.#rememberForApp(profile);
    this.#recent.length = 0;
    this.#nextRecent = 0;
    for (const [key, template] of this.#templates) if (!templates.has(template)) this.#templates.delete(key);
  }

  #template(url: string, instance: RegistryInstance): UrlTemplate {
    const template = templateOf(url, instance);
    const key = templateKey(template);
    const known = this.#templates.get(key);
    if (known !== undefined) return known;
    const frozen = Object.freeze(template);
    this.#templates.set(key, frozen);
    return frozen;
  }
}

/**
 * Adds the profiles of the records `walk` gives to `used`, until the walk ends (true) or `deadline` has passed
 * (false), the time read every 1,024 records.
 */
function usedProfiles(walk: RecordWalk<ReadonlyMap<string, RegistryInstance>>, used: Set<InstanceProfile>, deadline: number): boolean {
  for (let work = 1; ; work++) {
    const record = walk.next();
    if (record === undefined) return true;
    if (record instanceof EurekaInstance) used.add(EurekaInstance.profileOf(record));
    if ((work & 1023) === 0 && performance.now() >= deadline) return false;
  }
}

/** The profile of `bucket` equal to `wanted`. */
function bucketFind(bucket: InstanceProfile | readonly InstanceProfile[] | undefined, wanted: InstanceProfile): InstanceProfile | undefined {
  if (bucket === undefined) return undefined;
  if (!isBucketArray(bucket)) return sameProfile(bucket, wanted) ? bucket : undefined;
  return bucket.find((candidate) => sameProfile(candidate, wanted));
}

/**
 * `bucket` with `profile` added. Most hashes have one profile, kept bare: a one-element array would cost 56 bytes
 * more for each profile.
 */
function bucketWith(bucket: InstanceProfile | readonly InstanceProfile[] | undefined, profile: InstanceProfile): InstanceProfile | readonly InstanceProfile[] {
  if (bucket === undefined) return profile;
  return isBucketArray(bucket) ? bucket.concat(profile) : [bucket, profile];
}

function isBucketArray(bucket: InstanceProfile | readonly InstanceProfile[]): bucket is readonly InstanceProfile[] {
  return Array.isArray(bucket);
}

function sameProfile(a: InstanceProfile, b: InstanceProfile): boolean {
  return (
    a === b ||
    (a.app === b.app &&
      a.vipAddress === b.vipAddress &&
      a.secureVipAddress === b.secureVipAddress &&
      a.zone === b.zone &&
      a.portEnabled === b.portEnabled &&
      a.securePort === b.securePort &&
      a.securePortEnabled === b.securePortEnabled &&
      a.leaseRenewalIntervalMs === b.leaseRenewalIntervalMs &&
      a.leaseDurationMs === b.leaseDurationMs &&
      sameTemplate(a.homePageUrl, b.homePageUrl) &&
      sameTemplate(a.statusPageUrl, b.statusPageUrl) &&
      sameTemplate(a.healthCheckUrl, b.healthCheckUrl) &&
      sameMetadata(a.metadata, b.metadata))
  );
}

/** True when `instance` has exactly the shared fields of `profile`. Allocates nothing. */
function profileMatches(profile: InstanceProfile, instance: RegistryInstance): boolean {
  // The zone first: the profiles of one app most often differ by it alone.
  return (
    profile.zone === instance.zone &&
    profile.app === instance.app &&
    profile.vipAddress === instance.vipAddress &&
    profile.secureVipAddress === instance.secureVipAddress &&
    profile.portEnabled === instance.portEnabled &&
    profile.securePort === instance.securePort &&
    profile.securePortEnabled === instance.securePortEnabled &&
    profile.leaseRenewalIntervalMs === instance.leaseRenewalIntervalMs &&
    profile.leaseDurationMs === instance.leaseDurationMs &&
    templateMatches(profile.homePageUrl, instance.homePageUrl, instance) &&
    templateMatches(profile.statusPageUrl, instance.statusPageUrl, instance) &&
    templateMatches(profile.healthCheckUrl, instance.healthCheckUrl, instance) &&
    metadataMatches(profile.metadata, instance.metadata)
  );
}

/** True when `template` rebuilds `url` for `instance`. Allocates nothing. */
function templateMatches(template: UrlTemplate, url: string, instance: RegistryInstance): boolean {
  if (template.literal !== undefined) return url === template.literal;
  const host = template.useIp ? instance.ipAddr : instance.hostName;
  let at = template.prefix.length;
  if (!url.startsWith(template.prefix) || !url.startsWith(host, at)) return false;
  at += host.length;
  if (template.withPort) {
    if (url.charCodeAt(at) !== 58 /* : */) return false;
    const port = instance.port;
    const digits = port < 10 ? 1 : port < 100 ? 2 : port < 1000 ? 3 : port < 10000 ? 4 : 5;
    let value = 0;
    for (let i = 1; i <= digits; i++) {
      const code = url.charCodeAt(at + i) - 48;
      if (code < 0 || code > 9) return false;
      value = value * 10 + code;
    }
    if (value !== port) return false;
    at += 1 + digits;
  }
  // Prefix, host, port and suffix in place and the lengths adding up: the template rebuilds exactly this URL.
  return url.length === at + template.suffix.length && url.endsWith(template.suffix);
}

function metadataMatches(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  let count = 0;
  for (const key in b) {
    if (!Object.hasOwn(a, key) || a[key] !== b[key]) return false;
    count++;
  }
  for (const key in a) if (Object.hasOwn(a, key)) count--;
  return count === 0;
}

function sameTemplate(a: UrlTemplate, b: UrlTemplate): boolean {
  return (
    a === b ||
    (a.literal === b.literal && a.prefix === b.prefix && a.useIp === b.useIp && a.withPort === b.withPort && a.suffix === b.suffix)
  );
}

/** FNV-1a over the shared fields: equal profiles hash alike; a collision only costs a field comparison. */
function profileHash(profile: InstanceProfile): number {
  let hash = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    hash = Math.imul(hash ^ 0x1f, 0x01000193);
  };
  mix(profile.app);
  mix(profile.vipAddress);
  mix(profile.secureVipAddress);
  mix(profile.zone);
  mix(profile.homePageUrl.literal ?? profile.homePageUrl.suffix);
  mix(profile.statusPageUrl.literal ?? profile.statusPageUrl.suffix);
  mix(profile.healthCheckUrl.literal ?? profile.healthCheckUrl.suffix);
  for (const name in profile.metadata) {
    mix(name);
    mix(profile.metadata[name]!);
  }
  hash ^= profile.securePort + (profile.portEnabled ? 1 << 17 : 0) + (profile.securePortEnabled ? 1 << 18 : 0);
  hash = Math.imul(hash ^ profile.leaseRenewalIntervalMs, 0x01000193);
  hash = Math.imul(hash ^ profile.leaseDurationMs, 0x01000193);
  // 30 bits: a small integer in every V8 build, not a heap number in each profile.
  return hash & MAX_SMALL;
}

/** The template of `url` for an instance; a template rebuilds each instance's own URL exactly. */
function templateOf(url: string, instance: Pick<RegistryInstance, 'hostName' | 'ipAddr' | 'port'>): UrlTemplate {
  for (const useIp of [false, true]) {
    const host = useIp ? instance.ipAddr : instance.hostName;
    const at = authorityAt(url, host);
    if (at < 0) continue;
    const prefix = url.slice(0, at);
    const rest = url.slice(at + host.length);
    const port = `:${instance.port}`;
    const withPort = rest.startsWith(port) && (rest.length === port.length || '/?#'.includes(rest.charAt(port.length)));
    return { literal: undefined, prefix, useIp, withPort, suffix: withPort ? rest.slice(port.length) : rest };
  }
  return { literal: url, prefix: '', useIp: false, withPort: false, suffix: '' };
}

/** Where `host` stands as the host of `url` (after `//` or `@`, before a port, path or the end), or -1. */
function authorityAt(url: string, host: string): number {
  if (host === '') return -1;
  for (let at = url.indexOf(host); at >= 0; at = url.indexOf(host, at + 1)) {
    const before = url.charAt(at - 1);
    const after = url.charAt(at + host.length);
    if ((before === '/' || before === '@') && (after === '' || ':/?#'.includes(after))) return at;
  }
  return -1;
}

/**
 * Where a record reads its host name from (see the packed integer's layout): the IP address or the id when it is
 * one of them, the id's prefix when it starts the id, otherwise the record's own copy.
 */
function hostCode(instanceId: string, hostName: string, ipAddr: string): number {
  if (hostName === ipAddr) return HOST_IS_IP;
  if (hostName === instanceId) return HOST_IS_ID;
  const length = hostName.length;
  return length > 0 && length <= MAX_DERIVED_HOST && instanceId.length > length && instanceId.startsWith(hostName) ? length : HOST_HELD;
}

// A module function, not a private method: a class with private methods gives each instance a brand slot.
function urlOf(template: UrlTemplate, instance: EurekaInstance): string {
  if (template.literal !== undefined) return template.literal;
  const host = template.useIp ? instance.ipAddr : instance.hostName;
  return template.withPort ? `${template.prefix}${host}:${instance.port}${template.suffix}` : `${template.prefix}${host}${template.suffix}`;
}

function templateKey(template: UrlTemplate): string {
  if (template.literal !== undefined) return `L${template.literal}`;
  return `T${template.useIp ? 'I' : 'H'}${template.withPort ? 'P' : '-'}${template.prefix}\u0001${template.suffix}`;
}
