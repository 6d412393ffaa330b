import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { errorMessage } from '../internal/async.js';
import { invalidOption, nonEmptyString } from '../internal/validate.js';
import type { AnyDynamicConfig, DynamicConfig } from './DynamicConfig.js';
import { walk } from './values.js';

/** Options of {@link renderTemplate}. */
export interface TemplateOptions {
  /** The configuration whose values fill the template (started). */
  readonly config: AnyDynamicConfig;
  /**
   * Path of the template: text with `${key}` and `${key:default}` placeholders naming keys of the schema;
   * `$${` writes a literal `${`.
   */
  readonly template: string;
  /** Path of the rendered file, replaced atomically (a temporary file in the same directory, then a rename). */
  readonly output: string;
  /**
   * Mode of the rendered file.
   * @default 0o600 when the template uses a sensitive key, otherwise 0o644
   */
  readonly mode?: number;
  /**
   * A process to signal after each re-render (not the first), so it reloads the file: a `ChildProcess` or a pid.
   * @default none
   */
  readonly signalChild?: ChildProcess | number;
  /**
   * The signal sent to `signalChild`.
   * @default 'SIGHUP'
   */
  readonly childSignal?: NodeJS.Signals;
  /**
   * Where to log renders and failures.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** Payload of the `rendered` event. */
export interface TemplateRenderedEvent {
  /** The file written. */
  readonly path: string;
  /** The configuration version rendered. */
  readonly version: number;
  /** Its size in bytes. */
  readonly bytes: number;
  /** True when `signalChild` was signalled. */
  readonly signalled: boolean;
}

/** The typed events of a {@link TemplateRenderer}. */
export interface TemplateRendererEvents {
  /** The output file was written. */
  rendered: [event: TemplateRenderedEvent];
  /** Writing the output (or signalling the child) failed; the previous file stays. */
  renderError: [error: Error];
}

type Piece = { readonly text: string } | { readonly key: string; readonly segments: readonly string[]; readonly fallback: string | undefined };

/**
 * Parses a template into text and `${key}` / `${key:default}` placeholders.
 * @throws Error naming the line of an unterminated or empty placeholder.
 */
export function parseTemplate(text: string): { readonly pieces: readonly Piece[]; readonly keys: ReadonlyMap<string, number> } {
  const pieces: Piece[] = [];
  const keys = new Map<string, number>();
  let literal = '';
  let i = 0;
  const lineAt = (index: number): number => text.slice(0, index).split('\n').length;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      literal += text[i] as string;
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    const newline = text.indexOf('\n', i + 2);
    if (end < 0 || (newline >= 0 && newline < end)) throw new Error(`line ${lineAt(i)}: unterminated placeholder '${text.slice(i, i + 30).split('\n')[0] ?? ''}'`);
    const body = text.slice(i + 2, end);
    const colon = body.indexOf(':');
    const key = (colon < 0 ? body : body.slice(0, colon)).trim();
    if (key === '') throw new Error(`line ${lineAt(i)}: empty placeholder '\${${body}}'`);
    if (literal !== '') pieces.push({ text: literal });
    literal = '';
    pieces.push({ key, segments: key.split('.'), fallback: colon < 0 ? undefined : body.slice(colon + 1) });
    if (!keys.has(key)) keys.set(key, lineAt(i));
    i = end + 1;
  }
  if (literal !== '') pieces.push({ text: literal });
  return { pieces, keys };
}

function format(value: unknown, fallback: string | undefined): string {
  if (value === undefined || value === null) return fallback ?? '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'object' && item !== null ? JSON.stringify(item) : String(item))).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : '';
}

/**
 * Renders a template from a {@link DynamicConfig} to a file on every change, atomically, for processes that
 * only read files (the sidecar's non-Node services). Create it with {@link renderTemplate}.
 */
export class TemplateRenderer extends EventEmitter<TemplateRendererEvents> {
  readonly #config: DynamicConfig<object>;
  readonly #output: string;
  readonly #pieces: readonly Piece[];
  readonly #mode: number;
  readonly #child: ChildProcess | number | undefined;
  readonly #childSignal: NodeJS.Signals;
  readonly #logger: Logger;
  #unsubscribe: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #lastText: string | undefined;
  #renders = 0;
  #closed = false;

  /**
   * Use {@link renderTemplate}.
   * @internal
   */
  constructor(
    config: AnyDynamicConfig,
    output: string,
    pieces: readonly Piece[],
    options: { mode: number; child: ChildProcess | number | undefined; childSignal: NodeJS.Signals; logger: Logger },
  ) {
    super();
    this.#config = config as DynamicConfig<object>;
    this.#output = output;
    this.#pieces = pieces;
    this.#mode = options.mode;
    this.#child = options.child;
    this.#childSignal = options.childSignal;
    this.#logger = options.logger;
  }

  /** The rendered file's path. */
  get output(): string {
    return this.#output;
  }

  /** How many times the file was written. */
  get renders(): number {
    return this.#renders;
  }

