// Type tests for the public API: they fail to type-check (npm run typecheck) when the contract drifts.
import { describe, expectTypeOf, it } from 'vitest';
import { createService } from 'karyon-ts';
import type { ErrorCode, HealthResult, InstanceStatus, KaryonError, LifecycleState, RegistryInstance, Service, StateChange } from 'karyon-ts';

describe('public types', () => {
  it('createService returns a Service whose status is a LifecycleState', () => {
    const service = createService({ name: 'typed', admin: false });
    expectTypeOf(service).toEqualTypeOf<Service>();
    expectTypeOf(service.status).toEqualTypeOf<LifecycleState>();
    expectTypeOf<LifecycleState>().toEqualTypeOf<'STARTING' | 'UP' | 'OUT_OF_SERVICE' | 'DOWN' | 'SHUTTING_DOWN' | 'STOPPED' | 'FAILED'>();
    expectTypeOf<ReturnType<Service['start']>>().toEqualTypeOf<Promise<void>>();
    expectTypeOf<ReturnType<Service['register']>>().toEqualTypeOf<Service>();
  });

  it('stateChange listeners get a typed payload', () => {
    const service = createService({ name: 'typed', admin: false });
    service.on('stateChange', (change) => {
      expectTypeOf(change).toEqualTypeOf<StateChange>();
      expectTypeOf(change.to).toEqualTypeOf<LifecycleState>();
    });
    // @ts-expect-error: not an event of the service
    service.on('nonsense', () => undefined);
  });

  it('options reject unknown shapes', () => {
    // Never called: only its type-checking matters.
    const misuse = (): void => {
      // @ts-expect-error: name is required
      createService({});
      // @ts-expect-error: port is a number
      createService({ name: 'x', port: '8080' });
      // @ts-expect-error: admin is options or false
      createService({ name: 'x', admin: true });
    };
    expectTypeOf(misuse).toBeFunction();
  });

  it('health results and registry records are precise', () => {
    expectTypeOf<HealthResult['status']>().toEqualTypeOf<'UP' | 'WARN' | 'DOWN'>();
    expectTypeOf<RegistryInstance['status']>().toEqualTypeOf<InstanceStatus>();
    expectTypeOf<KaryonError['code']>().toEqualTypeOf<ErrorCode>();
  });
});
