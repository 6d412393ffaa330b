import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { killSpawnedProcesses } from '../support/processes.js';

// The README and docs a package-page reader gets: every relative link in them points at a file the package
// ships (links to what it does not ship, such as the examples, are absolute links to the repository), and
// package.json names the repository they point at.

// Whatever fails, the npm process started here does not outlive the file.
killSpawnedProcesses();

const root = fileURLToPath(new URL('../..', import.meta.url));
const repository = 'https://github.com/karyon-ts/karyon-ts';

/** The relative link targets of a Markdown text, without their anchors. */
function relativeLinks(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith('#'))
    .map((target) => target.replace(/#.*$/, ''));
}

describe('the packed README and docs', () => {
  it('link only to files the package ships, or to the repository', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const shipped = new Set((JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
    expect(shipped.has('README.md')).toBe(true);
    const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken = docs.flatMap((doc) => {
      expect(shipped.has(doc)).toBe(true);
      return relativeLinks(readFileSync(join(root, doc), 'utf8'))
        .map((target) => normalize(join(dirname(doc), target)))
        .filter((target) => !shipped.has(target))
        .map((target) => `${doc} -> ${target}`);
    });
    expect(broken).toEqual([]);
    expect(relativeLinks('[a](docs/x.md#y) [b](https://x) [c](#z) [d](../examples/a.ts)')).toEqual(['docs/x.md', '../examples/a.ts']);
  }, 60_000);

  it('package.json names the repository, its home page and its issue tracker, and the docs link to the same', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { repository: { url: string }; homepage: string; bugs: { url: string } };
    expect(manifest.repository.url).toBe(`git+${repository}.git`);
    expect(manifest.homepage).toBe(`${repository}#readme`);
    expect(manifest.bugs.url).toBe(`${repository}/issues`);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const link of readme.matchAll(/https:\/\/github\.com\/[\w-]+\/[\w-]+/g)) expect(link[0]).toBe(repository);
  });
});
