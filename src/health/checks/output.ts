import { invalidOption } from '../../internal/validate.js';

/** Most output a check keeps, as Consul does (its `output_max_size` default): enough for a reason, never a log. */
export const DEFAULT_MAX_OUTPUT_BYTES = 4096;

/**
 * Collects the first `maxBytes` of a check's output (a script's stdout and stderr interleaved, an HTTP body),
 * counting what it drops so the report can say the output was cut.
 */
export class OutputBuffer {
  readonly #maxBytes: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #dropped = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** True once the buffer holds `maxBytes`: readers may stop reading. */
  get full(): boolean {
    return this.#kept >= this.#maxBytes;
  }

  add(chunk: Buffer): void {
    const room = this.#maxBytes - this.#kept;
    if (room <= 0) {
      this.#dropped += chunk.length;
      return;
    }
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(kept);
    this.#kept += kept.length;
    this.#dropped += chunk.length - kept.length;
  }

  /** The kept output as text, trimmed, with a note when some was dropped. */
  text(): string {
    const text = Buffer.concat(this.#chunks).toString('utf8').trim();
    return this.#dropped === 0 ? text : `${text}\n... (${this.#dropped} more bytes not kept)`;
  }
}

/** Checks the `maxOutputBytes` option shared by the check kinds. */
export function resolveMaxOutputBytes(name: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_OUTPUT_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    return invalidOption(name, 'a non-negative integer number of bytes', value);
  }
  return value;
}
