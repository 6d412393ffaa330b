import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigSchema } from 'karyon-ts';
import { KaryonError, defineConfig, renderTemplate } from 'karyon-ts';
import type { DynamicConfig, TemplateRenderedEvent } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

interface Settings {
  readonly app: { readonly port: number; readonly zone: string; readonly tags: readonly string[]; readonly limits: Readonly<Record<string, number>> };
  readonly db: { readonly password: string | null; readonly url: string | null };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'port', format: 'port', default: 8080 },
    zone: { doc: 'zone', format: String, default: 'default' },
    tags: { doc: 'tags', format: Array, default: ['a', 'b'] },
    limits: { doc: 'limits', format: Object, default: { rps: 10 } },
  },
  db: {
    password: { doc: 'secret', format: '*', default: 'hunter2', nullable: true, sensitive: true },
    url: { doc: 'url', format: '*', default: null, nullable: true },
  },
};

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(template: string): Promise<{ dir: string; config: DynamicConfig<Settings>; templatePath: string; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'karyon-template-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const templatePath = join(dir, 'app.properties.template');
  await writeFile(templatePath, template);
  const config = defineConfig<Settings>({ schema });
  cleanup.push(() => config.close());
  await config.start();
  return { dir, config, templatePath, output: join(dir, 'app.properties') };
}

describe('renderTemplate', () => {
  it('renders placeholders, defaults and literals, and renders again on every change', async () => {
    const { config, templatePath, output } = await setup(
      '# generated\nserver.port=${app.port}\nzone=${ app.zone }\ntags=${app.tags}\nlimits=${app.limits}\nurl=${db.url:jdbc:none}\nliteral=$${app.port}\n',
    );
    const renderer = await renderTemplate({ config, template: templatePath, output });
    cleanup.push(() => renderer.close());
    expect(await readFile(output, 'utf8')).toBe('# generated\nserver.port=8080\nzone=default\ntags=a,b\nlimits={"rps":10}\nurl=jdbc:none\nliteral=${app.port}\n');
    const rendered: TemplateRenderedEvent[] = [];
    renderer.on('rendered', (event) => rendered.push(event));

    config.setOverride('app.port', 9090);
    config.setOverride('db.url', 'jdbc:postgresql://db/app');
    await waitFor(async () => (await readFile(output, 'utf8')).includes('url=jdbc:postgresql://db/app'), 10_000, 'the second render');
    expect(await readFile(output, 'utf8')).toContain('server.port=9090\n');
    expect(rendered.at(-1)).toMatchObject({ path: output, version: 3, signalled: false });
    // A change to a key the template does not use leaves the file alone.
    const renders = renderer.renders;
    config.setOverride('db.password', 'other');
    await renderer.flush();
    expect(renderer.renders).toBe(renders);
    expect((await stat(output)).mode & 0o777).toBe(0o644);
  });

  it('refuses unknown keys at start, listing each with its line, and a configuration that has not started', async () => {
    const { config, templatePath, output } = await setup('a=${app.port}\nb=${app.nope}\nc=${nope:default}\n');
    const error = (await renderTemplate({ config, template: templatePath, output }).catch((e: unknown) => e)) as KaryonError;
    expect(error).toBeInstanceOf(KaryonError);
    expect(error.code).toBe('ERR_INVALID_CONFIG');
    expect(error.message).toContain("names keys the schema does not declare: 'app.nope' (line 2), 'nope' (line 3)");
    await expect(readFile(output)).rejects.toThrow(/ENOENT/);
    await writeFile(templatePath, 'a=${app.port');
    await expect(renderTemplate({ config, template: templatePath, output })).rejects.toThrow(/line 1: unterminated placeholder/);
    const cold = defineConfig<Settings>({ schema });
    await expect(renderTemplate({ config: cold, template: templatePath, output })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }) as Error);
  });

  it('writes files with secrets readable by the owner only', async () => {
    const { config, templatePath, output } = await setup('password=${db.password}\n');
    const renderer = await renderTemplate({ config, template: templatePath, output });
    cleanup.push(() => renderer.close());
    expect(await readFile(output, 'utf8')).toBe('password=hunter2\n');
    expect((await stat(output)).mode & 0o777).toBe(0o600);
  });

  it('replaces the file atomically: a reader never sees a partial file, and no temporary file is left', async () => {
    const { dir, config, templatePath, output } = await setup(`port=\${app.port}\nzone=\${app.zone}\npadding=${'x'.repeat(200_000)}\nend=\${app.port}\n`);
    const renderer = await renderTemplate({ config, template: templatePath, output });
    cleanup.push(() => renderer.close());
    let stop = false;
    let reads = 0;
    const partial: string[] = [];
    const reader = (async () => {
      while (!stop) {
        const text = await readFile(output, 'utf8');
        reads++;
        const port = /^port=(\d+)$/m.exec(text)?.[1];
        const end = /^end=(\d+)$/m.exec(text)?.[1];
        if (port === undefined || port !== end) partial.push(`${text.length} bytes, port=${port} end=${end}`);
      }
    })();
    for (let port = 9000; port < 9040; port++) {
      config.setOverride('app.port', port);
      await renderer.flush();
    }
    stop = true;
    await reader;
    expect(await readFile(output, 'utf8')).toContain('end=9039\n');
    expect(reads).toBeGreaterThan(10);
    expect(partial).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['app.properties', 'app.properties.template']);
  });

  it('signals a child process after each re-render so it reloads the file', async () => {
    const { config, templatePath, output } = await setup('zone=${app.zone}\n');
    // A process in "another language" that only reads files: prints the file each time it gets SIGHUP.
    const child = spawn(
      process.execPath,
      ['-e', `process.on('SIGHUP', () => process.stdout.write('reloaded ' + require('fs').readFileSync(${JSON.stringify(output)}, 'utf8')));process.stdout.write('ready\\n');setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.push(async () => killTree(child));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('ready'), 10_000, 'the child to start');
    const renderer = await renderTemplate({ config, template: templatePath, output, signalChild: child });
    cleanup.push(() => renderer.close());
    expect(stdout).not.toContain('reloaded');
    config.setOverride('app.zone', 'eu-west-1');
    await waitFor(() => stdout.includes('reloaded zone=eu-west-1'), 10_000, 'the child to reload');
    const signalled: boolean[] = [];
    renderer.on('rendered', (event) => signalled.push(event.signalled));
    config.setOverride('app.zone', 'us-east-1');
    await waitFor(() => stdout.includes('reloaded zone=us-east-1'), 10_000, 'the second reload');
    expect(signalled).toEqual([true]);
  });

  it('reports a failed write, keeps following changes and writes again once it can', async () => {
    const { dir, config, templatePath } = await setup('port=${app.port}\n');
    const outDir = join(dir, 'out');
    await mkdir(outDir);
    const output = join(outDir, 'app.properties');
    const renderer = await renderTemplate({ config, template: templatePath, output });
    cleanup.push(() => renderer.close());
    const errors: Error[] = [];
    renderer.on('renderError', (error) => errors.push(error));
    await rm(outDir, { recursive: true });
    config.setOverride('app.port', 9001);
    await renderer.flush();
    // (flush() tries once more itself, so there may be two attempts.)
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error.message).toMatch(/ENOENT/);
    await mkdir(outDir);
    config.setOverride('app.port', 9002);
    await renderer.flush();
    expect(await readFile(output, 'utf8')).toBe('port=9002\n');
  });
});