  /** The template filled from the snapshot in force. */
  render(): string {
    const snapshot = this.#config.snapshot;
    let out = '';
    for (const piece of this.#pieces) out += 'text' in piece ? piece.text : format(walk(snapshot, piece.segments), piece.fallback);
    return out;
  }

  /** Writes the file now; resolves when it is written (or skipped because it is unchanged). */
  async flush(): Promise<void> {
    this.#dirty = true;
    while (this.#running !== undefined) await this.#running;
    if (this.#dirty) await this.#run();
  }

  /** Writes the first render and follows every change. */
  async start(): Promise<void> {
    await this.#write(false);
    this.#unsubscribe = this.#config.onChange(() => this.#schedule());
  }

  /** Stops following changes and waits for a write in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    while (this.#running !== undefined) await this.#running;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // One write at a time; changes during a write coalesce into one more write with the newest values.
  #schedule(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#running === undefined) void this.#run();
  }

  #run(): Promise<void> {
    const run = (async () => {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        try {
          await this.#write(true);
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(errorMessage(error));
          this.#logger.error('template render failed; the previous file stays', { output: this.#output, error: failure.message });
          this.emit('renderError', failure);
        }
      }
    })().finally(() => {
      this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #write(signalChild: boolean): Promise<void> {
    const version = this.#config.version;
    const text = this.render();
    if (text === this.#lastText) return;
    const directory = dirname(this.#output);
    const temporary = join(directory, `.${basename(this.#output)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx', this.#mode);
      try {
        await handle.writeFile(text);
        // On disk before the rename, so a crash never leaves a renamed but empty file.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.#output);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    this.#lastText = text;
    this.#renders++;
    let signalled = false;
    if (signalChild && this.#child !== undefined) signalled = this.#signal();
    this.#logger.info('template rendered', { output: this.#output, version });
    this.emit('rendered', { path: this.#output, version, bytes: Buffer.byteLength(text), signalled });
  }

  #signal(): boolean {
    const child = this.#child;
    try {
      if (typeof child === 'number') {
        process.kill(child, this.#childSignal);
        return true;
      }
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        this.#logger.warn('the process to signal has exited', { output: this.#output });
        return false;
      }
      return child.kill(this.#childSignal);
    } catch (error) {
      this.#logger.warn('could not signal the process after rendering', { output: this.#output, error: errorMessage(error) });
      return false;
    }
  }
}

/**
 * Renders `template` from the configuration to `output` now and on every change, atomically (temporary file +
 * rename), optionally signalling a child process to reload it.
 *
 * @throws KaryonError ERR_INVALID_CONFIG when a placeholder names a key the schema does not have (every one is
 * listed, with its line) or the template is malformed; ERR_INVALID_STATE when the configuration has not started;
 * ERR_INVALID_OPTION for a bad option.
 *
 * @example
 * ```ts
 * // app.properties.template: "server.port=${app.port}\nfeature.x=${features.x:false}\n"
 * const renderer = await renderTemplate({ config, template: 'app.properties.template', output: 'app.properties', signalChild: child });
 * ```
 */
export async function renderTemplate(options: TemplateOptions): Promise<TemplateRenderer> {
  if (typeof options !== 'object' || options === null) invalidOption('renderTemplate', 'an object', options);
  const { config } = options;
  if (typeof config !== 'object' || config === null || typeof config.onChange !== 'function') invalidOption('renderTemplate.config', 'a DynamicConfig', config);
  const templatePath = resolve(nonEmptyString('renderTemplate.template', options.template));
  const output = resolve(nonEmptyString('renderTemplate.output', options.output));
  if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o777)) {
    invalidOption('renderTemplate.mode', 'a file mode from 0 to 0o777', options.mode);
  }
  const child = options.signalChild;
  if (child !== undefined && !(typeof child === 'number' && Number.isInteger(child) && child > 0) && (typeof child !== 'object' || typeof child.kill !== 'function')) {
    invalidOption('renderTemplate.signalChild', 'a ChildProcess or a pid', child);
  }
  if (!config.started) throw new KaryonError('ERR_INVALID_STATE', 'renderTemplate needs a started configuration: await config.start() first');
  let text: string;
  try {
    text = await readFile(templatePath, 'utf8');
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `template ${templatePath} could not be read: ${errorMessage(error)}`, { cause: error });
  }
  let parsed: ReturnType<typeof parseTemplate>;
  try {
    parsed = parseTemplate(text);
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `template ${templatePath}: ${errorMessage(error)}`, { cause: error });
  }
  const unknown = [...parsed.keys].filter(([key]) => !config.hasKey(key));
  if (unknown.length > 0) {
    throw new KaryonError(
      'ERR_INVALID_CONFIG',
      `template ${templatePath} names keys the schema does not declare: ${unknown.map(([key, line]) => `'${key}' (line ${line})`).join(', ')}`,
    );
  }
  const sensitive = [...parsed.keys.keys()].some((key) => config.isSensitiveKey(key));
  const renderer = new TemplateRenderer(config, output, parsed.pieces, {
    mode: options.mode ?? (sensitive ? 0o600 : 0o644),
    child,
    childSignal: options.childSignal ?? 'SIGHUP',
    logger: options.logger ?? silentLogger,
  });
  await renderer.start();
  return renderer;
}
