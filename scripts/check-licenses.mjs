#!/usr/bin/env node
// Lists the licences of every package in the production dependency tree (what `npm install karyon-ts` brings
// along), fails when one is not in the list of licences compatible with shipping under Apache-2.0, and checks
// that docs/dependencies.md lists the same packages and licences.
//
//   node scripts/check-licenses.mjs           # check, and print the list
//   node scripts/check-licenses.mjs --write   # also rewrite the table in docs/dependencies.md
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const docFile = join(root, 'docs/dependencies.md');
const START = '<!-- licences:start -->';
const END = '<!-- licences:end -->';

/** Permissive licences that may be combined with and redistributed under Apache-2.0. */
const ALLOWED = new Set(['MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0', 'Unlicense']);

/** Whether an SPDX expression is satisfied by allowed licences: any side of OR, every side of AND. */
function allowed(expression) {
  const text = expression.trim().replace(/^\((.*)\)$/, '$1');
  if (/\sOR\s/.test(text)) return text.split(/\s+OR\s+/).some(allowed);
  if (/\sAND\s/.test(text)) return text.split(/\s+AND\s+/).every(allowed);
  return ALLOWED.has(text.replace(/\+$/, ''));
}

function licenceOf(pkg) {
  const value = pkg.license ?? pkg.licenses;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((l) => (typeof l === 'string' ? l : l.type)).join(' OR ');
  if (value !== null && typeof value === 'object' && typeof value.type === 'string') return value.type;
  return 'UNKNOWN';
}

const paths = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
  .trim()
  .split('\n')
  .filter((path) => path !== '' && relative(root, path) !== '');
const direct = new Set(Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {}));

const rows = new Map();
for (const path of paths) {
  const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
  rows.set(pkg.name, { name: pkg.name, version: pkg.version, licence: licenceOf(pkg), direct: direct.has(pkg.name) });
}
const sorted = [...rows.values()].sort((a, b) => Number(b.direct) - Number(a.direct) || a.name.localeCompare(b.name));

const problems = [];
for (const row of sorted) {
  if (!allowed(row.licence)) problems.push(`${row.name}@${row.version}: licence ${row.licence} is not one of ${[...ALLOWED].join(', ')}`);
}

const table = [
  '| package | licence | |',
  '|---|---|---|',
  ...sorted.map((row) => `| ${row.name} | ${row.licence} | ${row.direct ? 'direct' : 'transitive'} |`),
].join('\n');

const doc = readFileSync(docFile, 'utf8');
const start = doc.indexOf(START);
const end = doc.indexOf(END);
if (start < 0 || end < start) problems.push(`docs/dependencies.md: the markers ${START} and ${END} are missing`);
else if (process.argv.includes('--write')) {
  writeFileSync(docFile, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`);
} else if (doc.slice(start + START.length, end).trim() !== table) {
  problems.push('docs/dependencies.md does not list the production dependencies as they are: run node scripts/check-licenses.mjs --write and review the change');
}

for (const row of sorted) console.log(`${row.name}@${row.version}\t${row.licence}\t${row.direct ? 'direct' : 'transitive'}`);
if (problems.length > 0) {
  console.error(`Runtime dependency licences fail their check:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`licences: ${sorted.length} runtime packages, every licence compatible with Apache-2.0`);
