import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import type { ClockTimer } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { abortReason, errorMessage } from '../internal/async.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import { durationMs, invalidOption, nonEmptyString, positiveInt } from '../internal/validate.js';
import { parseText } from './formats.js';
import type { TextFormat } from './formats.js';
import { SourceHealth } from './SourceHealth.js';
import type { ConfigSource, ConfigSourceContext, ConfigSourceStatus, SourceContent, SourceOrigin } from './types.js';

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /**
   * The file, or its base name without an extension. `config/app.json` reads `app.json` then
   * `app-${environment}.json`; `config/app` reads `app.json`, `app.properties`, then `app-${environment}.json`
   * and `app-${environment}.properties`. Later files win. Missing files contribute nothing.
   */
  readonly path: string;
  /**
   * Also read the files of the environment (`name-${environment}.*`; a comma-separated environment such as
   * `prod,eu` reads one file per name, in order).
   * @default true
   */
  readonly cascade?: boolean;
  /**
   * Watch the directory and re-read on changes (`fs.watch`, which sees editors that replace files by renaming and
   * Kubernetes ConfigMap updates). The directory must exist.
   * @default true
   */
  readonly watch?: boolean;
  /**
   * Wait after the last file event before re-reading, in ms, so a burst of writes is read once.
   * @default 100
   */
  readonly debounceMs?: number;
  /**
   * Also re-read every this many ms, for file systems that lose change events (NFS, some container mounts);
   * 0 turns it off.
   * @default 0
   */
  readonly pollIntervalMs?: number;
  /**
   * Largest file read, in bytes; a larger file is rejected as an update.
   * @default 1048576
   */
  readonly maxBytes?: number;
}

interface ResolvedFileSourceOptions {
  readonly base: string;
  readonly formats: readonly TextFormat[];
  readonly cascade: boolean;
  readonly watch: boolean;
  readonly debounceMs: number;
  readonly pollIntervalMs: number;
  readonly maxBytes: number;
}

function resolveFileSourceOptions(options: FileSourceOptions): ResolvedFileSourceOptions {
  if (typeof options !== 'object' || options === null) invalidOption('fileSource', 'an object with a path', options);
  const path = resolve(nonEmptyString('fileSource.path', options.path));
  const ext = extname(path);
  const known = ext === '.json' || ext === '.properties';
  if (options.cascade !== undefined && typeof options.cascade !== 'boolean') invalidOption('fileSource.cascade', 'a boolean', options.cascade);
  if (options.watch !== undefined && typeof options.watch !== 'boolean') invalidOption('fileSource.watch', 'a boolean', options.watch);
  return Object.freeze({
    base: known ? path.slice(0, -ext.length) : path,
    formats: known ? [ext.slice(1) as TextFormat] : (['json', 'properties'] as const),
    cascade: options.cascade ?? true,
    watch: options.watch ?? true,
    debounceMs: durationMs('fileSource.debounceMs', options.debounceMs, 100),
    pollIntervalMs: durationMs('fileSource.pollIntervalMs', options.pollIntervalMs, 0),
    maxBytes: positiveInt('fileSource.maxBytes', options.maxBytes, 1024 * 1024),
  });
}

type FileRead = { readonly kind: 'missing' } | { readonly kind: 'text'; readonly text: string } | { readonly kind: 'tooLarge'; readonly size: number };

/**
 * Configuration files, cascaded by environment, watched and debounced. A change is read whole (every file of
 * the source) and offered as one update; a deleted file means its values are gone (validated like any change);
 * a file that does not parse is rejected and the last good values stay.
 */
export class FileSource implements ConfigSource {
  readonly layer = 'file' as const;
  readonly name: string;
  readonly #options: ResolvedFileSourceOptions;
  #context: ConfigSourceContext | undefined;
  #files: readonly { readonly path: string; readonly format: TextFormat }[] = [];
  #watcher: FSWatcher | undefined;
  #debounce: ClockTimer | undefined;
  #poller: RepeatingTask | undefined;
  #chain: Promise<void> = Promise.resolve();
  #lastReads: string | undefined;
  #present: readonly string[] = [];
  readonly #health = new SourceHealth();

