// The admin console: a single page over the admin API. It polls the endpoints the open page needs every 1.5 s
// (and `/status` for the header), renders the page from the answers, runs the operator's actions after a
// confirmation, and says plainly when the service cannot be reached or asks for a token.
import { AdminApi, ApiError } from './api.js';
import { askToken, confirmAction } from './dialogs.js';
import { h, morph } from './dom.js';
import * as fmt from './format.js';
import { auditPage } from './page-audit.js';
import { breakersPage } from './page-breakers.js';
import { configPage } from './page-config.js';
import { discoveryPage } from './page-discovery.js';
import { healthPage } from './page-health.js';
import { metricsPage } from './page-metrics.js';
import { overviewPage } from './page-overview.js';
import { shadowPage } from './page-shadow.js';
import { badge } from './components.js';

const POLL_MS = 1500;
/** An endpoint that answered 404 (a feature not configured) is asked again this rarely. */
const NOT_FOUND_RETRY_MS = 15_000;
const SUCCESS_TOAST_MS = 8000;

const pages = [overviewPage, healthPage, discoveryPage, breakersPage, configPage, metricsPage, shadowPage, auditPage];

class App {
  api = new AdminApi();
  /** The last answer of each endpoint: `{ data, at }` or `{ error, at }`; `stale` while the service is unreachable. */
  results = new Map();
  page = overviewPage;
  #timer = undefined;
  #cycle = 0;
  #renderTimer = undefined;
  #unreachableSince = undefined;
  #lastAnswerAt = undefined;
  #askedForToken = false;
  #dialogOpen = false;
  #busy = false;

