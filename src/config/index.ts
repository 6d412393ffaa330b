export { loadSettings } from './schema.js';
export type { KaryonSettings, SettingsSources } from './schema.js';
