#!/usr/bin/env node
// Checks the npm tarball as users get it: every file matches the list of what may ship, the files users need
// are there, nothing of the tests, fixtures, benchmarks, examples or sources is, the packed and unpacked sizes
// and the file count stay within the budget in package-budget.json, and every link in the README inside
// leads somewhere that exists for a reader of the package page.
//
//   node scripts/check-package.mjs [karyon-ts-x.y.z.tgz]   # packs the working tree when no tarball is given
//
// Growth beyond the budget fails: raise it in package-budget.json with the reason, in the same commit as the
// change that needs it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const budgetFile = join(root, 'package-budget.json');
const rules = JSON.parse(readFileSync(budgetFile, 'utf8'));

/** Entries of a .tgz: path (without the leading `package/`) and size, read from the ustar headers. */
function readTarball(file) {
  const tar = gunzipSync(readFileSync(file));
  const entries = [];
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const text = (start, length) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const name = text(0, 100);
    const prefix = text(345, 155);
    const size = Number.parseInt(text(124, 12).trim() || '0', 8);
    const type = text(156, 1);
    const path = prefix === '' ? name : `${prefix}/${name}`;
    if (type === '0' || type === '') entries.push({ path: path.replace(/^package\//, ''), size, content: tar.subarray(offset + 512, offset + 512 + size) });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** A glob (`**` any folders, `*` within one name) as a regular expression over a whole path. */
function globToRegExp(glob) {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else source += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
const matches = (path, globs) => globs.some((glob) => globToRegExp(glob).test(path));

let tarball = process.argv[2];
let temporary;
if (tarball === undefined) {
  temporary = mkdtempSync(join(tmpdir(), 'karyon-pack-'));
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', temporary], { cwd: root, encoding: 'utf8' });
  tarball = join(temporary, out.trim().split('\n').at(-1));
}

const problems = [];
try {
  const packedBytes = readFileSync(tarball).length;
  const entries = readTarball(tarball);
  const paths = new Set(entries.map((e) => e.path));
  const unpackedBytes = entries.reduce((sum, e) => sum + e.size, 0);

  for (const { path } of entries) {
    if (matches(path, rules.forbidden)) problems.push(`${path}: must not ship (forbidden: ${rules.forbidden.join(', ')})`);
    else if (!matches(path, rules.allowed)) problems.push(`${path}: not in the list of what may ship ("allowed" in package-budget.json)`);
  }
  for (const path of rules.required) if (!paths.has(path)) problems.push(`${path}: missing from the package`);

  // Every link of the README inside must work on the package page: an absolute URL, an anchor, or a file
  // that ships in the package; links into the repository must name a file that exists in it.
  const pkg = JSON.parse(entries.find((e) => e.path === 'package.json').content.toString('utf8'));
  const repoUrl = String(pkg.repository?.url ?? pkg.repository ?? '')
    .replace(/^git\+/, '')
    .replace(/\.git$/, '');
  const readme = entries.find((e) => e.path === 'README.md')?.content.toString('utf8') ?? '';
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const [file] = target.split('#');
    if (target.startsWith('#') || /^mailto:/.test(target)) continue;
    if (/^https?:\/\//.test(target)) {
      if (repoUrl !== '' && target.startsWith(`${repoUrl}/`)) {
        const inRepo = /\/(?:blob|tree)\/[^/]+\/(.+)$/.exec(file)?.[1];
        if (inRepo !== undefined && !existsInGit(inRepo)) problems.push(`README.md links to ${target}, but ${inRepo} is not in the repository`);
      }
      continue;
    }
    // A relative link works when the file ships, or when package.json names the repository (the package
    // page resolves relative links against it) and the file is in the repository.
    const path = posix.normalize(file);
    const ships = paths.has(path) || [...paths].some((p) => p.startsWith(`${path.replace(/\/$/, '')}/`));
    if (!ships && !(repoUrl !== '' && existsInGit(path))) {
      problems.push(
        `README.md links to ${target}, which is ${repoUrl === '' ? 'not in the package, and package.json names no repository' : 'neither in the package nor in the repository'}: a reader of the package page gets a dead link`,
      );
    }
  }

  const budget = rules.budget;
  const figures = { packedBytes, unpackedBytes, files: entries.length };
  for (const [key, value] of Object.entries(figures)) {
    if (value > budget[key]) {
      problems.push(`${key} ${value} is over the budget of ${budget[key]}: if the growth is wanted, raise the budget in package-budget.json and say why in its "reason"`);
    }
  }
  if (typeof rules.reason !== 'string' || rules.reason.trim() === '') problems.push('package-budget.json: "reason" must say why the budget is what it is');

  console.log(
    `package: ${entries.length} files, ${packedBytes} bytes packed, ${unpackedBytes} unpacked ` +
      `(budget: ${budget.files} files, ${budget.packedBytes} packed, ${budget.unpackedBytes} unpacked)`,
  );
} finally {
  if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true });
}

function existsInGit(path) {
  try {
    execFileSync('git', ['cat-file', '-e', `HEAD:${path.replace(/\/$/, '')}`], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (problems.length > 0) {
  console.error(`The package fails its checks:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('package: contents, README links and size budget OK');
