import { existsSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README a package-page reader gets: every relative link in it names a file of the repository, and
// package.json names the repository they resolve against.

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
  it('link only to files of the repository, which the package page resolves through package.json', () => {
    // The package ships no docs/: npm's package page resolves the README's relative links against the
    // repository named in package.json, so each must name a file the repository has.
    const broken = relativeLinks(readFileSync(join(root, 'README.md'), 'utf8'))
      .map((target) => normalize(target))
      .filter((target) => !existsSync(join(root, target)));
    expect(broken).toEqual([]);
    expect(relativeLinks('[a](docs/x.md#y) [b](https://x) [c](#z) [d](../examples/a.ts)')).toEqual(['docs/x.md', '../examples/a.ts']);
  });

  it('package.json names the repository, its home page and its issue tracker, and the docs link to the same', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { repository: { url: string }; homepage: string; bugs: { url: string } };
    expect(manifest.repository.url).toBe(`git+${repository}.git`);
    expect(manifest.homepage).toBe(`${repository}#readme`);
    expect(manifest.bugs.url).toBe(`${repository}/issues`);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const link of readme.matchAll(/https:\/\/github\.com\/[\w-]+\/[\w-]+/g)) expect(link[0]).toBe(repository);
  });
});
