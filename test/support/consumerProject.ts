import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

// A user's project beside the built package: `karyon-ts` resolves through the package's `exports` to its
// .d.ts files (never to src/ through paths), checked with the options of test/package/tsconfig.consumer.json.

const root = fileURLToPath(new URL('../..', import.meta.url));

function newestMtime(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    }),
  );
}

/** The built package's dist/ when it is newer than every source file; otherwise the package built afresh. */
async function packageDist(into: string): Promise<string> {
  const built = join(root, 'dist');
  if (existsSync(join(built, 'index.d.ts')) && statSync(join(built, 'index.d.ts')).mtimeMs >= newestMtime(join(root, 'src'))) return built;
  const out = join(into, 'dist');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--declarationMap', 'false', '--sourceMap', 'false', '--outDir', out]);
  if (existsSync(join(root, 'src', 'admin', 'ui'))) cpSync(join(root, 'src', 'admin', 'ui'), join(out, 'admin', 'ui'), { recursive: true });
  return out;
}

/** A consumer project: its folder, and `check()` that type-checks every .ts file in it, returning tsc's output. */
export interface ConsumerProject {
  readonly dir: string;
  /** Writes `text` to `name` (relative to the project). */
  readonly write: (name: string, text: string) => void;
  /** Runs tsc on the project (with `args` added); the output, empty when everything type-checks. */
  readonly check: (args?: readonly string[]) => Promise<string>;
  /** Removes the project. */
  readonly remove: () => void;
}

export async function consumerProject(): Promise<ConsumerProject> {
  const dir = mkdtempSync(join(tmpdir(), 'karyon-consumer-'));
  // The package as installed: its package.json and dist/, its dependencies beside it.
  const pkg = join(dir, 'node_modules', 'karyon-ts');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(await packageDist(join(dir, 'built')), join(pkg, 'dist'), 'dir');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dependency of Object.keys(manifest.dependencies)) {
    mkdirSync(dirname(join(dir, 'node_modules', dependency)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dependency), join(dir, 'node_modules', dependency), 'dir');
  }
  // What the user's project installs itself.
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  for (const types of ['node', 'express']) symlinkSync(join(root, 'node_modules', '@types', types), join(dir, 'node_modules', '@types', types), 'dir');
  for (const dependency of ['express', 'fastify', 'node-fetch']) symlinkSync(join(root, 'node_modules', dependency), join(dir, 'node_modules', dependency), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const options = JSON.parse(readFileSync(join(root, 'test', 'package', 'tsconfig.consumer.json'), 'utf8')) as object;
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...options, include: ['**/*.ts'], exclude: ['node_modules', 'built'] }));
  return {
    dir,
    write: (name, text) => {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    },
    check: async (args = []) => {
      try {
        await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, ...args], { cwd: dir, encoding: 'utf8' });
        return '';
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        return `${stdout ?? ''}${stderr ?? ''}` || String(error);
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
