import { describe, expect, it } from 'vitest';
import { TrySignal, follow } from '../../src/http/TrySignal.js';

describe('TrySignal', () => {
  it('calls each listener once, with the reason set, and ignores later aborts', () => {
    const signal = new TrySignal();
    const calls: unknown[] = [];
    signal.on('abort', () => calls.push(['a', signal.reason]));
    signal.once('abort', () => calls.push(['b', signal.reason]));
    const removed = (): number => calls.push('removed');
    signal.on('abort', removed);
    signal.off('abort', removed);
    signal.abort('why');
    signal.abort('again');
    expect(signal.aborted).toBe(true);
    expect(calls).toEqual([
      ['a', 'why'],
      ['b', 'why'],
    ]);
  });

  it('removing the first listener keeps the others', () => {
    const signal = new TrySignal();
    const calls: string[] = [];
    const first = (): number => calls.push('first');
    signal.on('abort', first);
    signal.on('abort', () => calls.push('second'));
    signal.removeListener('abort', first);
    signal.abort(undefined);
    expect(calls).toEqual(['second']);
  });

  it('follows an AbortSignal until unlinked, and yields a standard AbortSignal', () => {
    const controller = new AbortController();
    const child = new TrySignal();
    const unlink = follow(controller.signal, child);
    const standard = child.toAbortSignal();
    controller.abort(new Error('caller'));
    expect(child.reason).toEqual(new Error('caller'));
    expect(standard.aborted).toBe(true);
    expect(standard.reason).toEqual(new Error('caller'));

    const other = new AbortController();
    const unlinked = new TrySignal();
    follow(other.signal, unlinked)();
    other.abort();
    expect(unlinked.aborted).toBe(false);
    unlink();
  });

  it('aborts at once when the parent already is, and follows another TrySignal', () => {
    const child = new TrySignal();
    follow(AbortSignal.abort('early'), child);
    expect(child.reason).toBe('early');
    const parent = new TrySignal();
    const grandchild = new TrySignal();
    follow(parent, grandchild);
    parent.abort('late');
    expect(grandchild.reason).toBe('late');
  });
});
