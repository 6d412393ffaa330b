// The admin web UI in a real browser: headless Chromium (the Debian package) driven by playwright-core, against
// the running example service (examples/admin-ui), a child process with real Eureka, backends and traffic.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { CheckReport, ConfigKeyDescription, Service } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process spawned here (the examples, Chromium) outlives the file.
killSpawnedProcesses();

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
/** Said in the suite's name when it skips: the only reason it may. */
const skipped = hasChromium ? '' : ` (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`;
const root = fileURLToPath(new URL('../..', import.meta.url));
const WAIT = { timeout: 30_000 };

// CI installs Chromium, so there a missing browser is a failure, never a silent skip.
if (!hasChromium && process.env['CI'] !== undefined) {
  describe('admin web UI in Chromium', () => {
    it('is installed in CI', () => {
      throw new Error(`${CHROMIUM} is not installed: CI must install chromium before running the tests`);
    });
  });
}

/** The example service, run as `npx tsx examples/admin-ui/main.ts` would run it. */
class Example {
  readonly child: ChildProcess;
  readonly output = { stdout: '', stderr: '' };
  readonly ready: Promise<string>;
  /** The example's TMPDIR, where it keeps its configuration files: removed once it has exited, however it stopped. */
  readonly tmp = mkdtempSync(join(tmpdir(), 'karyon-example-'));

