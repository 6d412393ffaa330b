import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerProject } from '../support/consumerProject.js';
import type { ConsumerProject } from '../support/consumerProject.js';

// Every TypeScript snippet of README.md and docs/ compiles in a user's project against the published types
// (the built package through its name; strict, module nodenext, exactOptionalPropertyTypes, skipLibCheck
// false). A snippet is a whole module unless its info string says `fragment` (```ts fragment): a fragment is
// completed with imports of the names it uses without defining them, from the package and from
// test/package/fragment-context.ts (the application objects a fragment assumes: `service`, `db`...). Snippets
// marked `nest` (```ts nest, whole modules) compile in a Nest project: Nest 11 installed, experimentalDecorators
// and emitDecoratorMetadata on, as Nest projects compile.

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Snippet {
  readonly doc: string;
  /** Line of the opening fence in the document. */
  readonly line: number;
  readonly fragment: boolean;
  /** Compiled in a Nest project (experimentalDecorators). */
  readonly nest: boolean;
  readonly code: string;
}

/** Every ```ts block of a Markdown document. */
function snippetsOf(doc: string, text: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    snippets.push({ doc, line: start + 1, fragment: /\bfragment\b/.test(open[2]!), nest: /\bnest\b/.test(open[2]!), code: body.join('\n') });
  }
  return snippets;
}

/** The names a module exports, types included, read from its declaration or source file. */
function exportsOf(file: string): string[] {
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!);
  return symbol === undefined ? [] : checker.getExportsOfModule(symbol).map((s) => s.getName());
}

/** The names `code` declares itself (imports, variables, functions, classes, types). */
function declaredIn(code: string): Set<string> {
  const declared = new Set<string>();
  for (const match of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of match[1]!.split(',')) declared.add(part.trim().split(/\s+as\s+/).pop()!.replace(/^type\s+/, ''));
  }
  for (const match of code.matchAll(/\b(?:const|let|var|function|class|interface|type|using)\s+([A-Za-z_$][\w$]*)/g)) declared.add(match[1]!);
  return declared;
}

/** `code` completed: imports of each name of `available` it uses (not as a property) and does not declare. */
function completed(code: string, available: ReadonlyMap<string, string>): string {
  const declared = declaredIn(code);
  const bySource = new Map<string, string[]>();
  const used = new Set([...code.replace(/\/\/.*$/gm, '').matchAll(/(?<![^.]\.)(?<![\w$'"`])([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!));
  for (const name of used) {
    const source = available.get(name);
    if (source === undefined || declared.has(name)) continue;
    bySource.set(source, [...(bySource.get(source) ?? []), name]);
  }
  const imports = [...bySource].map(([source, names]) => `import { ${names.sort().join(', ')} } from '${source}';`);
  return `${imports.join('\n')}\n${code}\n`;
}

const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const snippets = docs.flatMap((doc) => snippetsOf(doc, readFileSync(join(root, doc), 'utf8')));

/** The file a snippet is compiled as. */
function fileOf(snippet: Snippet): string {
  return `snippets/${snippet.doc.replace(/[/.]/g, '_')}_${snippet.line}.ts`;
}

let project: ConsumerProject;
let nestProject: ConsumerProject;
let output = '';
let nestOutput = '';
beforeAll(async () => {
  nestProject = await consumerProject();
  for (const dependency of ['@nestjs', 'reflect-metadata', 'rxjs']) symlinkSync(join(root, 'node_modules', dependency), join(nestProject.dir, 'node_modules', dependency), 'dir');
  for (const snippet of snippets.filter((s) => s.nest)) nestProject.write(fileOf(snippet), `${snippet.code}\nexport {};\n`);
  nestOutput = await nestProject.check(['--experimentalDecorators', '--emitDecoratorMetadata']);
  project = await consumerProject();
  project.write('fragment-context.ts', readFileSync(join(root, 'test', 'package', 'fragment-context.ts'), 'utf8'));
  const available = new Map<string, string>();
  for (const [entry, source] of [
    ['node_modules/karyon-ts/dist/sidecar/index.d.ts', 'karyon-ts/sidecar'],
    ['node_modules/karyon-ts/dist/extend/index.d.ts', 'karyon-ts/extend'],
    ['node_modules/karyon-ts/dist/testing/index.d.ts', 'karyon-ts/testing'],
    ['node_modules/karyon-ts/dist/index.d.ts', 'karyon-ts'],
    ['fragment-context.ts', '../fragment-context.js'],
  ] as const) {
    for (const name of exportsOf(join(project.dir, entry))) available.set(name, source);
  }
  for (const snippet of snippets.filter((s) => !s.nest)) project.write(fileOf(snippet), snippet.fragment ? completed(snippet.code, available) : `${snippet.code}\nexport {};\n`);
  output = await project.check();
}, 240_000);
afterAll(() => {
  project?.remove();
  nestProject?.remove();
});

describe('the TypeScript snippets of README.md and docs/, against the published types', () => {
  it('there are snippets, the fragments say so, and a fragment is completed with what it uses', () => {
    expect(snippets.length).toBeGreaterThan(25);
    expect(snippets.some((s) => s.fragment)).toBe(true);
    expect(snippetsOf('x.md', 'a\n```ts fragment\nservice.start();\n```\n```ts\nconst a = 1;\n```\n')).toEqual([
      { doc: 'x.md', line: 2, fragment: true, nest: false, code: 'service.start();' },
      { doc: 'x.md', line: 5, fragment: false, nest: false, code: 'const a = 1;' },
    ]);
    expect(snippets.filter((s) => s.nest).length).toBeGreaterThan(1);
    expect(snippetsOf('x.md', '```ts nest\nconst a = 1;\n```\n')[0]!.nest).toBe(true);
    const available = new Map([['service', './context.js'], ['createService', 'karyon-ts'], ['db', './context.js']]);
    expect(completed("const db = 1;\nawait createService({ name: 'a' }).start(); service.db;", available)).toBe(
      "import { createService } from 'karyon-ts';\nimport { service } from './context.js';\nconst db = 1;\nawait createService({ name: 'a' }).start(); service.db;\n",
    );
  });

  for (const snippet of snippets) {
    it(`${snippet.doc}:${snippet.line} compiles${snippet.fragment ? ' (a fragment, completed)' : snippet.nest ? ' (in a Nest project)' : ''}`, () => {
      expect((snippet.nest ? nestOutput : output).split('\n').filter((line) => line.startsWith(fileOf(snippet)))).toEqual([]);
    });
  }
});
