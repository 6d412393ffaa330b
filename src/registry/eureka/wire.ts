import { KaryonError } from '../../common/KaryonError.js';
import { InstanceStatus } from '../types.js';
import type { InstanceDescriptor } from '../types.js';
import { wireDecoder } from './wireDecoder.js';

// Eureka's JSON, as Netflix and Spring Cloud servers read and write it. Readers here accept every variant
// real servers emit (see the wire quirks in the protocol reference); writers emit what the strictest
// servers want: string `@enabled`, `@class` on dataCenterInfo, a statusPageUrl, string timestamps.

/** A port as Eureka writes it. */
export interface WirePort {
  /** The port number (a number or a numeric string on the wire). */
  readonly $: number | string;
  /** "true" or "false" (a boolean on some servers). */
  readonly '@enabled': string | boolean;
}

/** Eureka's `dataCenterInfo`. */
export interface WireDataCenterInfo {
  /** The Java class, required by servers. */
  readonly '@class': string;
  /** `MyOwn`, `Amazon` or `Netflix`. */
  readonly name: string;
  /** Amazon metadata (`instance-id`, `availability-zone`...). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Eureka's `leaseInfo`. */
export interface WireLeaseInfo {
  /** Heartbeat interval, seconds. */
  readonly renewalIntervalInSecs: number;
  /** Lease duration, seconds. */
  readonly durationInSecs: number;
  /** When first registered (epoch ms). */
  readonly registrationTimestamp: number;
  /** When last renewed (epoch ms). */
  readonly lastRenewalTimestamp: number;
  /** When evicted or cancelled (epoch ms), 0 if not. */
  readonly evictionTimestamp: number;
  /** When first seen UP (epoch ms). */
  readonly serviceUpTimestamp: number;
}

/** An `InstanceInfo` as JSON. */
export interface WireInstance {
  /** The instance id. */
  readonly instanceId?: string;
  /** Host name. */
  readonly hostName: string;
  /** App name, upper case. */
  readonly app: string;
  /** IP address. */
  readonly ipAddr: string;
  /** Status. */
  readonly status: string;
  /** Operator override (current spelling). */
  readonly overriddenStatus?: string;
  /** Operator override (older servers' spelling). */
  readonly overriddenstatus?: string;
  /** Plain port. */
  readonly port: WirePort;
  /** Secure port. */
  readonly securePort: WirePort;
  /** Always 1. */
  readonly countryId: number;
  /** Data center. */
  readonly dataCenterInfo: WireDataCenterInfo;
  /** Lease. */
  readonly leaseInfo?: WireLeaseInfo;
  /** Metadata; an empty map is `{"@class":"java.util.Collections$EmptyMap"}`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Home page. */
  readonly homePageUrl: string;
  /** Status page. */
  readonly statusPageUrl: string;
  /** Health URL. */
  readonly healthCheckUrl: string;
  /** VIP address (comma-separated list allowed). */
  readonly vipAddress: string;
  /** Secure VIP address. */
  readonly secureVipAddress: string;
  /** "true" or "false". */
  readonly isCoordinatingDiscoveryServer: string | boolean;
  /** Epoch ms as a string. */
  readonly lastUpdatedTimestamp: string | number;
  /** Epoch ms as a string. */
  readonly lastDirtyTimestamp: string | number;
  /** In deltas: what happened. */
  readonly actionType?: string;
}

/** An application as JSON. */
export interface WireApplication {
  /** The app name. */
  readonly name: string;
  /** Its instances (a single object on some servers). */
  readonly instance: readonly WireInstance[] | WireInstance;
}

/** `{"applications": ...}` as JSON. */
export interface WireApplications {
  /** Delta version. */
  readonly versions__delta: string | number;
  /** The registry's status hash. */
  readonly apps__hashcode: string;
  /** The applications (a single object on some servers). */
  readonly application: readonly WireApplication[] | WireApplication;
}

export type { ActionType, DecodedInstance, DecodedLease } from './wireDecoder.js';
import type { ActionType, DecodedInstance, DecodedLease } from './wireDecoder.js';

/** A decoded `{"applications": ...}`. */
export interface DecodedApplications {
  /** `versions__delta`, as a string. */
  readonly versionsDelta: string;
  /** `apps__hashcode`. */
  readonly appsHashcode: string;
  /** Every instance that decoded. */
  readonly instances: readonly DecodedInstance[];
  /** One reason per instance that did not decode (it is skipped, never fatal). */
  readonly errors: readonly string[];
}

/** The `@class` of a data center that is neither Amazon nor Netflix (`name: "MyOwn"`). */
export const DEFAULT_DATA_CENTER_CLASS = 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo';
const EMPTY_MAP_CLASS = 'java.util.Collections$EmptyMap';

function protocolError(message: string): KaryonError {
  return new KaryonError('ERR_EUREKA_PROTOCOL', message);
}

/** The instance decoder, shared with the worker thread that decodes large registries (see wireDecoder.ts). */
export const WIRE_DECODER_ARGS: readonly [statuses: readonly string[], defaultDataCenterClass: string] = [Object.values(InstanceStatus), DEFAULT_DATA_CENTER_CLASS];
const core = wireDecoder(...WIRE_DECODER_ARGS);
const { isRecord, text, list } = core;

/**
 * Sets `map[key]` as an own property: a key named `__proto__` (which a server stores like any other) would
 * otherwise set the object's prototype, and be lost.
 */
export function setEntry(map: Record<string, string>, key: string, value: string): void {
  core.setEntry(map, key, value);
}

/**
 * Decodes one instance, checking what a Netflix server checks on register, in its order and with its
 * messages (`Missing instanceId`, `Missing hostname`, ...). The id falls back to the Amazon instance id,
 * then the host name, as Eureka's `InstanceInfo.getId()` does.
 * @throws KaryonError ERR_EUREKA_PROTOCOL with the server's message.
 */
export function decodeInstance(raw: unknown, now: number): DecodedInstance {
  try {
    return core.decodeInstance(raw, now);
  } catch (error) {
    throw protocolError((error as Error).message);
  }
}

/**
 * Decodes `{"applications": ...}` (a full fetch, a delta or a VIP query). Instances that do not decode are
 * skipped and reported in `errors`.
 * @throws KaryonError ERR_EUREKA_PROTOCOL when the body is not an applications document at all.
 */
export function decodeApplications(body: unknown, now: number): DecodedApplications {
  const root = isRecord(body) && isRecord(body.applications) ? body.applications : undefined;
  if (root === undefined) throw protocolError('response has no "applications" object');
  const instances: DecodedInstance[] = [];
  const errors: string[] = [];
  decodeApplicationList(list(root.application), now, instances, errors);
  return {
    versionsDelta: text(root.versions__delta) ?? '',
    appsHashcode: text(root.apps__hashcode) ?? '',
    instances,
    errors,
  };
}

/**
 * Decodes the entries of an `application` list into `instances`, with one reason in `errors` per instance (or
 * application entry) that does not decode.
 */
export function decodeApplicationList(applications: readonly unknown[], now: number, instances: DecodedInstance[], errors: string[]): void {
  for (const application of applications) {
    if (!isRecord(application)) {
      errors.push('an application entry is not an object');
      continue;
    }
    for (const raw of list(application.instance)) {
      try {
        instances.push(decodeInstance(raw, now));
      } catch (error) {
        errors.push(`${text(application.name) ?? '?'}: ${(error as Error).message}`);
      }
    }
  }
}

/** Extra facts the writer of an instance may add (a server adds lease timestamps and the action). */
export interface EncodeExtras {
  /** The operator override. */
  readonly overriddenStatus?: string;
  /** Lease timestamps. */
  readonly lease?: Partial<DecodedLease> & {
    /** When the lease was cancelled or evicted (epoch ms), 0 if not. */
    readonly evictionTimestamp?: number;
  };
  /** `lastUpdatedTimestamp`; defaults to `lastDirtyTimestamp`. */
  readonly lastUpdatedTimestamp?: number;
  /** Delta action. */
  readonly actionType?: ActionType;
  /** Data center name. */
  readonly dataCenterName?: string;
  /** Data center `@class`. */
  readonly dataCenterClass?: string;
}

/** Encodes an instance as a Netflix server writes it (and as strict servers want a registration body). */
export function encodeInstance(
  instance: InstanceDescriptor,
  status: string,
  lastDirtyTimestamp: number,
  extras: EncodeExtras = {},
): WireInstance {
  const metadata = Object.keys(instance.metadata).length === 0 ? { '@class': EMPTY_MAP_CLASS } : { ...instance.metadata };
  const lease = extras.lease ?? {};
  return {
    instanceId: instance.instanceId,
    hostName: instance.hostName,
    app: instance.app.toUpperCase(),
    ipAddr: instance.ipAddr,
    status,
    overriddenStatus: extras.overriddenStatus ?? 'UNKNOWN',
    port: { $: instance.port, '@enabled': String(instance.portEnabled) },
    securePort: { $: instance.securePort, '@enabled': String(instance.securePortEnabled) },
    countryId: 1,
    dataCenterInfo: { '@class': extras.dataCenterClass ?? DEFAULT_DATA_CENTER_CLASS, name: extras.dataCenterName ?? 'MyOwn' },
    leaseInfo: {
      renewalIntervalInSecs: Math.max(1, Math.round(instance.leaseRenewalIntervalMs / 1000)),
      durationInSecs: Math.max(1, Math.round(instance.leaseDurationMs / 1000)),
      registrationTimestamp: lease.registrationTimestamp ?? 0,
      lastRenewalTimestamp: lease.lastRenewalTimestamp ?? 0,
      evictionTimestamp: lease.evictionTimestamp ?? 0,
      serviceUpTimestamp: lease.serviceUpTimestamp ?? 0,
    },
    metadata,
    homePageUrl: instance.homePageUrl,
    statusPageUrl: instance.statusPageUrl,
    healthCheckUrl: instance.healthCheckUrl,
    vipAddress: instance.vipAddress,
    secureVipAddress: instance.secureVipAddress,
    isCoordinatingDiscoveryServer: 'false',
    lastUpdatedTimestamp: String(extras.lastUpdatedTimestamp ?? lastDirtyTimestamp),
    lastDirtyTimestamp: String(lastDirtyTimestamp),
    ...(extras.actionType === undefined ? {} : { actionType: extras.actionType }),
  };
}

/**
 * Eureka's `apps__hashcode`: `STATUS_count_` for each status with a non-zero count, statuses in alphabetical
 * order, over every instance of every status. An empty registry hashes to `""`.
 */
export function appsHashcode(statuses: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts.keys()]
    .sort()
    .map((status) => `${status}_${counts.get(status)}_`)
    .join('');
}

/**
 * {@link appsHashcode} from counts already kept (e.g. by an instance cache), without walking the instances.
 * Statuses with a count of zero are left out, as Eureka does.
 */
export function appsHashcodeOfCounts(counts: Iterable<readonly [string, number]>): string {
  return [...counts]
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([status, count]) => `${status}_${count}_`)
    .join('');
}

/** A whole `GET /apps` (or delta, or VIP query) document. */
export interface WireApplicationsDocument {
  /** The applications and the registry's delta version and hash. */
  applications: WireApplications;
}

/** Groups encoded instances by app into `{"applications": ...}`. */
export function encodeApplications(
  instances: Iterable<WireInstance>,
  versionsDelta: string | number,
  hashcode: string,
): WireApplicationsDocument {
  const byApp = new Map<string, WireInstance[]>();
  for (const instance of instances) {
    const apps = byApp.get(instance.app);
    if (apps === undefined) byApp.set(instance.app, [instance]);
    else apps.push(instance);
  }
  return {
    applications: {
      versions__delta: String(versionsDelta),
      apps__hashcode: hashcode,
      application: [...byApp].map(([name, instance]) => ({ name, instance })),
    },
  };
}
