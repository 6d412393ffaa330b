// Takes the screenshots of docs/admin-ui.md: runs the example (main.ts) as a child process, lets traffic flow,
// makes a few operator changes through the admin API (so the timeline and the audit log have something to
// show), and photographs each page in headless Chromium.
//
//   npx tsx examples/admin-ui/screenshots.ts [--out docs/images]
//
// Needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { Page } from 'playwright-core';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/images' } } });
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = resolve(root, values.out);
const token = randomBytes(9).toString('base64url');
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

const child = spawn(process.execPath, ['--import', 'tsx', 'examples/admin-ui/main.ts', '--admin-port', '0', `--token=${token}`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise<string>((done, fail) => {
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const url = /admin web UI:\s+(http:\/\/\S+?)\/\s*$/m.exec(text)?.[1];
    if (url !== undefined) done(url);
  });
  child.on('exit', (code) => fail(new Error(`the example exited with ${code}`)));
});
console.log(`example running at ${base}/`);

async function call(method: string, path: string, body?: unknown, bearer = token): Promise<number> {
  const res = await fetch(`${base}/${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  return res.status;
}

const profile = await mkdtemp(join(tmpdir(), 'karyon-screenshots-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1360, height: 900 },
  locale: 'en-US',
  colorScheme: 'light',
});

try {
  await mkdir(out, { recursive: true });
  // Some history: the operator took the instance out of service and back, overrode a setting, forced a breaker.
  await sleep(4000);
  await call('PUT', 'status', { status: 'OUT_OF_SERVICE' });
  await sleep(3000);
  await call('PUT', 'status', { status: 'UP' });
  await call('PUT', 'config/storefront.maxCartItems', { value: 80 });
  await call('PUT', 'config/storefront.maxCartItems', { value: 5000 });
  await call('PUT', 'breakers/recommendations', { action: 'forceOpen' }, 'a-guess');
  await call('PUT', 'breakers/recommendations', { action: 'forceClosed' });
  // Enough traffic for the rates and the stream's charts.
  await sleep(8000);

  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${base}/`);
  await page.locator('#token-button').click();
  await page.locator('#token-field').fill(token);
  await page.keyboard.press('Enter');

  const shoot = async (name: string, target: Page = page): Promise<void> => {
    await target.mouse.move(0, 0);
    await target.screenshot({ path: join(out, `admin-ui-${name}.png`) });
    console.log(`wrote ${join(values.out, `admin-ui-${name}.png`)}`);
  };
  const show = async (hash: string, ready: string, settleMs = 2500): Promise<void> => {
    await page.goto(`${base}/#/${hash}`);
    await page.locator(ready).first().waitFor({ timeout: 30_000 });
    await sleep(settleMs);
    await page.evaluate('window.scrollTo(0, 0); document.activeElement?.blur()');
  };

  await show('overview', '[data-key="lifecycle"] tbody tr');
  await shoot('overview');
  await show('health', '[data-key="check-database"]');
  await shoot('health');
  await show('discovery', '[data-key="b-greeter-1"]');
  await shoot('discovery');
  await show('breakers', '[data-key="breaker-payments.charge"] polyline', 12_000);
  await shoot('breakers');
  await page.getByRole('button', { name: 'Force open payments.charge' }).click();
  await page.locator('#confirm-dialog[open]').waitFor();
  await sleep(300);
  await shoot('confirm');
  await page.keyboard.press('Escape');
  await show('config', '[data-key="config-history"] li');
  await shoot('config');
  await show('metrics', '[data-key="f-karyon_client_latency_seconds"]');
  await page.locator('[data-input="metrics-filter"]').fill('client');
  await page.locator('[data-key="f-karyon_client_latency_seconds"] summary').click();
  await page.locator('[data-key="f-karyon_client_requests_total"] summary').click();
  await sleep(3000);
  await page.evaluate('document.activeElement?.blur()');
  await shoot('metrics');
  await show('audit', '[data-key="audit-entries"] tbody tr');
  await shoot('audit');
  await show('shadow', '[data-state="not-configured"], [data-key="shadow-state"]', 500);
  await shoot('shadow');

  const dark = await context.newPage();
  await dark.emulateMedia({ colorScheme: 'dark' });
  await dark.goto(`${base}/#/breakers`);
  await dark.locator('[data-key="breaker-payments.charge"] polyline').waitFor({ timeout: 30_000 });
  await sleep(3000);
  await shoot('dark', dark);

  // The service goes away: the banner, and the last data kept on screen.
  await page.goto(`${base}/#/overview`);
  await page.locator('[data-key="instance"]').waitFor();
  await sleep(1500);
  child.kill('SIGKILL');
  await page.locator('#banner').waitFor({ state: 'visible', timeout: 30_000 });
  await sleep(500);
  await shoot('offline');
} finally {
  await context.close();
  child.kill('SIGKILL');
  await rm(profile, { recursive: true, force: true });
}
