// The command-line layer of a dynamic configuration: how arguments are spelled and what a bare flag means.
import { describe, expect, it } from 'vitest';
import { KaryonError, defineConfig } from 'karyon-ts';
import type { ConfigSchema } from 'karyon-ts';

interface Settings {
  readonly app: { readonly verbose: boolean; readonly dryRun: boolean; readonly name: string };
}

const schema: ConfigSchema<Settings> = {
  app: {
    verbose: { doc: 'verbose', format: Boolean, default: false, arg: 'verbose' },
    dryRun: { doc: 'dry run', format: Boolean, default: false, arg: 'dry-run' },
    name: { doc: 'name', format: String, default: 'none', arg: 'name' },
  },
};

async function configFrom(argv: string[]) {
  const config = defineConfig<Settings>({ schema, env: {}, argv, sources: [] });
  await config.start();
  return config;
}

describe('DynamicConfig: the argument layer', () => {
  it('takes a bare --flag as true, whether it is last or followed by another option', async () => {
    const last = await configFrom(['--name', 'svc', '--verbose']);
    expect(last.snapshot.app).toEqual({ verbose: true, dryRun: false, name: 'svc' });
    expect(last.describe().keys.find((k) => k.key === 'app.verbose')).toMatchObject({ value: true, layer: 'argv', source: 'argv:--verbose' });
    await last.close();

    const followed = await configFrom(['--dry-run', '--verbose', '--name=svc']);
    expect(followed.snapshot.app).toEqual({ verbose: true, dryRun: true, name: 'svc' });
    await followed.close();
  });

  it('reads --flag=false and --flag false as false, the last occurrence winning, and stops at --', async () => {
    const config = await configFrom(['--verbose', '--verbose=false', '--dry-run', 'false', '--', '--name', 'ignored']);
    expect(config.snapshot.app).toEqual({ verbose: false, dryRun: false, name: 'none' });
    await config.close();
  });

  it('refuses a bare flag on a key that is not a boolean, naming the key and the argument', async () => {
    const config = defineConfig<Settings>({ schema: { app: { ...schema.app, name: { doc: 'name', format: 'nat', default: 1, arg: 'name' } } } as never, env: {}, argv: ['--name'], sources: [] });
    const error = (await config.start().catch((e: unknown) => e)) as KaryonError;
    expect(error).toBeInstanceOf(KaryonError);
    expect(error.code).toBe('ERR_INVALID_CONFIG');
    expect(error.message).toContain("'app.name'");
    expect(error.message).toContain('argv:--name');
  });
});
