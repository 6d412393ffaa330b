import { KaryonError, isKaryonError } from '../../common/KaryonError.js';
import { decodeInstance, setEntry } from '../eureka/wire.js';
import { InstanceStatus } from '../types.js';
import type { RegistryInstance } from '../types.js';

/** A data center as an instance registered it, kept whole so Amazon metadata comes back to readers. */
export interface RegisteredDataCenter {
  /** The Java class; required on input, as Netflix's codec needs it. */
  readonly '@class': string;
  /** `MyOwn`, `Amazon` or `Netflix`. */
  readonly name: string;
  /** Amazon metadata (`instance-id`, `availability-zone`...), when sent. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A checked `POST /apps/{APP}` body. */
export interface Registration {
  /**
   * The instance as decoded. Its `leaseDurationMs` is meaningful only when {@link ownLeaseDurationMs} is set;
   * the registry fills in its default otherwise.
   */
  readonly instance: RegistryInstance;
  /** The `leaseInfo.durationInSecs` the instance sent, in ms, or undefined when it sent none. */
  readonly ownLeaseDurationMs: number | undefined;
  /** The data center, echoed back on reads. */
  readonly dataCenter: RegisteredDataCenter;
  /** Optional string fields Eureka carries that the registry does not interpret, echoed back on reads. */
  readonly extraFields: Readonly<Record<string, string>>;
}

const statusNames = Object.values(InstanceStatus);
const statusList = `${statusNames.slice(0, -1).join(', ')} or ${statusNames.at(-1) ?? ''}`;

/** Fields a Eureka `InstanceInfo` carries that mean nothing to this registry but must survive a round trip. */
const passThroughFields = ['appGroupName', 'asgName', 'secureHealthCheckUrl'] as const;

function protocolError(message: string): KaryonError {
  return new KaryonError('ERR_EUREKA_PROTOCOL', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

/** An integer given as a JSON number or a numeric string, or undefined when it is neither. */
function integerOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/**
 * Checks a register body the way a Netflix server does (same checks, order and messages: `Missing instanceId`,
 * `Missing hostname`, `Missing ip address`, `Missing appName`, `Mismatched appName, expecting X but was Y`,
 * `Missing dataCenterInfo`, `Missing dataCenterInfo Name`), and a little more strictly where Netflix would
 * store nonsense: an unknown status, a port that is not a port, or a timestamp that is not a number is
 * refused with a reason rather than silently replaced.
 *
 * @param body - the parsed JSON body
 * @param pathApp - the `{APP}` of the request path
 * @param now - receive time, used as `lastDirtyTimestamp` when the body has none
 * @throws KaryonError `ERR_EUREKA_PROTOCOL` whose message is the reason to send back with a 400.
 */
export function parseRegistration(body: unknown, pathApp: string, now: number): Registration {
  if (!isRecord(body) || !isRecord(body.instance)) {
    throw protocolError('request body must be a JSON object {"instance":{...}}');
  }
  const raw = body.instance;
  const expectedApp = pathApp.toUpperCase();
  const mismatch = (): KaryonError | undefined => {
    const app = typeof raw.app === 'string' ? raw.app.toUpperCase() : undefined;
    return app !== undefined && app !== expectedApp
      ? protocolError(`Mismatched appName, expecting ${expectedApp} but was ${app}`)
      : undefined;
  };
  let instance: RegistryInstance;
  try {
    instance = decodeInstance(raw, now).instance;
  } catch (error) {
    // Netflix checks the app name before the data center, the decoder the other way round.
    if (isKaryonError(error, 'ERR_EUREKA_PROTOCOL') && error.message.startsWith('Missing dataCenterInfo')) {
      throw mismatch() ?? error;
    }
    throw error;
  }
  const mismatched = mismatch();
  if (mismatched !== undefined) throw mismatched;

  const dataCenter = raw.dataCenterInfo as Record<string, unknown>;
  const dataCenterClass = dataCenter['@class'];
  if (typeof dataCenterClass !== 'string' || dataCenterClass.trim() === '') {
    throw protocolError('Missing dataCenterInfo @class (e.g. "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo")');
  }
  checkStatus('status', raw.status);
  checkStatus('overriddenStatus', raw.overriddenStatus);
  checkStatus('overriddenstatus', raw.overriddenstatus);
  checkPort('port', raw.port);
  checkPort('securePort', raw.securePort);
  for (const field of ['lastDirtyTimestamp', 'lastUpdatedTimestamp'] as const) {
    if (present(raw[field]) && integerOf(raw[field]) === undefined) {
      throw protocolError(`Invalid ${field} ${JSON.stringify(raw[field])}: expected epoch milliseconds`);
    }
  }

  let ownLeaseDurationMs: number | undefined;
  const leaseInfo = raw.leaseInfo;
  if (present(leaseInfo)) {
    if (!isRecord(leaseInfo)) throw protocolError('Invalid leaseInfo: expected an object');
    for (const field of ['durationInSecs', 'renewalIntervalInSecs'] as const) {
      const value = leaseInfo[field];
      if (present(value) && (integerOf(value) ?? -1) < 0) {
        throw protocolError(`Invalid leaseInfo.${field} ${JSON.stringify(value)}: expected a non-negative integer`);
      }
    }
    // Netflix takes the instance's own duration only when it is above zero.
    const seconds = integerOf(leaseInfo.durationInSecs);
    if (seconds !== undefined && seconds > 0) ownLeaseDurationMs = seconds * 1000;
  }

  const extraFields: Record<string, string> = {};
  for (const field of passThroughFields) {
    const value = raw[field];
    if (typeof value === 'string' && value !== '') extraFields[field] = value;
  }
  return {
    instance,
    ownLeaseDurationMs,
    dataCenter: Object.freeze({
      '@class': dataCenterClass,
      name: String(dataCenter.name),
      ...(isRecord(dataCenter.metadata) ? { metadata: Object.freeze(stringMap(dataCenter.metadata)) } : {}),
    }),
    extraFields: Object.freeze(extraFields),
  };
}

function checkStatus(field: string, value: unknown): void {
  if (!present(value)) return;
  if (typeof value !== 'string' || !(statusNames as string[]).includes(value.toUpperCase())) {
    throw protocolError(`Unknown ${field} ${JSON.stringify(value)}: expected ${statusList}`);
  }
}

function checkPort(field: string, value: unknown): void {
  if (!present(value)) return;
  const port = integerOf(isRecord(value) ? value.$ : value);
  if (port === undefined || port < 0 || port > 65535) {
    throw protocolError(`Invalid ${field} ${JSON.stringify(value)}: expected {"$": <0..65535>, "@enabled": "true"|"false"}`);
  }
}

function stringMap(value: Record<string, unknown>): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'string' || typeof entry === 'number' || typeof entry === 'boolean') setEntry(map, key, String(entry));
  }
  return map;
}
