import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// A source file over 500 lines says at its top why it is not split, so a long file is a decision, not drift.
const LIMIT = 500;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('source files', () => {
  it(`over ${LIMIT} lines say why at their top`, () => {
    const unexplained = sources('src').filter((path) => {
      const lines = readFileSync(path, 'utf8').split('\n');
      if (lines.length <= LIMIT) return false;
      return !/^\/\/ .*500 lines/.test(lines[0] ?? '');
    });
    expect(unexplained).toEqual([]);
  });
});
