export { Eureka, Eureka as default, EurekaClientDefaultLogger } from './Eureka.js';
export type { EurekaClientCallback, EurekaClientEvents, EurekaClientInstance, EurekaClientWirePort } from './Eureka.js';
export type { WireDataCenterInfo, WireInstance, WireLeaseInfo, WirePort } from '../registry/eureka/wire.js';
export type {
  EurekaClientAuth,
  EurekaClientConfig,
  EurekaClientDataCenterInfo,
  EurekaClientLeaseInfo,
  EurekaClientPortObject,
  EurekaClientInstanceConfig,
  EurekaClientLogger,
  EurekaClientPort,
  EurekaClientRequestOptions,
  EurekaClientServerConfig,
} from './EurekaClientConfig.js';
