// The live feed of `GET /hystrix.stream`, read with fetch() and a streaming body reader (EventSource cannot send
// the Authorization header). It keeps the latest HystrixCommand and HystrixThreadPool object of each command and a
// short history of rates for the sparklines, and reconnects by itself while the breakers page is open.

const HISTORY = 120;
const RETRY_MS = 2000;

/** The feed of one page visit: `start()` when the page opens, `stop()` when it closes. */
export class HystrixFeed {
  /** 'idle' | 'connecting' | 'live' | 'retrying' */
  state = 'idle';
  /** Why the last connection failed: `{ status, message }`, status 0 without an answer. */
  error = undefined;
  /** When the last object arrived (epoch ms). */
  lastEventAt = undefined;
  /** Latest HystrixCommand object by command name. */
  commands = new Map();
  /** Latest HystrixThreadPool object by name. */
  pools = new Map();
  /** Recent request rates (per second) and error percentages by command name, oldest first. */
  history = new Map();

  #api;
  #delayMs;
  #onUpdate;
  #controller = undefined;

  /**
   * @param api the AdminApi (for the URL and the token)
   * @param options `delayMs` between two sets of objects; `onUpdate()` after each batch or state change
   */
  constructor(api, { delayMs = 1000, onUpdate }) {
    this.#api = api;
    this.#delayMs = delayMs;
    this.#onUpdate = onUpdate;
  }

  /** Connects (again), e.g. after the token changed. */
  start() {
    this.stop();
    const controller = new AbortController();
    this.#controller = controller;
    void this.#run(controller.signal);
  }

  /** Closes the stream; nothing more is reported. */
  stop() {
    this.#controller?.abort();
    this.#controller = undefined;
    this.state = 'idle';
  }

  async #run(signal) {
    while (!signal.aborted) {
      this.#set('connecting');
      try {
        const response = await fetch(this.#api.url(`hystrix.stream?delay=${this.#delayMs}`), {
          headers: this.#api.headers({ accept: 'text/event-stream' }),
          cache: 'no-store',
          credentials: 'omit',
          signal,
        });
        if (!response.ok) {
          const text = await response.text();
          let message = text.trim() || response.statusText;
          try {
            message = JSON.parse(text).error ?? message;
          } catch {
            // Not JSON: the text itself is the reason.
          }
          this.error = { status: response.status, message };
        } else {
          this.error = undefined;
          this.#set('live');
          await this.#read(response.body, signal);
          if (!signal.aborted) this.error = { status: 0, message: 'the stream ended (the service may be restarting)' };
        }
      } catch (error) {
        if (signal.aborted) return;
        this.error = { status: 0, message: `the stream broke: ${error?.message ?? error}` };
      }
      if (signal.aborted) return;
      this.#set('retrying');
      // A refused stream (too many listeners) asks for a longer pause.
      const wait = this.error?.status === 503 ? 5000 : RETRY_MS;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }

  async #read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const onAbort = () => void reader.cancel().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value.replaceAll('\r\n', '\n');
        let end;
        let changed = false;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          changed = this.#event(buffer.slice(0, end)) || changed;
          buffer = buffer.slice(end + 2);
        }
        if (changed) this.#onUpdate();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One server-sent event: `data:` lines joined; `ping:` lines only keep the stream alive. */
  #event(block) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '') return false;
    let object;
    try {
      object = JSON.parse(data);
    } catch {
      return false;
    }
    this.lastEventAt = Date.now();
    if (object.type === 'HystrixCommand') {
      this.commands.set(object.name, object);
      const windowSeconds = Math.max(1, object.propertyValue_metricsRollingStatisticalWindowInMilliseconds / 1000);
      const entry = this.history.get(object.name) ?? { rates: [], errors: [] };
      entry.rates.push(Math.max(0, object.requestCount) / windowSeconds);
      entry.errors.push(object.errorPercentage);
      if (entry.rates.length > HISTORY) entry.rates.shift();
      if (entry.errors.length > HISTORY) entry.errors.shift();
      this.history.set(object.name, entry);
      return true;
    }
    if (object.type === 'HystrixThreadPool') {
      this.pools.set(object.name, object);
      return true;
    }
    return false;
  }

  #set(state) {
    this.state = state;
    this.#onUpdate();
  }
}
