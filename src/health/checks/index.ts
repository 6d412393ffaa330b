export { scriptCheck, bundledCheckScript } from './scriptCheck.js';
export type { BundledCheckScript, ScriptCheckOptions } from './scriptCheck.js';
export { httpCheck } from './httpCheck.js';
export type { HttpCheckOptions } from './httpCheck.js';
export { tcpCheck, parseHostPort } from './tcpCheck.js';
export type { TcpCheckOptions } from './tcpCheck.js';
export { TtlCheck } from './TtlCheck.js';
export type { TtlCheckOptions, TtlReport, TtlStatus } from './TtlCheck.js';
