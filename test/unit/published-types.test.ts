import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerProject } from '../support/consumerProject.js';
import type { ConsumerProject } from '../support/consumerProject.js';

// The published types as a user's project sees them (strict, module nodenext, exactOptionalPropertyTypes,
// skipLibCheck false), through the package's name and exports, never src/ through paths. CI checks the same
// consumer against the packed tarball (scripts/check-package.sh).

const root = fileURLToPath(new URL('../..', import.meta.url));

let project: ConsumerProject;
let output = '';
beforeAll(async () => {
  project = await consumerProject();
  project.write('consumer.ts', readFileSync(join(root, 'test', 'package', 'consumer.ts'), 'utf8'));
  output = await project.check();
}, 180_000);
afterAll(() => project?.remove());

describe('the published types, as a user project sees them', () => {
  it('a consumer of both entry points type-checks without a cast: schemas typed by key path, any config to createService', () => {
    expect(output).toBe('');
  });

  it('no published declaration imports a module that is not a dependency with types of its own (convict is not)', () => {
    const dist = join(project.dir, 'node_modules', 'karyon-ts', 'dist');
    const imported = listImports(dist, ['nest']);
    const allowed = new Set(['eventemitter3', 'undici', 'karyon-ts', 'karyon-ts/testing']);
    expect(imported.filter((name) => !name.startsWith('node:') && !allowed.has(name))).toEqual([]);
  });

  it('only the karyon-ts/nest entry point imports Nest, its optional peer dependencies (with types of their own)', () => {
    const imported = listImports(join(project.dir, 'node_modules', 'karyon-ts', 'dist', 'nest'));
    const allowed = new Set(['eventemitter3', 'undici', '@nestjs/common', '@nestjs/core']);
    expect(imported.filter((name) => !name.startsWith('node:') && !allowed.has(name))).toEqual([]);
    expect(imported).toContain('@nestjs/common');
  });
});

/**
 * The bare module names imported by the .d.ts files under `dir` (not those of the doc comments' examples), less
 * the folders named in `skip` (entry points with peer dependencies of their own).
 */
function listImports(dir: string, skip: readonly string[] = []): string[] {
  const names = new Set<string>();
  const visit = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) {
        if (!(path === dir && skip.includes(entry.name))) visit(child);
      }
      else if (entry.name.endsWith('.d.ts')) {
        for (const match of readFileSync(child, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/(?:from|import\()\s*['"]([^'".][^'"]*)['"]/g)) names.add(match[1]!);
      }
    }
  };
  visit(dir);
  return [...names].sort();
}