  start() {
    this.api.onReachability((reachable) => (reachable ? this.#reachable() : this.#unreachable()));
    document.addEventListener('click', (event) => this.#onClick(event));
    document.addEventListener('input', (event) => this.#onInput(event));
    // `toggle` does not bubble: listen while it is captured on its way down.
    document.addEventListener('toggle', (event) => this.#onToggle(event), true);
    window.addEventListener('hashchange', () => this.#route(true));
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.poll();
      else clearTimeout(this.#timer);
    });
    document.getElementById('skip-link').addEventListener('click', (event) => {
      event.preventDefault();
      document.getElementById('main').focus();
    });
    this.#renderTokenButton();
    this.#route(false);
  }

  /** Fetches what the open page needs, renders it, and plans the next round. */
  async poll() {
    clearTimeout(this.#timer);
    const cycle = ++this.#cycle;
    const page = this.page;
    await Promise.all([{ path: 'status' }, ...page.sources].map((source) => this.#fetch(source)));
    if (cycle !== this.#cycle) return;
    this.render();
    if (document.visibilityState !== 'hidden') this.#timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  /** Renders the open page from the last answers, keeping focus and scroll where they are. */
  render() {
    clearTimeout(this.#renderTimer);
    this.#renderTimer = undefined;
    const ctx = { result: (path) => this.results.get(path), now: Date.now() };
    const next = this.page.render(ctx);
    next.setAttribute('data-page', this.page.id);
    const container = document.getElementById('page');
    const current = container.firstElementChild;
    if (current !== null && current.getAttribute('data-page') === this.page.id) morph(current, next);
    else container.replaceChildren(next);
    this.#renderHeader();
  }

  /** Renders within a quarter of a second, once, however many updates arrive meanwhile (the breaker stream). */
  renderSoon() {
    this.#renderTimer ??= setTimeout(() => this.render(), 250);
  }

  async #fetch(source) {
    const previous = this.results.get(source.path);
    if (previous?.error?.kind === 'not-found' && Date.now() - previous.at < NOT_FOUND_RETRY_MS) return;
    try {
      const { data } = await this.api.request('GET', source.path, { ok: source.ok ?? [200], as: source.as });
      this.results.set(source.path, { data, at: Date.now() });
    } catch (error) {
      const failure = error instanceof ApiError ? error : new ApiError('http', 0, String(error?.message ?? error));
      // While the service is away the page keeps showing what it last said, marked stale.
      if (failure.kind === 'network' && previous?.data !== undefined) this.results.set(source.path, { ...previous, stale: true });
      else this.results.set(source.path, { error: failure, at: Date.now() });
      if (failure.kind === 'unauthorized') this.#readRefused(failure);
    }
  }

  #route(moveFocus) {
    const id = /^#\/([a-z]+)/.exec(location.hash)?.[1];
    const page = pages.find((p) => p.id === id) ?? overviewPage;
    if (page !== this.page || !moveFocus) {
      this.page.leave?.();
      this.page = page;
      page.enter?.(this);
    }
    for (const link of document.querySelectorAll('[data-nav]')) {
      if (link.getAttribute('data-nav') === page.id) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    this.render();
    if (moveFocus) document.querySelector('[data-key="page-title"]')?.focus({ preventScroll: false });
    void this.poll();
  }

  #renderHeader() {
    const status = this.results.get('status');
    const report = status?.data;
    const name = document.getElementById('service-name');
    const state = document.getElementById('service-state');
    const freshness = document.getElementById('freshness');
    name.textContent = report === undefined ? 'karyon admin' : `${report.app} · ${report.instanceId}`;
    if (report !== undefined) state.replaceChildren(badge(report.status));
    else if (status?.error?.kind === 'unauthorized') state.replaceChildren(badge('UNKNOWN', { label: 'token needed' }));
    else state.replaceChildren();
    document.title = `${this.page.title}${report === undefined ? '' : ` · ${report.app} ${report.instanceId}`} · karyon admin`;
    if (this.#unreachableSince !== undefined) {
      freshness.textContent = `Offline since ${fmt.clock(this.#unreachableSince)}`;
      freshness.setAttribute('data-state', 'offline');
    } else if (this.#lastAnswerAt !== undefined) {
      freshness.textContent = `Live · updated ${fmt.clock(this.#lastAnswerAt)}`;
      freshness.setAttribute('data-state', 'live');
    }
  }

  #renderTokenButton() {
    const button = document.getElementById('token-button');
    button.textContent = this.api.hasToken ? 'Token: set' : 'Token: none';
    button.setAttribute('data-state', this.api.hasToken ? 'set' : 'none');
    button.setAttribute('aria-label', this.api.hasToken ? 'Admin token is set; change or forget it' : 'No admin token; enter one');
  }

  #reachable() {
    this.#lastAnswerAt = Date.now();
    if (this.#unreachableSince === undefined) return;
    this.#unreachableSince = undefined;
    document.getElementById('banner').hidden = true;
    document.body.removeAttribute('data-stale');
    this.notify({ tone: 'good', title: 'Connection restored', detail: 'The service answers again; the page is live.' });
  }

  #unreachable() {
    if (this.#unreachableSince !== undefined) return;
    this.#unreachableSince = Date.now();
    const banner = document.getElementById('banner');
    banner.replaceChildren(
      h('strong', null, 'The service cannot be reached. '),
      `No answer from ${location.host} since ${fmt.clock(this.#unreachableSince)}; retrying every ${POLL_MS / 1000} s. `,
      this.#lastAnswerAt === undefined ? '' : `The page shows what it said last, at ${fmt.clock(this.#lastAnswerAt)}.`,
    );
    banner.hidden = false;
    document.body.setAttribute('data-stale', 'true');
  }

  /** A read was refused for want of a token: ask once; the page also shows a button to ask again. */
  #readRefused(error) {
    if (this.#askedForToken || this.#dialogOpen || document.querySelector('dialog[open]') !== null) return;
    this.#askedForToken = true;
    void this.promptToken(`This instance requires a token to read its state (${error.message}).`);
  }

  /** Opens the token dialog; resolves with the token set ('' when forgotten), or undefined when cancelled. */
  async promptToken(reason) {
    if (this.#dialogOpen) return undefined;
    this.#dialogOpen = true;
    let token;
    try {
      token = await askToken({ reason, hasToken: this.api.hasToken });
    } finally {
      this.#dialogOpen = false;
    }
    if (token === undefined) return undefined;
    this.api.setToken(token);
    this.#askedForToken = false;
    this.#renderTokenButton();
    this.notify({ tone: 'good', title: token === '' ? 'Token forgotten' : 'Token saved for this tab' });
    // Forget answers refused for want of a token, so the page does not show them while asking again.
    for (const [path, result] of this.results) if (result.error?.kind === 'unauthorized' || result.error?.kind === 'forbidden') this.results.delete(path);
    this.page.restart?.();
    void this.poll();
    return token;
  }

  /** Shows the outcome of an action. Successes fade after a while; failures stay until dismissed. */
  notify({ tone, title, detail }) {
    const region = document.getElementById('toasts');
    const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
    const toast = h('div', { class: ['toast', `toast-${tone}`], role: tone === 'bad' ? 'alert' : undefined, 'data-tone': tone }, h('p', { class: 'toast-title' }, title), detail === undefined ? null : h('p', { class: 'toast-detail' }, detail), close);
    close.addEventListener('click', () => toast.remove());
    region.append(toast);
    while (region.children.length > 4) region.firstElementChild.remove();
    if (tone !== 'bad') setTimeout(() => toast.remove(), SUCCESS_TOAST_MS);
  }

  /**
   * Sends a change. A 401 opens the token dialog and, once a token is given, sends it again; any other
   * refusal or failure is shown with the service's reason.
   */
  async mutate(method, path, body, { what, success }) {
    for (let attempt = 0; ; attempt++) {
      try {
        const { data } = await this.api.request(method, path, { body });
        this.notify({ tone: 'good', title: success(data) });
        void this.poll();
        return data;
      } catch (error) {
        const failure = error instanceof ApiError ? error : new ApiError('http', 0, String(error?.message ?? error));
        if (failure.kind === 'unauthorized' && attempt === 0) {
          const token = await this.promptToken(`The service refused to ${what} without a valid token (${failure.message}).`);
          if (token) continue;
        }
        const label = { unauthorized: 'Unauthorized', forbidden: 'Forbidden', 'rate-limited': 'Too many changes', network: 'Unreachable' }[failure.kind];
        this.notify({ tone: 'bad', title: `Could not ${what}`, detail: `${failure.status ? `${failure.status} ` : ''}${label ? `${label}: ` : ''}${failure.message}` });
        void this.poll();
        return undefined;
      }
    }
  }

  async #onClick(event) {
    const target = event.target instanceof Element ? event.target.closest('[data-action], #token-button') : null;
    if (target === null || target.hasAttribute('disabled')) return;
    if (target.id === 'token-button') {
      await this.promptToken();
      return;
    }
    const action = actions[target.getAttribute('data-action')];
    if (action === undefined || this.#busy) return;
    this.#busy = true;
    document.body.setAttribute('aria-busy', 'true');
    try {
      await action(this, target);
    } finally {
      this.#busy = false;
      document.body.removeAttribute('aria-busy');
    }
  }

  #onInput(event) {
    const name = event.target instanceof HTMLElement ? event.target.getAttribute('data-input') : null;
    if (name === null) return;
    this.page.onInput?.(name, event.target.value);
    this.render();
  }

  #onToggle(event) {
    const key = event.target instanceof HTMLElement ? event.target.getAttribute('data-toggle') : null;
    if (key === null) return;
    this.page.onToggle?.(key, event.target.open);
    this.renderSoon();
  }
}

/** What each `data-action` button does. Every change is confirmed first. */
const actions = {
  async token(app) {
    await app.promptToken();
  },

  async status(app, button) {
    const to = button.getAttribute('data-status');
    const report = app.results.get('status')?.data;
    const name = report === undefined ? 'this instance' : `${report.app} ${report.instanceId}`;
    const outOfService = to === 'OUT_OF_SERVICE';
    const confirmed = await confirmAction({
      title: outOfService ? `Take ${name} out of service?` : `Mark ${name} UP?`,
      lines: outOfService
        ? ['The registry marks it OUT_OF_SERVICE: clients stop sending it traffic within a registry fetch interval, and it keeps running.', 'It stays out of service, whatever its health, until it is marked UP.']
        : ['The operator’s OUT_OF_SERVICE is cleared: the instance goes UP and takes traffic again (or DOWN, if a readiness check is critical).'],
      confirmLabel: outOfService ? 'Take out of service' : 'Mark UP',
      danger: outOfService,
    });
    if (confirmed === undefined) return;
    await app.mutate('PUT', 'status', { status: to }, {
      what: outOfService ? 'take the instance out of service' : 'mark the instance UP',
      success: (data) => `The instance is now ${data?.status ?? to}`,
    });
  },

  async breaker(app, button) {
    const name = button.getAttribute('data-name');
    const op = button.getAttribute('data-op');
    const text = {
      forceOpen: {
        title: `Force the circuit of ${name} open?`,
        line: 'Every call is short-circuited (its fallback runs, or it fails at once) until the circuit is forced closed or reset.',
        label: 'Force open',
        what: `force ${name} open`,
      },
      forceClosed: {
        title: `Force the circuit of ${name} closed?`,
        line: 'No call is short-circuited, whatever the error rate, until the circuit is forced open or reset.',
        label: 'Force closed',
        what: `force ${name} closed`,
      },
      reset: {
        title: `Reset ${name}?`,
        line: 'Removes a forced state, closes the circuit and clears the health counts of its window.',
        label: 'Reset',
        what: `reset ${name}`,
      },
    }[op];
    if (text === undefined) return;
    const confirmed = await confirmAction({ title: text.title, lines: [text.line], confirmLabel: text.label, danger: op !== 'reset' });
    if (confirmed === undefined) return;
    await app.mutate('PUT', `breakers/${encodeURIComponent(name)}`, { action: op }, { what: text.what, success: (data) => `${name} is now ${data?.state ?? 'changed'}` });
  },

  async 'config-set'(app, button) {
    const key = button.getAttribute('data-config-key');
    const entry = app.results.get('config')?.data?.keys?.[key];
    if (entry === undefined) return;
    const asText = entry.sensitive || typeof entry.value === 'string';
    const confirmed = await confirmAction({
      title: `Override ${key}?`,
      lines: [
        entry.sensitive ? `The current value is sensitive and not shown; it comes from the ${entry.layer} layer.` : `Now ${fmt.json(entry.value)}, from the ${entry.layer} layer (${entry.source}).`,
        'An override is the highest layer: it wins over files, the environment and remote sources until it is removed. The service validates it first; a rejected value changes nothing.',
      ],
      confirmLabel: 'Set override',
      field: {
        label: `New value of ${key}`,
        type: entry.sensitive ? 'password' : 'text',
        value: entry.sensitive ? '' : asText ? entry.value : JSON.stringify(entry.value),
        hint: asText ? 'Taken as text, exactly as typed.' : 'JSON: a number, true or false, "text" in quotes, a [list] or null.',
        parse: (text) => {
          if (asText) return { value: text };
          try {
            return { value: JSON.parse(text) };
          } catch {
            // A key whose value is null has no type to go by: plain text is what an operator means.
            if (entry.value === null && text.trim() !== '') return { value: text };
            return { error: `Not valid JSON. Put text in double quotes, e.g. "${text.replaceAll('"', '')}".` };
          }
        },
      },
    });
    if (confirmed === undefined) return;
    await app.mutate('PUT', `config/${encodeURIComponent(key)}`, { value: confirmed.value }, {
      what: `override ${key}`,
      success: (data) => (data?.outcome === 'unchanged' ? `${key} already had that value` : `${key} is now ${data?.sensitive ? 'set (sensitive)' : fmt.json(data?.value)}`),
    });
  },

  async 'config-clear'(app, button) {
    const key = button.getAttribute('data-config-key');
    const confirmed = await confirmAction({
      title: `Remove the override of ${key}?`,
      lines: ['The key goes back to the value of the next layer down (remote, argv, env, file or default). The service validates the result first.'],
      confirmLabel: 'Remove override',
    });
    if (confirmed === undefined) return;
    await app.mutate('DELETE', `config/${encodeURIComponent(key)}`, undefined, {
      what: `remove the override of ${key}`,
      success: (data) => `${key} is back to ${data?.sensitive ? 'its sensitive value' : fmt.json(data?.value)} from the ${data?.layer ?? 'next'} layer`,
    });
  },

  async 'shadow-off'(app) {
    const confirmed = await confirmAction({
      title: 'Stop shadow traffic?',
      lines: ['The kill switch: no more request is copied to the shadow targets, and copies waiting to be sent are dropped. Primary traffic is not affected.'],
      confirmLabel: 'Stop shadow traffic',
      danger: true,
    });
    if (confirmed === undefined) return;
    await app.mutate('PUT', 'shadow', { enabled: false }, { what: 'stop shadow traffic', success: () => 'Shadow traffic stopped' });
  },
};

new App().start();
