// The API report: etc/karyon-ts.api.md for the root entry and etc/karyon-ts-<subpath>.api.md for each other
// typed entry point of package.json `exports`, made by API Extractor from the built .d.ts files (run
// `npm run build` first). Every change of the public surface shows as a diff of these files.
//
//   node scripts/api-report.mjs           check: exit 1 when a surface differs from its checked-in report
//   node scripts/api-report.mjs --update  rewrite the reports from the current build; commit them with the change
//
// The entry points are read from `exports`, so a new subpath gets a report on the first --update and cannot
// ship without one. Unresolved {@link}s are left to typedoc (npm run docs), which fails on them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The report's name and the .d.ts file of each typed entry point of `exports`. */
export function entryPoints() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object' && target !== null && typeof target.types === 'string')
    .map(([subpath, target]) => ({
      subpath,
      report: subpath === '.' ? pkg.name : `${pkg.name}-${subpath.slice(2).replaceAll('/', '-')}`,
      types: join(root, target.types),
    }));
}

/**
 * Checks (or, with `update`, rewrites) the report of every entry point.
 * @returns one line per entry point that differs or failed; empty when all match
 */
export function apiReport({ update = false } = {}) {
  const configPath = join(root, 'etc', 'api-extractor.json');
  const base = ExtractorConfig.loadFile(configPath);
  const problems = [];
  for (const entry of entryPoints()) {
    if (!existsSync(entry.types)) {
      problems.push(`${entry.subpath}: ${entry.types} is missing: run npm run build first`);
      continue;
    }
    const config = ExtractorConfig.prepare({
      configObject: { ...base, mainEntryPointFilePath: entry.types, apiReport: { ...base.apiReport, reportFileName: entry.report } },
      configObjectFullPath: configPath,
      packageJsonFullPath: join(root, 'package.json'),
    });
    const messages = [];
    const result = Extractor.invoke(config, {
      localBuild: update,
      messageCallback: (message) => {
        // The report-changed notice is what this script says itself, with the diff's place.
        if (message.logLevel === 'warning' || message.logLevel === 'error') messages.push(message.formatMessageWithLocation(root));
        message.handled = true;
      },
    });
    const file = `etc/${entry.report}.api.md`;
    if (update) {
      if (!result.succeeded) problems.push(`${entry.subpath}: API Extractor failed:\n  ${messages.join('\n  ')}`);
      else console.log(`api-report: ${file} ${result.apiReportChanged ? 'rewritten' : 'unchanged'}`);
    } else if (result.apiReportChanged || !result.succeeded) {
      problems.push(
        `${entry.subpath}: the public API differs from ${file} (the new one is in temp/api/${entry.report}.api.md):\n  ` +
          messages.join('\n  '),
      );
    } else {
      console.log(`api-report: ${entry.subpath} matches ${file}`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const update = process.argv.includes('--update');
  const problems = apiReport({ update });
  for (const problem of problems) console.error(`api-report: ${problem}`);
  if (problems.length > 0 && !update) {
    console.error('If the change is meant: npm run build && npm run api:update, then commit etc/*.api.md with it.');
  }
  process.exitCode = problems.length > 0 ? 1 : 0;
}