  /** Use {@link fileSource}. */
  constructor(options: FileSourceOptions) {
    this.#options = resolveFileSourceOptions(options);
    this.name = `file:${this.#options.base}${this.#options.formats.length === 1 ? `.${this.#options.formats[0] ?? ''}` : ''}`;
  }

  /** The files read, lowest priority first (known once opened). */
  get files(): readonly string[] {
    return this.#files.map((f) => f.path);
  }

  async open(context: ConfigSourceContext): Promise<SourceContent> {
    if (this.#context !== undefined) throw new KaryonError('ERR_INVALID_STATE', `${this.name} is already open`);
    this.#context = context;
    const { base, formats, cascade } = this.#options;
    const stems = [base, ...(cascade && context.environment !== undefined ? context.environment.split(',').filter((e) => e !== '').map((e) => `${base}-${e}`) : [])];
    this.#files = stems.flatMap((stem) => formats.map((format) => ({ path: `${stem}.${format}`, format })));
    if (this.#options.watch) this.#startWatching(context);
    if (this.#options.pollIntervalMs > 0) {
      this.#poller = new RepeatingTask({
        clock: context.clock,
        initialDelayMs: this.#options.pollIntervalMs,
        run: async () => {
          await this.#enqueue();
          return this.#options.pollIntervalMs;
        },
      });
    }
    let reads: FileRead[];
    try {
      reads = await this.#readAll();
    } catch (error) {
      await this.close();
      throw new KaryonError('ERR_INVALID_CONFIG', `${this.name} could not be read: ${errorMessage(error)}`, { cause: error });
    }
    this.#lastReads = JSON.stringify(reads);
    this.#health.succeeded(this.#context);
    return this.#content(reads);
  }

  async refresh(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    await this.#enqueue();
  }

  status(): ConfigSourceStatus {
    return Object.freeze({
      name: this.name,
      layer: this.layer,
      ...this.#health.report(),
      origins: this.#present.map((path) => `file:${path}`),
      details: Object.freeze({ directory: dirname(this.#options.base), files: this.files, watching: this.#watcher !== undefined }),
    });
  }

  async close(): Promise<void> {
    this.#health.close();
    this.#debounce?.clear();
    this.#debounce = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    await this.#poller?.close();
    await this.#chain;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #startWatching(context: ConfigSourceContext): void {
    const directory = dirname(this.#options.base);
    const names = new Set(this.#files.map((f) => basename(f.path)));
    try {
      // Not persistent: a watcher must not keep the process alive.
      this.#watcher = watch(directory, { persistent: false }, (_event, filename) => {
        // Our files, or Kubernetes' `..data` symlink swap; other files in a busy directory are ignored.
        const name = filename === null ? null : filename.toString();
        if (name === null || names.has(name) || name.startsWith('..')) this.#schedule();
      });
    } catch (error) {
      throw new KaryonError('ERR_INVALID_CONFIG', `${this.name}: cannot watch directory ${directory}: ${errorMessage(error)}`, { cause: error });
    }
    this.#watcher.on('error', (error) => {
      context.logger.warn('configuration file watcher failed; changes are no longer seen', { source: this.name, error: error.message });
      this.#watcher?.close();
      this.#watcher = undefined;
      this.#health.failed(this.#context, `watching ${directory} failed: ${error.message}`);
    });
  }

  #schedule(): void {
    const context = this.#context;
    if (context === undefined || this.#health.isClosed()) return;
    this.#debounce?.clear();
    this.#debounce = context.clock
      .setTimeout(() => {
        this.#debounce = undefined;
        void this.#enqueue();
      }, this.#options.debounceMs)
      .unref();
  }

  // Reads run one after another, so an older read never lands after a newer one.
  #enqueue(): Promise<void> {
    const run = this.#chain.then(() => this.#reread());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #reread(): Promise<void> {
    const context = this.#context;
    if (context === undefined || this.#health.isClosed() || context.signal.aborted) return;
    let reads: FileRead[];
    try {
      reads = await this.#readAll();
    } catch (error) {
      this.#health.failed(this.#context, errorMessage(error));
      return;
    }
    if (this.#health.isClosed()) return;
    if (this.#health.failures > 0) context.recovered();
    this.#health.succeeded(this.#context);
    const key = JSON.stringify(reads);
    if (key === this.#lastReads) return;
    this.#lastReads = key;
    context.update(this.#content(reads));
  }

  async #readAll(): Promise<FileRead[]> {
    return Promise.all(this.#files.map((file) => readLimited(file.path, this.#options.maxBytes)));
  }

  #content(reads: readonly FileRead[]): SourceContent {
    const origins: SourceOrigin[] = [];
    const present: string[] = [];
    for (const [i, read] of reads.entries()) {
      const file = this.#files[i] as { path: string; format: TextFormat };
      if (read.kind === 'missing') continue;
      present.push(file.path);
      if (read.kind === 'tooLarge') {
        this.#present = present;
        return { error: `${file.path} is ${read.size} bytes, more than the limit of ${this.#options.maxBytes}` };
      }
      const parsed = parseText(read.text, file.format);
      if (!parsed.ok) {
        this.#present = present;
        return { error: `${file.path} ${parsed.error}` };
      }
      origins.push({ name: `file:${file.path}`, values: parsed.values });
    }
    this.#present = present;
    return { origins };
  }
}

async function readLimited(path: string, maxBytes: number): Promise<FileRead> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (info.size > maxBytes) return { kind: 'tooLarge', size: info.size };
    const buffer = await handle.readFile();
    // The file may have grown between stat and read.
    if (buffer.length > maxBytes) return { kind: 'tooLarge', size: buffer.length };
    return { kind: 'text', text: buffer.toString('utf8') };
  } finally {
    await handle.close();
  }
}

/**
 * A watched file layer: JSON or `.properties`, cascaded by environment (`app.json`, then `app-prod.json`).
 *
 * @throws KaryonError ERR_INVALID_OPTION when an option is wrong.
 *
 * @example
 * ```ts
 * const config = defineConfig({ schema, sources: [fileSource({ path: 'config/app' })], environment: 'prod' });
 * ```
 */
export function fileSource(options: FileSourceOptions): FileSource {
  return new FileSource(options);
}
