import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A fresh clone has nothing beside it: no test, benchmark, example, script or library file may read a path
// outside the repository. Every relative path written in their code is resolved from the file that writes it
// (as imports and `new URL(path, import.meta.url)` are), and absolute paths to a workspace are refused.

const root = fileURLToPath(new URL('../..', import.meta.url));
const scanned = ['src', 'test', 'bench', 'examples', 'scripts'];
const skippedDirs = new Set(['node_modules', 'dist', '.git']);
const textFile = /\.(ts|mts|js|mjs|cjs|json|sh|py|md|template|properties|env)$/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skippedDirs.has(entry.name) ? [] : filesUnder(path);
    return textFile.test(entry.name) ? [path] : [];
  });
}

/** Every path in `text` that escapes `root` when resolved from `file`'s folder, with its line. */
function escapingPaths(file: string, text: string): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    for (const match of line.matchAll(/['"`]((?:\.\/)?(?:\.\.\/)+[^'"`\s]*|\.\.)['"`]/g)) {
      const target = resolve(dirname(file), match[1]!);
      if (target !== root.replace(/[/\\]$/, '') && !target.startsWith(root)) found.push(`${relative(root, file)}:${index + 1}: ${match[1]}`);
    }
    for (const match of line.matchAll(/['"`](\/(?:work|home|Users)\/[^'"`\s]*|[^'"`\s]*\bshared\/fixtures\/[^'"`\s]*)['"`]/g)) {
      found.push(`${relative(root, file)}:${index + 1}: ${match[1]}`);
    }
  }
  return [...new Set(found)];
}

describe('the repository is self-contained', () => {
  it('no src, test, bench, example or script file names a path outside the repository', () => {
    const files = scanned.flatMap((dir) => filesUnder(join(root, dir)));
    expect(files.length).toBeGreaterThan(100);
    const escaping = files.filter((file) => file !== fileURLToPath(import.meta.url)).flatMap((file) => escapingPaths(file, readFileSync(file, 'utf8')));
    expect(escaping).toEqual([]);
  });

  it('the scan finds a fixture read from beside the repository, so the check above can fail', () => {
    const file = join(root, 'test', 'unit', 'wire.test.ts');
    expect(escapingPaths(file, "readFileSync(new URL('../../../beside/fixtures/eureka/a.json', import.meta.url))")).toEqual([
      `test${sep}unit${sep}wire.test.ts:1: ../../../beside/fixtures/eureka/a.json`,
    ]);
    expect(escapingPaths(file, "readFileSync(new URL('../fixtures/eureka/a.json', import.meta.url))")).toEqual([]);
    expect(escapingPaths(file, "readFileSync('/home/someone/fixtures/eureka/a.json')")).toHaveLength(1);
  });
});
