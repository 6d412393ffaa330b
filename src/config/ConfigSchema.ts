/**
 * How one key of a {@link ConfigSchema} is validated: a format name (`'int'`, `'nat'`, `'port'`, `'duration'`,
 * `'url'`, `'email'`, `'ipaddress'`, `'*'`, or one added with `convict.addFormat`), a constructor (`String`,
 * `Number`, `Boolean`, `Array`, `Object`), a list of the values allowed, or a function that throws on a bad
 * value.
 */
export type ConfigFormat = string | readonly unknown[] | ((value: never) => unknown);

/** One key of a {@link ConfigSchema} that holds a value of type `V` (a convict "property"). */
export interface ConfigSchemaKey<V = unknown> {
  /** The value when no layer sets one; its type is the key's type when the schema's type is inferred. */
  readonly default: V | null;
  /** What the key is for: shown by `GET /config` and `describe()`. */
  readonly doc?: string | undefined;
  /** How values are validated (and environment strings coerced). */
  readonly format?: ConfigFormat | undefined;
  /** The environment variable that sets it. */
  readonly env?: string | undefined;
  /** The command-line argument that sets it (`arg: 'app-port'` reads `--app-port 9090`). */
  readonly arg?: string | undefined;
  /** Its value is masked (`'[Sensitive]'`) everywhere the configuration is shown. */
  readonly sensitive?: boolean | undefined;
  /** `null` is a valid value whatever the format. */
  readonly nullable?: boolean | undefined;
}

/**
 * A configuration schema (convict's format, typed without convict's types): every key of the settings type
 * `T` is either a {@link ConfigSchemaKey} or a nested schema. `defineConfig({ schema })` infers `T` from
 * the defaults, so `property('orders.discountPercent').get()` is a `number` when that key's default is one.
 * @example
 * ```ts
 * const schema = {
 *   orders: { discountPercent: { doc: 'discount applied to every order', format: 'int', default: 0, env: 'DISCOUNT' } },
 * } satisfies ConfigSchema<{ orders: { discountPercent: number } }>;
 * ```
 */
export type ConfigSchema<T> = { readonly [K in keyof T]: ConfigSchema<T[K]> | ConfigSchemaKey<T[K]> };
