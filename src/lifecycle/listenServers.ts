// Where a service's servers listen at start(): the admin server on 8077 unless its port was given or another
// service of this process holds that port, then the application's server on the configured port.
import type { AdminServer } from '../admin/AdminServer.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { listen } from '../inbound/ServerTracker.js';
import type { NodeHttpServer } from '../inbound/ServerTracker.js';
import { errorMessage } from '../internal/async.js';

/** The default admin port, and the service of this process that listens on it, if any. */
const DEFAULT_ADMIN_PORT = 8077;
let defaultAdminPortHolder: string | undefined;

const nothing = (): void => undefined;

/**
 * Makes the admin server listen: on its given port, else on 8077, or on a free port when another service of this
 * process holds 8077. Resolves with what releases the hold on 8077 once the admin server is closed.
 */
export async function listenAdmin(admin: AdminServer, portGiven: boolean, service: string, logger: Logger): Promise<() => void> {
  if (portGiven) {
    await admin.listen();
    return nothing;
  }
  const holder = defaultAdminPortHolder;
  if (holder !== undefined) {
    await admin.listen(0);
    logger.info(`admin port ${DEFAULT_ADMIN_PORT} is held by service '${holder}' of this process: admin server on ${admin.url ?? 'a free port'} (set admin.port to choose)`);
    return nothing;
  }
  defaultAdminPortHolder = service;
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    defaultAdminPortHolder = undefined;
  };
  try {
    await admin.listen();
  } catch (error) {
    release();
    throw error;
  }
  return release;
}

/**
 * Makes the application's server listen on `port` (0: any free port) unless it already listens; resolves with the
 * port bound.
 * @throws KaryonError ERR_LISTEN when the port cannot be bound.
 */
export async function listenApp(server: NodeHttpServer, port: number, host: string | undefined, service: string, logger: Logger): Promise<number> {
  try {
    return await listen(server, port, host, { name: `the server of '${service}'`, logger });
  } catch (error) {
    throw new KaryonError('ERR_LISTEN', `could not listen on port ${port}: ${errorMessage(error)}`, { service, cause: error });
  }
}
