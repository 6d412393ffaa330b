import type { InstanceStatus, RegistryInstance } from '../types.js';

// The decoder of one Eureka instance, written as one self-contained function: it refers to nothing outside
// itself but its arguments and JavaScript's globals, so that the same code runs on the event loop (wire.ts)
// and, turned back into source with `toString()`, on the worker thread that decodes a large registry
// (SliceDecoder). Keep it that way: no import may be used inside, only `import type`.

/** What happened to an instance, in a delta. */
export type ActionType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Extra lease facts a decoded instance carries besides its {@link RegistryInstance} record. */
export interface DecodedLease {
  /** When first registered (epoch ms), 0 if not given. */
  readonly registrationTimestamp: number;
  /** When last renewed (epoch ms), 0 if not given. */
  readonly lastRenewalTimestamp: number;
  /** When first seen UP (epoch ms), 0 if not given. */
  readonly serviceUpTimestamp: number;
}

/** One decoded instance. */
export interface DecodedInstance {
  /** The normalized record. */
  readonly instance: RegistryInstance;
  /** In deltas, what happened to it. */
  readonly actionType: ActionType | undefined;
  /** The data center name (`MyOwn`, `Amazon`, `Netflix`). */
  readonly dataCenterName: string;
  /** The data center `@class`. */
  readonly dataCenterClass: string;
  /** Lease timestamps as the server reported them. */
  readonly lease: DecodedLease;
  /** True when the body gave no `lastDirtyTimestamp` (the decoder used `now`). */
  readonly lastDirtyTimestampMissing: boolean;
  /** True when the body gave no `status` (the decoder used UP). */
  readonly statusMissing: boolean;
}

/** What {@link wireDecoder} returns. */
export interface WireDecoder {
  /** True for a plain JSON object (not null, not an array). */
  readonly isRecord: (value: unknown) => value is Record<string, unknown>;
  /** A string, number or boolean as a string; undefined for anything else. */
  readonly text: (value: unknown) => string | undefined;
  /** A list that servers may write as a single object. */
  readonly list: (value: unknown) => unknown[];
  /** Sets `map[key]` as an own property, also when the key is `__proto__`. */
  readonly setEntry: (map: Record<string, string>, key: string, value: string) => void;
  /** Decodes one instance; throws an Error with the server's message (`Missing hostname`...) when it cannot. */
  readonly decodeInstance: (raw: unknown, now: number) => DecodedInstance;
}

/**
 * Makes the decoder of Eureka instances (see wire.ts `decodeInstance` for what it checks).
 * @param statuses - the known instance statuses; any other becomes `UNKNOWN`
 * @param defaultDataCenterClass - the `@class` of a data center that names none
 */
