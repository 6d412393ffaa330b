import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createService } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Runs `work` with every write to process.stderr kept (and not shown). */
async function capturingStderr(work: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  });
  try {
    await work();
  } finally {
    process.stderr.write = original;
  }
  return chunks.join('');
}

const quick = { admin: false, lifecycle: { deregistrationDelayMs: 0 } } as const;

describe('what a service says', () => {
  it('by default, one concise line per event at info and above on stderr', async () => {
    const text = await capturingStderr(async () => {
      const service = createService({ name: 'talker', ...quick });
      service.onInitialize(async () => undefined, { name: 'warm' });
      await service.start();
      await service.stop();
    });
    const lines = text.trim().split('\n');
    expect(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} registering .*:talker:8080 as STARTING$/.test(l))).toBe(true);
    expect(lines.some((l) => l.endsWith('talker STARTING -> UP (initialize hooks finished)'))).toBe(true);
    expect(lines.some((l) => l.endsWith('talker SHUTTING_DOWN -> STOPPED (stopped)'))).toBe(true);
    // debug lines (a hook's duration) are left out at info
    expect(text).not.toContain("initialize hook 'warm' finished");
  });

  it('logger: false says nothing', async () => {
    const text = await capturingStderr(async () => {
      const service = createService({ name: 'quiet', ...quick, logger: false });
      await service.start();
      await service.stop();
    });
    expect(text).toBe('');
  });

  it('a pino logger plugs in as it is: each line keeps its message and its fields', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const service = createService({ name: 'pinoed', ...quick, logger });
    await service.start();
    await service.stop();
    const registering = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('registering'));
    expect(registering).toMatchObject({ level: 30, msg: `registering ${service.instanceId} as STARTING`, instanceId: service.instanceId });
    expect(lines.find((l) => l.msg === `pinoed STARTING -> UP (initialize hooks finished)`)).toMatchObject({ from: 'STARTING', to: 'UP' });
  });

  it('after a failed cancel it does not say deregistered', async () => {
    const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
    cleanups.push(() => eureka.close());
    await eureka.listen();
    const logger = memoryLogger();
    const service = createService({
      name: 'leaver',
      ...quick,
      logger,
      registry: { eureka: { serviceUrls: [`http://127.0.0.1:${eureka.port}/eureka`], retryInitialDelayMs: 10, retryMaxDelayMs: 20 } },
    });
    cleanups.push(() => service.stop());
    await service.start();
    await eureka.close();
    await service.stop().catch(() => undefined);
    const text = logger.lines.join('\n');
    expect(text).toMatch(/cancel/);
    expect(text).not.toMatch(/^info deregistered/m);
    expect(text).toContain(`warn ${service.instanceId} is not deregistered`);
  });
});
