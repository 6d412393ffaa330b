// A user's project against the installed package: strict, module nodenext, exactOptionalPropertyTypes,
// skipLibCheck false (see tsconfig.consumer.json). Type-checked against the package's own .d.ts files by
// scripts/check-package.sh (the packed tarball) and test/unit/published-types.test.ts (the built package);
// every line here is something a user writes without a cast.
import { createServer } from 'node:http';
import { createService, defineConfig, karyonConfigSchema, KaryonError } from 'karyon-ts';
import type { AnyDynamicConfig, ConfigSchema, DynamicConfig, KaryonConfig, Property } from 'karyon-ts';
import { EurekaServer, InMemoryRegistry } from 'karyon-ts/testing';

/** True when `A` and `B` are the same type. */
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

// A schema of one's own: the value types are inferred from the defaults, by key path.
const orders = defineConfig({
  schema: {
    orders: {
      discountPercent: { doc: 'discount on every order', format: 'int', default: 0, env: 'ORDERS_DISCOUNT_PERCENT' },
      currency: { doc: 'ISO currency', format: String, default: 'EUR' },
      express: { doc: 'express shipping offered', format: Boolean, default: false },
    },
  },
  env: process.env,
});
const discount: number = orders.property('orders.discountPercent').get();
const currency: string = orders.get('orders.currency');
assertType<Equal<ReturnType<typeof orders.property<'orders.express'>>, Property<boolean>>>();
// @ts-expect-error a number is not a string
const wrong: string = orders.get('orders.discountPercent');
// @ts-expect-error the schema has no such key
orders.property('orders.discountPercnt');

// An explicit settings type, checked against the schema.
interface Settings {
  readonly greeting: { readonly text: string; readonly times: number };
}
const schema: ConfigSchema<Settings> = {
  greeting: { text: { doc: 'what to say', format: String, default: 'hello' }, times: { doc: 'how often', format: 'nat', default: 1 } },
};
const typed: DynamicConfig<Settings> = defineConfig<Settings>({ schema });
assertType<Equal<typeof typed.snapshot.greeting.times, number>>();

// The library's own keys, alone and with the application's.
const library = defineConfig({ schema: karyonConfigSchema, env: process.env });
const adminPort: number = library.get('admin.port');
const both = defineConfig({ schema: { ...karyonConfigSchema, ...schema } });
const level: KaryonConfig['log']['level'] = both.get('log.level');

// Any of them goes to createService (and to a function of one's own taking any configuration).
function describeConfig(config: AnyDynamicConfig): number {
  return config.describe().keys.length;
}
for (const config of [orders, typed, library, both]) {
  const service = createService({ name: 'consumer', port: 0, server: createServer(), admin: false, registry: new InMemoryRegistry(), config });
  void describeConfig(config);
  void service;
}

const eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
const failure: unknown = new KaryonError('ERR_INVALID_CONFIG', 'example');
export { adminPort, currency, discount, eureka, failure, level, wrong };