  constructor(token: string, port = 0, readToken?: string) {
    const args = ['--import', 'tsx', 'examples/admin-ui/main.ts', '--admin-port', String(port), `--token=${token}`];
    if (readToken !== undefined) args.push(`--read-token=${readToken}`);
    this.child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, TMPDIR: this.tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.stdout!.on('data', (chunk: Buffer) => {
        this.output.stdout += chunk.toString();
        const url = /admin web UI:\s+(http:\/\/\S+?)\/\s*$/m.exec(this.output.stdout)?.[1];
        if (url !== undefined) resolve(url);
      });
      this.child.stderr!.on('data', (chunk: Buffer) => (this.output.stderr += chunk.toString()));
      this.child.on('exit', (code) => reject(new Error(`the example exited (${code}) before it was ready: ${this.output.stderr}`)));
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.exited) {
      const gone = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill(signal);
      await gone;
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Calls the admin API as a script would. */
async function api(base: string, path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(`${base}/${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers,
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
  const text = await res.body.text();
  // Whatever JSON the endpoint answers; each test reads the fields it checks.
  let json: ReturnType<typeof JSON.parse>;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

/** An entry of `GET /audit`, per the shared contract. */
interface AuditRow {
  readonly at: number;
  readonly actor: string;
  readonly role: string;
  readonly remote: string;
  readonly method: string;
  readonly path: string;
  readonly action: string;
  readonly outcome: string;
  readonly status: number;
}

interface Watch {
  /** Script errors, failed assertions of the page, CSP or Trusted Types violations: never allowed. */
  readonly problems: string[];
  /** Chrome's own "Failed to load resource" lines: allowed only where a test expects that status. */
  readonly network: { url: string; status: number }[];
  /** Requests that got no answer. */
  readonly failed: { url: string; error: string }[];
  /** Requests to any origin but the admin server's. */
  readonly foreign: string[];
  /** Mutations the page sent. */
  readonly mutations: string[];
}

function watch(page: Page, origin: string): Watch {
  const w: Watch = { problems: [], network: [], failed: [], foreign: [], mutations: [] };
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const text = message.text();
    const resource = /^Failed to load resource: (?:the server responded with a status of (\d+)|net::(\S+))/.exec(text);
    if (resource !== null) w.network.push({ url: message.location().url, status: Number(resource[1] ?? 0) });
    else w.problems.push(`${message.type()}: ${text} (${message.location().url})`);
  });
  page.on('pageerror', (error) => w.problems.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (req) => w.failed.push({ url: req.url(), error: req.failure()?.errorText ?? '' }));
  page.on('request', (req) => {
    if (!req.url().startsWith(origin)) w.foreign.push(req.url());
    if (req.method() !== 'GET' && req.method() !== 'HEAD') w.mutations.push(`${req.method()} ${new URL(req.url()).pathname}`);
  });
  return w;
}

/** Fails unless the page ran clean: only the listed statuses (path → status) were logged by Chrome. */
function expectClean(w: Watch, allowed: Record<string, number[]> = {}, abortedStreams = true): void {
  expect(w.problems).toEqual([]);
  expect(w.foreign).toEqual([]);
  for (const entry of w.network) {
    const path = new URL(entry.url).pathname;
    expect(allowed[path] ?? [], `unexpected ${entry.status} for ${path}`).toContain(entry.status);
  }
  // Leaving the breakers page cancels its stream: the only request allowed to end without an answer.
  const failures = w.failed.filter((f) => !(abortedStreams && f.error === 'net::ERR_ABORTED' && new URL(f.url).pathname === '/hystrix.stream'));
  expect(failures).toEqual([]);
}

async function enterToken(page: Page, value: string): Promise<void> {
  await page.locator('#token-button').click();
  await page.locator('#token-dialog[open]').waitFor(WAIT);
  await page.locator('#token-field').fill(value);
  await page.locator('#token-dialog').getByRole('button', { name: 'Use token' }).click();
  await page.locator('#token-dialog').waitFor({ state: 'hidden', ...WAIT });
}

async function confirm(page: Page, label: string): Promise<void> {
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor({ state: 'visible', ...WAIT });
  await dialog.getByRole('button', { name: label, exact: true }).click();
  await dialog.waitFor({ state: 'hidden', ...WAIT });
}

async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  await waitFor(
    async () => {
      last = await read();
      return accept(last);
    },
    30_000,
    what,
  );
  return last as T;
}


describe.skipIf(!hasChromium)(`admin web UI in Chromium${skipped}`, () => {
  let context: BrowserContext;
  let profile: string;
  let example: Example;
  let base: string;
  const token = randomBytes(9).toString('base64url');

  beforeAll(async () => {
    example = new Example(token);
    profile = await mkdtemp(join(tmpdir(), 'karyon-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
      locale: 'en-US',
    });
    base = await example.ready;
    // Every dependency has been called and every instance has registered and been fetched.
    await waitFor(async () => (await api(base, 'registry')).json?.apps?.length === 3, 30_000, 'the storefront to see three apps');
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await example?.kill('SIGTERM');
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  }, 60_000);

  // Pages a test opened: closed after it whatever it did, so a failed test leaves no stream holding one of
  // the admin server's connection slots for the next.
  const opened: Page[] = [];
  afterEach(async () => {
    for (const page of opened.splice(0)) if (!page.isClosed()) await page.close();
  });

  async function open(hash = '', origin = base): Promise<{ page: Page; w: Watch }> {
    const page = await context.newPage();
    opened.push(page);
    const w = watch(page, origin);
    await page.goto(`${origin}/${hash}`);
    return { page, w };
  }

  it('every page renders what the admin API answers, live, with no console error and no request leaving the admin origin', async () => {
    const { page, w } = await open();
    const text = (): Promise<string> => page.locator('#page').innerText();

    // Overview
    const status = (await api(base, 'status')).json;
    await page.locator('#service-name', { hasText: `${status.app} · ${status.instanceId}` }).waitFor(WAIT);
    const instance = page.locator('[data-key="instance"]');
    await instance.getByText(status.zone, { exact: true }).waitFor(WAIT);
    for (const value of [status.version, status.vipAddress, String(status.port)]) await instance.getByText(value, { exact: true }).first().waitFor(WAIT);
    await page.locator('[data-key="lifecycle"]').getByText('initialize hooks finished').waitFor(WAIT);
    await page.locator('[data-key="tile-Breakers"]').getByText('commands').waitFor(WAIT);
    const uptime = async () => (await instance.innerText()).match(/Uptime\s+(.+)/)?.[1];
    const firstUptime = await uptime();
    await until(uptime, (now) => now !== firstUptime, 'the uptime to move without a reload');

    // Health
    await page.getByRole('link', { name: 'Health', exact: true }).click();
    const health = (await api(base, 'healthcheck')).json;
    for (const check of Object.values(health.checks as Record<string, CheckReport>)) {
      const card = page.locator(`[data-key="check-${check.name}"]`);
      await card.getByText(check.status, { exact: true }).waitFor(WAIT);
      await card.getByText(`${check.options.failuresBeforeCritical} failure${check.options.failuresBeforeCritical === 1 ? '' : 's'} in a row`).waitFor(WAIT);
      await card.getByText(`${check.kind} check`).waitFor(WAIT);
    }
    expect(await page.locator('[data-key="check-database"]').innerText()).toContain('6/20 in use');
    await page.locator('[data-key="check-search-index"]').getByText('reindex running').waitFor(WAIT);

    // Discovery: the registry and the client's balancer view
    await page.getByRole('link', { name: 'Discovery', exact: true }).click();
    const registry = (await api(base, 'registry')).json;
    for (const app of registry.apps) {
      const block = page.locator(`[data-key="app-${app.name}"]`);
      for (const i of app.instances) await block.locator(`[data-key="i-${i.instanceId}"]`).getByText(i.status.replaceAll('_', ' '), { exact: true }).waitFor(WAIT);
    }
    await page.locator('[data-key="i-greeter-3"]').getByText('override OUT OF SERVICE').waitFor(WAIT);
    await page.locator('[data-key="i-storefront-1"]').getByText('this instance').waitFor(WAIT);
    const clients = (await api(base, 'instances')).json;
    for (const stats of clients.vips.greeter[0].instances) await page.locator(`[data-key="b-${stats.instanceId}"]`).waitFor(WAIT);
    await page.getByText(`rule ${clients.vips.greeter[0].rule}`).waitFor(WAIT);
    expect(await page.locator('[data-key="b-greeter-1"]').innerText()).toMatch(/\d+(\.\d)? ms/);

    // Breakers, live from the stream
    await page.getByRole('link', { name: 'Breakers', exact: true }).click();
    const breakers = (await api(base, 'breakers')).json;
    expect(breakers.commands.length).toBeGreaterThanOrEqual(3);
    for (const command of breakers.commands) await page.locator(`[data-key="breaker-${command.name}"]`).waitFor(WAIT);
    await page.locator('[data-state="stream-live"]', { hasText: 'Live from hystrix.stream' }).waitFor(WAIT);
    // Two stream updates draw a line: the rate chart is fed by the stream, not by the poll.
    await page.locator('[data-key="breaker-inventory.lookup"] polyline.spark-line').waitFor(WAIT);
    const rate = await page.locator('[data-key="breaker-inventory.lookup"] .figure-value').first().innerText();
    expect(Number(rate)).toBeGreaterThan(0);
    for (const label of ['Success', 'Short-circuited', 'Timeout', 'Failure', '99th', '99.5th']) {
      await page.locator('[data-key="breaker-recommendations"]').getByText(label, { exact: true }).waitFor(WAIT);
    }

    // Config: values by layer, the sensitive ones masked, the history with its rejection
    await page.getByRole('link', { name: 'Config', exact: true }).click();
    const config = (await api(base, 'config')).json;
    for (const [key, entry] of Object.entries(config.keys as Record<string, ConfigKeyDescription>)) {
      const row = page.locator(`[data-key="k-${key}"]`);
      await expect.poll(() => row.locator('.layer').innerText(), WAIT).toBe(entry.layer);
      if (entry.sensitive) await row.getByText('sensitive').waitFor(WAIT);
    }
    await page.locator('[data-key="k-storefront.banner"]').getByText('"Free shipping this week"').waitFor(WAIT);
    await page.locator('[data-key="config-history"]').getByText("'storefront.maxCartItems': must be at most 500").waitFor(WAIT);
    await page.locator('[data-key="config-sources"] .badge', { hasText: /^ok$/ }).waitFor(WAIT);
    expect(await text()).not.toContain('correct-horse-battery-staple');

    // Metrics: parsed in the browser, rates computed between scrapes
    await page.getByRole('link', { name: 'Metrics', exact: true }).click();
    const exposition = (await api(base, 'metrics')).text;
    const familyNames = [...exposition.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
    expect(familyNames).toContain('storefront_page_views_total');
    for (const name of familyNames) await page.locator(`[data-key="f-${name}"]`).waitFor(WAIT);
    const views = page.locator('[data-key="f-storefront_page_views_total"]');
    await until(async () => Number((await views.locator('.family-headline').innerText()).split(' ')[0]), (perSecond) => perSecond > 1, 'a page-view rate');
    await views.locator('summary').click();
    await views.getByRole('columnheader', { name: 'Total' }).waitFor(WAIT);
    await views.locator('tbody tr').first().getByText(/\/s$/).waitFor(WAIT);
    await page.locator('[data-input="metrics-filter"]').fill('breaker_calls');
    await page.locator('[data-key="f-storefront_page_views_total"]').waitFor({ state: 'detached', ...WAIT });
    await page.locator('[data-key="f-karyon_breaker_calls_total"]').waitFor(WAIT);

    // Shadow and audit: rendered when the service has them, a clearly marked empty state when not
    const allowed: Record<string, number[]> = {};
    for (const [link, path, title] of [
      ['Shadow', 'shadow', 'Shadow traffic is not configured on this instance'],
      ['Audit', 'audit', 'The audit log is not configured on this instance'],
    ] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      const answer = await api(base, path);
      if (answer.status === 404) {
        allowed[`/${path}`] = [404];
        await page.locator('[data-state="not-configured"]').getByText(title).waitFor(WAIT);
      } else {
        expect(answer.status).toBe(200);
        await page.locator(`[data-page="${path}"] .card`).first().waitFor(WAIT);
      }
    }
    expectClean(w, allowed);
    await page.close();
  }, 180_000);

  it('each action asks for confirmation, uses the token, shows the outcome and changes the service', async () => {
    const { page, w } = await open();
    await page.locator('#service-name', { hasText: 'storefront' }).waitFor(WAIT);
    await enterToken(page, token);
    await expect.poll(() => page.locator('#token-button').innerText()).toBe('Token: set');

    // Status: cancelling changes nothing; confirming takes the instance out of service, then back.
    await page.getByRole('button', { name: 'Take out of service' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#confirm-dialog').waitFor({ state: 'hidden', ...WAIT });
    expect(w.mutations).toEqual([]);
    expect((await api(base, 'status')).json.status).toBe('UP');

    await page.getByRole('button', { name: 'Take out of service' }).click();
    await confirm(page, 'Take out of service');
    await page.locator('.toast-good', { hasText: 'The instance is now OUT_OF_SERVICE' }).waitFor(WAIT);
    expect((await api(base, 'status')).json).toMatchObject({ status: 'OUT_OF_SERVICE', outOfServiceByOperator: true });
    await page.locator('#service-state', { hasText: 'OUT OF SERVICE' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Mark UP' }).click();
    await confirm(page, 'Mark UP');
    await page.locator('.toast-good', { hasText: 'The instance is now UP' }).waitFor(WAIT);
    expect((await api(base, 'status')).json).toMatchObject({ status: 'UP', outOfServiceByOperator: false });

    // Breakers: force open, force closed, reset.
    await page.getByRole('link', { name: 'Breakers', exact: true }).click();
    const card = page.locator('[data-key="breaker-payments.charge"]');
    await card.getByRole('button', { name: 'Force open payments.charge' }).click();
    await confirm(page, 'Force open');
    await page.locator('.toast-good', { hasText: 'payments.charge is now FORCED_OPEN' }).waitFor(WAIT);
    expect((await api(base, 'breakers/payments.charge')).json).toMatchObject({ state: 'FORCED_OPEN', settings: { forceOpen: true } });
    await card.getByText('FORCED OPEN', { exact: true }).waitFor(WAIT);
    await card.getByRole('button', { name: 'Force closed payments.charge' }).click();
    await confirm(page, 'Force closed');
    await page.locator('.toast-good', { hasText: 'payments.charge is now FORCED_CLOSED' }).waitFor(WAIT);
    expect((await api(base, 'breakers/payments.charge')).json).toMatchObject({ state: 'FORCED_CLOSED', settings: { forceOpen: false, forceClosed: true } });
    await card.getByRole('button', { name: 'Reset payments.charge' }).click();
    await confirm(page, 'Reset');
    await page.locator('.toast-good', { hasText: /payments\.charge is now (CLOSED|OPEN)/ }).waitFor(WAIT);
    expect((await api(base, 'breakers/payments.charge')).json.settings).toMatchObject({ forceOpen: false, forceClosed: false });

    // Config: an override, a value the service rejects, a value that is not JSON, and removing the override.
    await page.getByRole('link', { name: 'Config', exact: true }).click();
    const row = page.locator('[data-key="k-storefront.maxCartItems"]');
    await row.getByRole('button', { name: 'Override… storefront.maxCartItems' }).click();
    await page.locator('#confirm-field').fill('120');
    await confirm(page, 'Set override');
    await page.locator('.toast-good', { hasText: 'storefront.maxCartItems is now 120' }).waitFor(WAIT);
    expect((await api(base, 'config/storefront.maxCartItems')).json).toMatchObject({ value: 120, layer: 'override' });
    await expect.poll(() => row.locator('.layer').innerText(), WAIT).toBe('override');

    await row.getByRole('button', { name: 'Override… storefront.maxCartItems' }).click();
    await page.locator('#confirm-field').fill('1000');
    await confirm(page, 'Set override');
    await page.locator('.toast-bad', { hasText: 'must be at most 500' }).waitFor(WAIT);
    expect(await page.locator('.toast-bad').innerText()).toContain('400');
    expect((await api(base, 'config/storefront.maxCartItems')).json.value).toBe(120);

    await row.getByRole('button', { name: 'Override… storefront.maxCartItems' }).click();
    await page.locator('#confirm-field').fill('many');
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Set override' }).click();
    await page.locator('#confirm-field-error', { hasText: 'Not valid JSON' }).waitFor(WAIT);
    expect(await page.locator('#confirm-field').getAttribute('aria-invalid')).toBe('true');
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog').waitFor({ state: 'hidden', ...WAIT });

    // A text key takes what is typed as text.
    await page.locator('[data-key="k-storefront.banner"]').getByRole('button', { name: 'Override… storefront.banner' }).click();
    await page.locator('#confirm-field').fill('Winter sale');
    await confirm(page, 'Set override');
    await page.locator('.toast-good', { hasText: 'storefront.banner is now "Winter sale"' }).waitFor(WAIT);
    expect((await api(base, 'config/storefront.banner')).json.value).toBe('Winter sale');

    await row.getByRole('button', { name: 'Remove override of storefront.maxCartItems' }).click();
    await confirm(page, 'Remove override');
    await page.locator('.toast-good', { hasText: 'storefront.maxCartItems is back to 40 from the file layer' }).waitFor(WAIT);
    expect((await api(base, 'config/storefront.maxCartItems')).json).toMatchObject({ value: 40, layer: 'file' });

    expect(w.mutations).toEqual([
      'PUT /status',
      'PUT /status',
      'PUT /breakers/payments.charge',
      'PUT /breakers/payments.charge',
      'PUT /breakers/payments.charge',
      'PUT /config/storefront.maxCartItems',
      'PUT /config/storefront.maxCartItems',
      'PUT /config/storefront.banner',
      'DELETE /config/storefront.maxCartItems',
    ]);
    // The healthcheck answers 503 while the instance is out of service; the refused value answers 400.
    expectClean(w, { '/healthcheck': [503], '/config/storefront.maxCartItems': [400] });
    await page.close();
  }, 180_000);

  it('is usable from the keyboard: skip link, tab order, a confirm dialog that traps focus, Escape, focus returned', async () => {
    const { page, w } = await open();
    await page.locator('[data-key="instance"]').waitFor(WAIT);
    // Evaluated in the page (this file is type-checked without the DOM library, so it is given as text).
    const focused = () =>
      page.evaluate<{ text: string; inDialog: boolean; id: string }>(
        `({ text: document.activeElement?.textContent?.trim() ?? '', inDialog: document.activeElement?.closest('dialog') !== null, id: document.activeElement?.id ?? '' })`,
      );

    await page.keyboard.press('Tab');
    expect((await focused()).text).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect((await focused()).id).toBe('main');

    // From the top: the skip link, the header's token button, the pages in order, then the page's controls.
    await page.reload();
    await page.locator('[data-key="instance"]').waitFor(WAIT);
    const order: string[] = [];
    for (let i = 0; i < 30 && !order.includes('Take out of service'); i++) {
      await page.keyboard.press('Tab');
      order.push((await focused()).text);
    }
    const navigation = ['Overview', 'Health', 'Discovery', 'Breakers', 'Config', 'Metrics', 'Shadow', 'Audit'];
    expect(order[0]).toBe('Skip to content');
    expect(order.filter((t) => navigation.includes(t))).toEqual(navigation);
    expect(order.indexOf('Token: none')).toBeLessThan(order.indexOf('Overview'));
    expect(order.at(-1)).toBe('Take out of service');
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');

    await page.keyboard.press('Enter');
    await page.locator('#confirm-dialog[open]').waitFor(WAIT);
    // A destructive confirmation starts on Cancel.
    expect(await focused()).toMatchObject({ text: 'Cancel', inDialog: true });
    const visited = new Set<string>();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      const now = await focused();
      expect(now.inDialog).toBe(true);
      visited.add(now.text);
    }
    expect([...visited].sort()).toEqual(['Cancel', 'Take out of service']);
    await page.keyboard.press('Escape');
    await page.locator('#confirm-dialog').waitFor({ state: 'hidden', ...WAIT });
    expect(await focused()).toMatchObject({ text: 'Take out of service', inDialog: false });
    expect(w.mutations).toEqual([]);

    // Through to the end with the keyboard alone: confirm, be asked for the token (401), give it.
    await page.keyboard.press('Enter');
    await page.locator('#confirm-dialog[open]').waitFor(WAIT);
    await page.keyboard.press('Tab');
    expect((await focused()).text).toBe('Take out of service');
    await page.keyboard.press('Enter');
    await page.locator('#token-dialog[open]').waitFor(WAIT);
    expect((await focused()).id).toBe('token-field');
    await page.locator('#token-dialog .dialog-reason', { hasText: 'without a valid token' }).waitFor(WAIT);
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.locator('.toast-good', { hasText: 'The instance is now OUT_OF_SERVICE' }).waitFor(WAIT);
    expect((await api(base, 'status')).json.status).toBe('OUT_OF_SERVICE');
    expect((await api(base, 'status', { method: 'PUT', body: { status: 'UP' }, token })).status).toBe(200);

    // Live updates leave focus where it is: a control keeps it while the data around it is refreshed.
    await page.getByRole('link', { name: 'Breakers', exact: true }).click();
    const card = page.locator('[data-key="breaker-recommendations"]');
    // Attached, not visible: a steady series draws a flat line, whose bounding box has no height.
    await card.locator('polyline').first().waitFor({ state: 'attached', ...WAIT });
    await card.getByRole('button', { name: 'Reset recommendations' }).focus();
    const cardText = await card.innerText();
    await until(() => card.innerText(), (now) => now !== cardText, 'the breaker card to be refreshed');
    for (let i = 0; i < 3; i++) {
      const before = await page.locator('#freshness').innerText();
      await until(() => page.locator('#freshness').innerText(), (now) => now !== before, 'another poll');
    }
    expect(await page.evaluate<string | null>(`document.activeElement.getAttribute('data-key')`)).toBe('breaker-recommendations-reset');
    expectClean(w, { '/status': [401], '/healthcheck': [503] });
    await page.close();
  }, 120_000);

  it('a stream refused for too many listeners is said so, the cards keep updating from the poll, and it comes back', async () => {
    const others: Page[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const { page } = await open('#/breakers');
        await page.locator('[data-state="stream-live"]').waitFor(WAIT);
        others.push(page);
      }
      const { page, w } = await open('#/breakers');
      const line = page.locator('[data-state="stream-retrying"]');
      await line.waitFor(WAIT);
      expect(await line.innerText()).toContain('503: MaxConcurrentConnections reached: 5');
      const card = page.locator('[data-key="breaker-inventory.lookup"]');
      const before = await card.innerText();
      await until(() => card.innerText(), (now) => now !== before, 'the card to be refreshed by the poll');
      await others.shift()!.close();
      await page.locator('[data-state="stream-live"]').waitFor(WAIT);
      await card.locator('polyline').first().waitFor({ state: 'attached', ...WAIT });
      expectClean(w, { '/hystrix.stream': [503] });
      await page.close();
    } finally {
      for (const other of others) await other.close();
    }
  }, 120_000);

  it('a 401 asks for a token: a wrong one is refused with the reason and changes nothing', async () => {
    const { page, w } = await open('#/breakers');
    await page.locator('[data-key="breaker-recommendations"]').waitFor(WAIT);
    await enterToken(page, 'not-the-token');
    await page.getByRole('button', { name: 'Force open recommendations' }).click();
    await confirm(page, 'Force open');
    const reason = page.locator('#token-dialog .dialog-reason');
    await reason.waitFor(WAIT);
    expect(await reason.innerText()).toMatch(/without a valid token \(.*token.*\)/);
    await page.locator('#token-dialog').getByRole('button', { name: 'Cancel' }).click();
    const toast = page.locator('.toast-bad', { hasText: 'Could not force recommendations open' });
    await toast.waitFor(WAIT);
    expect(await toast.innerText()).toContain('401 Unauthorized');
    expect((await api(base, 'breakers/recommendations')).json.settings.forceOpen).toBe(false);
    expectClean(w, { '/breakers/recommendations': [401] });
    await page.close();
  }, 120_000);

  it('a read-protected instance: the page asks for a token, a read token shows everything and may not act (403)', async () => {
    const readToken = randomBytes(9).toString('base64url');
    const own = new Example(token, 0, readToken);
    try {
      const url = await own.ready;
      expect((await api(url, 'status')).status).toBe(401);
      const { page, w } = await open('', url);
      // The page and its files load without a token; the first read answers 401 and the page asks.
      const reason = page.locator('#token-dialog .dialog-reason');
      await reason.waitFor(WAIT);
      expect(await reason.innerText()).toContain('requires a token to read');
      await page.locator('#service-state', { hasText: 'token needed' }).waitFor(WAIT);
      await page.locator('[data-state="unauthorized"]').first().waitFor(WAIT);
      await page.locator('#token-field').fill(readToken);
      await page.keyboard.press('Enter');
      await page.locator('#service-name', { hasText: 'storefront · storefront-1' }).waitFor(WAIT);
      await page.locator('[data-key="instance"]').getByText('us-east-1a').waitFor(WAIT);
      // The stream sends the token too (fetch with a body reader: EventSource cannot).
      await page.getByRole('link', { name: 'Breakers', exact: true }).click();
      await page.locator('[data-state="stream-live"]').waitFor(WAIT);
      // A read token may not act: 403, shown as such, nothing changes.
      await page.getByRole('button', { name: 'Force open inventory.lookup' }).click();
      await confirm(page, 'Force open');
      const refused = page.locator('.toast-bad', { hasText: 'Could not force inventory.lookup open' });
      await refused.waitFor(WAIT);
      expect(await refused.innerText()).toContain('403 Forbidden');
      expect((await api(url, 'breakers/inventory.lookup', { token })).json.settings.forceOpen).toBe(false);
      // The operate token may.
      await enterToken(page, token);
      await page.getByRole('button', { name: 'Force open inventory.lookup' }).click();
      await confirm(page, 'Force open');
      await page.locator('.toast-good', { hasText: 'inventory.lookup is now FORCED_OPEN' }).waitFor(WAIT);
      expect((await api(url, 'breakers/inventory.lookup', { token })).json.state).toBe('FORCED_OPEN');
      await page.getByRole('link', { name: 'Overview', exact: true }).click();
      await page.locator('[data-key="instance"]').waitFor(WAIT);
      expect(await page.locator('[data-state="unauthorized"]').count()).toBe(0);
      expectClean(w, { '/status': [401], '/breakers': [401], '/registry': [401], '/breakers/inventory.lookup': [403] });
      await page.close();
    } finally {
      await own.kill();
    }
  }, 120_000);

  it('an unreachable service shows a banner and the last data, and the page comes back by itself', async () => {
    const own = new Example(token);
    try {
      const url = await own.ready;
      const port = Number(new URL(url).port);
      const { page, w } = await open('', url);
      await page.locator('[data-key="instance"]').getByText('storefront-1').waitFor(WAIT);
      const started = await page.locator('[data-key="instance"]').getByText(/^\d\d:\d\d:\d\d$/).last().innerText();

      await own.kill('SIGKILL');
      const banner = page.locator('#banner');
      await banner.waitFor({ state: 'visible', ...WAIT });
      expect(await banner.innerText()).toContain('The service cannot be reached');
      await page.locator('#freshness[data-state="offline"]').waitFor(WAIT);
      // What it said last is still there, marked stale.
      expect(await page.locator('[data-key="instance"]').innerText()).toContain('storefront-1');
      expect(await page.locator('body').getAttribute('data-stale')).toBe('true');

      const again = new Example(token, port);
      try {
        await again.ready;
        await banner.waitFor({ state: 'hidden', ...WAIT });
        await page.locator('.toast-good', { hasText: 'Connection restored' }).waitFor(WAIT);
        await page.locator('#freshness[data-state="live"]').waitFor(WAIT);
        expect(await page.locator('body').getAttribute('data-stale')).toBeNull();
        // A new process: it started later.
        await until(
          () => page.locator('[data-key="instance"]').getByText(/^\d\d:\d\d:\d\d$/).last().innerText(),
          (now) => now !== started,
          'the new start time',
        );
      } finally {
        await again.kill('SIGTERM');
      }
      expect(w.problems).toEqual([]);
      expect(w.foreign).toEqual([]);
      // While it was away, requests failed to connect, and only that.
      for (const failure of w.failed) expect(['net::ERR_CONNECTION_REFUSED', 'net::ERR_EMPTY_RESPONSE', 'net::ERR_CONNECTION_RESET', 'net::ERR_ABORTED']).toContain(failure.error);
      expect(w.failed.some((f) => f.error === 'net::ERR_CONNECTION_REFUSED')).toBe(true);
      // ...and, while the new process was starting, its health check said so.
      for (const entry of w.network) expect(entry.status === 0 || (entry.status === 503 && entry.url.endsWith('/healthcheck')), `${entry.status} ${entry.url}`).toBe(true);
      await page.close();
    } finally {
      await own.kill();
    }
  }, 180_000);
});

describe.skipIf(!hasChromium)(`admin web UI in Chromium: shadow traffic and audit log per the contract${skipped}`, () => {
  let context: BrowserContext;
  let profile: string;
  let service: Service;
  const shadowPuts: unknown[] = [];

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'karyon-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
      locale: 'en-US',
    });
    service = createService({ name: 'contract', port: 7500, registry: new InMemoryRegistry(), admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 } });
    // `GET /shadow` and `PUT /shadow` exactly as the shared contract describes them.
    const shadow = {
      enabled: true,
      rate: 0.25,
      targets: [{ vip: 'greeter-next', sent: 1200, dropped: 3, failed: 7, compared: 1190, matches: 1150, mismatches: 40 }],
      differences: [
        {
          at: Date.now() - 5000,
          method: 'GET',
          path: '/hello?lang=fr',
          primary: { status: 200, headers: { 'content-type': 'application/json' }, body: { greeting: 'bonjour', count: 3 } },
          shadow: { status: 200, headers: { 'content-type': 'application/json' }, body: { greeting: 'salut', count: 3 } },
          fields: ['json.greeting'],
        },
      ],
    };
    service.admin!.route('GET', '/shadow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(shadow));
    });
    service.admin!.route(
      'PUT',
      '/shadow',
      async (_req, res, _params, _url, ctx) => {
        const body = (await ctx.readJson()) as { enabled?: unknown };
        shadowPuts.push(body);
        if (body.enabled === false) shadow.enabled = false;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(shadow));
      },
      { mutation: true },
    );
    // The audit log is the admin server's own (GET /audit is a core route: registering it again is an error).
    await service.start();
    // Something for a built-in audit log to record: the operator's status, from loopback.
    await api(service.adminUrl!, 'status', { method: 'PUT', body: { status: 'OUT_OF_SERVICE' } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  it('the shadow page shows state, targets and differences side by side, and the kill switch stops it', async () => {
    const base = service.adminUrl!;
    const page = await context.newPage();
    const w = watch(page, base);
    await page.goto(`${base}/#/shadow`);
    await page.locator('[data-key="shadow-state"]').getByText('TEEING').waitFor(WAIT);
    await page.locator('[data-key="shadow-state"]').getByText('25 % of eligible requests are copied.').waitFor(WAIT);
    const target = page.locator('[data-key="t-greeter-next"]');
    for (const value of ['1,200', '1,190', '1,150', '40', '96.6 %']) await target.getByText(value, { exact: true }).waitFor(WAIT);
    const diff = page.locator('.diff').first();
    await diff.getByText('GET /hello?lang=fr').waitFor(WAIT);
    await diff.getByText('differs at json.greeting').waitFor(WAIT);
    await diff.locator('summary').click();
    await diff.getByText('"salut"').waitFor(WAIT);
    await diff.getByText('"bonjour"').waitFor(WAIT);
    // Still open after the next refreshes: the operator opened it.
    await page.waitForTimeout(3500);
    expect(await diff.locator('details').getAttribute('open')).not.toBeNull();

    await page.getByRole('button', { name: 'Stop shadow traffic' }).click();
    await confirm(page, 'Stop shadow traffic');
    await page.locator('.toast-good', { hasText: 'Shadow traffic stopped' }).waitFor(WAIT);
    expect(shadowPuts).toEqual([{ enabled: false }]);
    await page.locator('[data-key="shadow-state"]').getByText('STOPPED').waitFor(WAIT);
    expect(await page.getByRole('button', { name: 'Stop shadow traffic' }).count()).toBe(0);
    expectClean(w, { '/healthcheck': [503] });
    await page.close();
  }, 120_000);

  it('the audit page lists what GET /audit answers, newest first, with actor, outcome and change', async () => {
    const base = service.adminUrl!;
    const page = await context.newPage();
    const w = watch(page, base);
    await page.goto(`${base}/#/audit`);
    const entries = (await api(base, 'audit')).json.entries as AuditRow[];
    expect(entries.length).toBeGreaterThan(0);
    const rows = page.locator('[data-key="audit-entries"] tbody tr');
    await expect.poll(() => rows.count(), WAIT).toBe(entries.length);
    const newest = entries.at(-1)!;
    const first = await rows.first().innerText();
    for (const value of [newest.actor, `${newest.method} ${newest.path}`, newest.action, newest.outcome.toUpperCase()]) expect(first).toContain(value);
    for (const entry of entries) await page.locator('[data-key="audit-entries"]').getByText(entry.action, { exact: true }).first().waitFor(WAIT);
    // The filter looks in every field shown.
    const needle = String(newest.action).toLowerCase();
    const matching = entries.filter((e) => [e.actor, e.role, e.remote, e.method, e.path, e.action, e.outcome, String(e.status)].some((f) => String(f ?? '').toLowerCase().includes(needle)));
    await page.locator('[data-input="audit-filter"]').fill(newest.action);
    await expect.poll(() => rows.count(), WAIT).toBe(matching.length);
    expectClean(w, { '/healthcheck': [503] });
    await page.close();
  }, 120_000);
});
