import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The public surface: every entry point of package.json `exports` (the root, karyon-ts/extend,
// karyon-ts/sidecar, karyon-ts/testing, ...) exports only what is meant for users, and each of its runtime
// exports is shown to them somewhere: mentioned in README.md, docs/ or examples/. Option resolvers
// (`resolve*`), resolved-option types (`Resolved*`) and the internals below are not exported at all.

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };

/** Each typed entry point: its import specifier and its source file. */
const entries = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object' && target !== null && 'types' in target)
  .map(([subpath, target]) => ({
    specifier: subpath === '.' ? 'karyon-ts' : `karyon-ts/${subpath.slice(2)}`,
    source: join(root, (target as { types: string }).types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts')),
  }));

/** Internals once exported from the root: they stay inside the package. */
const internals = [
  'pickTwo', 'twoDistinct', 'InstanceState', 'LatencyHistogram', 'EurekaInstance', 'CounterSeries', 'GaugeSeries',
  'HistogramSeries', 'SetSeries', 'toHystrixCommand', 'toHystrixThreadPool', 'Balancer', 'OutlierDetector',
  'toInstanceStatus', 'registryStatusOf', 'FieldPattern', 'mergeShadowSettings',
];

/** The runtime and the type exports of a source entry point. */
function exportsOf(file: string): { values: string[]; types: string[] } {
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const values: string[] = [];
  const types: string[] = [];
  for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const typeOnly = (symbol.declarations ?? []).some((d) => ts.isTypeOnlyExportDeclaration(d) || (ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)));
    (target.flags & ts.SymbolFlags.Value && !typeOnly ? values : types).push(symbol.getName());
  }
  return { values: values.sort(), types: types.sort() };
}

/** README.md and every Markdown, TypeScript and JavaScript file of docs/ (less the generated API pages) and examples/. */
function userFacingText(): string {
  const texts = [readFileSync(join(root, 'README.md'), 'utf8')];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name === 'node_modules' || path === join(root, 'docs', 'api')) continue;
      if (statSync(path).isDirectory()) visit(path);
      else if (/\.(md|ts|js|mjs|cjs)$/.test(name)) texts.push(readFileSync(path, 'utf8'));
    }
  };
  visit(join(root, 'docs'));
  visit(join(root, 'examples'));
  return texts.join('\n');
}

describe('the public entry points', () => {
  const surfaces = entries.map((entry) => ({ ...entry, ...exportsOf(entry.source) }));
  const text = userFacingText();

  it('are the root, extend, sidecar and testing at least, each with a source file', () => {
    expect(entries.map((e) => e.specifier)).toEqual(expect.arrayContaining(['karyon-ts', 'karyon-ts/extend', 'karyon-ts/sidecar', 'karyon-ts/testing']));
    for (const surface of surfaces) expect(surface.values.length, surface.specifier).toBeGreaterThan(0);
  });

  it('mention every runtime export in README.md, docs/ or examples/', () => {
    const unmentioned = surfaces.flatMap((s) => s.values.filter((name) => !new RegExp(`\\b${name}\\b`).test(text)).map((name) => `${s.specifier}: ${name}`));
    expect(unmentioned).toEqual([]);
  });

  it('export no option resolver, no resolved-option type and none of the internals', () => {
    const leaked = surfaces.flatMap((s) =>
      [...s.values, ...s.types].filter((name) => /^resolve[A-Z]/.test(name) || /^Resolved[A-Z]/.test(name) || internals.includes(name)).map((name) => `${s.specifier}: ${name}`),
    );
    expect(leaked).toEqual([]);
  });

  it('export a class and its factory as values together only for Service (a Nest injection token)', () => {
    const both = surfaces.flatMap((s) => s.values.filter((name) => s.values.includes(`create${name}`) && name !== 'Service').map((name) => `${s.specifier}: ${name}`));
    expect(both).toEqual([]);
  });

  it('the runtime exports match what the package really exports', async () => {
    for (const surface of surfaces) {
      const module = (await import(/* @vite-ignore */ surface.specifier)) as Record<string, unknown>;
      expect(Object.keys(module).filter((name) => name !== 'default').sort(), surface.specifier).toEqual(surface.values.filter((name) => name !== 'default'));
    }
  });
});