export function wireDecoder(statuses: readonly string[], defaultDataCenterClass: string): WireDecoder {
  const known = new Set(statuses);
  const toStatus = (value: string | undefined): InstanceStatus => (value !== undefined && known.has(value) ? value : 'UNKNOWN') as InstanceStatus;
  const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  const text = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return undefined;
  };
  const nonBlank = (value: unknown): string | undefined => {
    const s = text(value);
    return s === undefined || s.trim() === '' ? undefined : s;
  };
  const integer = (value: unknown): number | undefined => {
    let n = NaN;
    if (typeof value === 'number') n = value;
    // Number('') and Number(' ') are 0: a blank string is no number (trimmed only in that rare case).
    else if (typeof value === 'string') {
      n = Number(value);
      if (n === 0 && value.trim() === '') n = NaN;
    }
    return Number.isFinite(n) ? Math.trunc(n) : undefined;
  };
  const bool = (value: unknown, fallback: boolean): boolean => {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') return value.toLowerCase() === 'true';
    return fallback;
  };
  const decodePort = (value: unknown, fallbackPort: number, fallbackEnabled: boolean): { port: number; enabled: boolean } => {
    if (isRecord(value)) return { port: integer(value.$) ?? fallbackPort, enabled: bool(value['@enabled'], fallbackEnabled) };
    const port = integer(value);
    return { port: port ?? fallbackPort, enabled: port === undefined ? fallbackEnabled : true };
  };
  const setEntry = (map: Record<string, string>, key: string, value: string): void => {
    // A key named `__proto__` (which a server stores like any other) would otherwise set the prototype.
    if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
    else map[key] = value;
  };
  /** Metadata as a string map, without Jackson's `@class` marker. */
  const decodeMetadata = (value: unknown): Record<string, string> => {
    const metadata: Record<string, string> = {};
    if (!isRecord(value)) return metadata;
    // for-in over own keys: several times cheaper than Object.entries, which allocates a pair per key.
    for (const key in value) {
      if (key === '@class' || !Object.hasOwn(value, key)) continue;
      const s = text(value[key]);
      if (s !== undefined) setEntry(metadata, key, s);
    }
    return metadata;
  };
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : value === undefined || value === null ? [] : [value]);

  const decodeInstance = (raw: unknown, now: number): DecodedInstance => {
    if (!isRecord(raw)) throw new Error('instance is not an object');
    const dataCenter = isRecord(raw.dataCenterInfo) ? raw.dataCenterInfo : undefined;
    const dataCenterMetadata = dataCenter !== undefined && isRecord(dataCenter.metadata) ? dataCenter.metadata : {};
    const hostName = nonBlank(raw.hostName);
    const instanceId = nonBlank(raw.instanceId) ?? nonBlank(dataCenterMetadata['instance-id']) ?? hostName;
    if (instanceId === undefined) throw new Error('Missing instanceId');
    if (hostName === undefined) throw new Error('Missing hostname');
    const ipAddr = nonBlank(raw.ipAddr);
    if (ipAddr === undefined) throw new Error('Missing ip address');
    const app = nonBlank(raw.app);
    if (app === undefined) throw new Error('Missing appName');
    if (dataCenter === undefined) throw new Error('Missing dataCenterInfo');
    const dataCenterName = nonBlank(dataCenter.name);
    if (dataCenterName === undefined) throw new Error('Missing dataCenterInfo Name');

    const metadata = decodeMetadata(raw.metadata);
    const port = decodePort(raw.port, 7001, true);
    const securePort = decodePort(raw.securePort, 7002, false);
    const lease = isRecord(raw.leaseInfo) ? raw.leaseInfo : {};
    const statusText = nonBlank(raw.status);
    const lastDirty = integer(raw.lastDirtyTimestamp);
    const actionType = text(raw.actionType);
    const instance: RegistryInstance = Object.freeze({
      instanceId,
      app: app.toUpperCase(),
      vipAddress: text(raw.vipAddress) ?? '',
      secureVipAddress: text(raw.secureVipAddress) ?? '',
      hostName,
      ipAddr,
      port: port.port,
      portEnabled: port.enabled,
      securePort: securePort.port,
      securePortEnabled: securePort.enabled,
      zone: metadata.zone ?? nonBlank(dataCenterMetadata['availability-zone']) ?? 'default',
      metadata: Object.freeze(metadata),
      homePageUrl: text(raw.homePageUrl) ?? '',
      statusPageUrl: text(raw.statusPageUrl) ?? '',
      healthCheckUrl: text(raw.healthCheckUrl) ?? '',
      leaseRenewalIntervalMs: (integer(lease.renewalIntervalInSecs) ?? 30) * 1000,
      leaseDurationMs: (integer(lease.durationInSecs) ?? 90) * 1000,
      status: statusText === undefined ? 'UP' : toStatus(statusText.toUpperCase()),
      overriddenStatus: toStatus(text(raw.overriddenStatus ?? raw.overriddenstatus)?.toUpperCase()),
      lastUpdatedTimestamp: integer(raw.lastUpdatedTimestamp) ?? now,
      lastDirtyTimestamp: lastDirty ?? now,
    });
    return {
      instance,
      actionType: actionType === 'ADDED' || actionType === 'MODIFIED' || actionType === 'DELETED' ? actionType : undefined,
      dataCenterName,
      dataCenterClass: text(dataCenter['@class']) ?? defaultDataCenterClass,
      lease: {
        registrationTimestamp: integer(lease.registrationTimestamp) ?? 0,
        lastRenewalTimestamp: integer(lease.lastRenewalTimestamp ?? lease.renewalTimestamp) ?? 0,
        serviceUpTimestamp: integer(lease.serviceUpTimestamp) ?? 0,
      },
      lastDirtyTimestampMissing: lastDirty === undefined,
      statusMissing: statusText === undefined,
    };
  };
  return { isRecord, text, list, setEntry, decodeInstance };
}
