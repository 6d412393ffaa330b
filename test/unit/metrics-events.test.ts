import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, createServiceClient } from 'karyon-ts';
import type { ShadowTrafficEvents } from 'karyon-ts';
import { bindClientMetrics, bindShadowMetrics, clientMetrics, shadowMetrics } from 'karyon-ts/extend';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('metrics subscribe to the events of the parts they measure', () => {
  it('a client made by hand reports the built-in client metrics once bound, and stops when unbound', async () => {
    const registry = new InMemoryRegistry();
    await registry.register(testInstance({ instanceId: 'b1', app: 'BACKEND', port: 9001 }), 'UP');
    let status = 200;
    const transport = (): Promise<Response> => Promise.resolve(new Response(null, { status }));
    const client = createServiceClient({ registry, vip: 'backend', transport, retries: false });
    const metrics = createMetrics({ prometheus: true });
    closers.push(() => client.close(), () => metrics.close());

    await (await client.request({ path: '/' })).body.dump();
    expect(metrics.prometheus!.render()).not.toContain('karyon_client_requests_total');

    const unbind = bindClientMetrics(client, clientMetrics(metrics));
    await (await client.request({ path: '/' })).body.dump();
    status = 503;
    await (await client.request({ path: '/' })).body.dump();
    let text = metrics.prometheus!.render();
    expect(text).toContain('karyon_client_requests_total{outcome="success",status_class="2xx",target="backend"} 1\n');
    expect(text).toContain('karyon_client_requests_total{outcome="error_status",status_class="5xx",target="backend"} 1\n');
    expect(text).toContain('karyon_client_latency_seconds_count{outcome="success",target="backend"} 1\n');

    unbind();
    expect(client.listenerCount('call')).toBe(0);
    await (await client.request({ path: '/' })).body.dump();
    text = metrics.prometheus!.render();
    expect(text).toContain('karyon_client_requests_total{outcome="error_status",status_class="5xx",target="backend"} 1\n');
  });

  it("a call that gets no answer is counted with status class 'none'", async () => {
    const registry = new InMemoryRegistry();
    await registry.register(testInstance({ instanceId: 'b1', app: 'BACKEND', port: 9001 }), 'UP');
    const transport = (): Promise<Response> => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const client = createServiceClient({ registry, vip: 'backend', transport, retries: false });
    const metrics = createMetrics({ prometheus: true });
    closers.push(() => client.close(), () => metrics.close());
    bindClientMetrics(client, clientMetrics(metrics));
    await expect(client.request({ path: '/' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM' });
    expect(metrics.prometheus!.render()).toContain('karyon_client_requests_total{outcome="failure",status_class="none",target="backend"} 1\n');
  });

  it("shadow traffic's events become the built-in shadow metrics", async () => {
    const shadow = new EventEmitter<ShadowTrafficEvents>();
    const metrics = createMetrics({ prometheus: true });
    closers.push(() => metrics.close());
    const unbind = bindShadowMetrics(shadow, shadowMetrics(metrics));
    shadow.emit('copy', { vip: 'next', outcome: 'sent' });
    shadow.emit('answer', { vip: 'next', durationMs: 12 });
    shadow.emit('skip', { reason: 'body_too_large' });
    shadow.emit('comparison', { vip: 'next', result: 'mismatch' });
    unbind();
    shadow.emit('copy', { vip: 'next', outcome: 'sent' });
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_shadow_copies_total{outcome="sent",target="next"} 1\n');
    expect(text).toContain('karyon_shadow_latency_seconds_count{target="next"} 1\n');
    expect(text).toContain('karyon_shadow_skipped_total{reason="body_too_large"} 1\n');
    expect(text).toContain('karyon_shadow_comparisons_total{result="mismatch",target="next"} 1\n');
    expect(shadow.eventNames()).toEqual([]);
  });
});
