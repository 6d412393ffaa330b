import { describe, expect, it } from 'vitest';
import { createService, remoteSource, systemClock } from 'karyon-ts';

// Node fires a timer whose delay is beyond 2^31 - 1 ms after 1 ms, with a warning: an interval of a month
// would become a busy loop. Options refuse such durations, and the clock never hands one to Node.

describe('durations beyond what a timer can wait', () => {
  it('are refused by a health check, naming the option and the range', () => {
    const service = createService({ name: 'limits', admin: false });
    for (const key of ['intervalMs', 'timeoutMs', 'cacheMs'] as const) {
      expect(() => service.addHealthCheck(`check-${key}`, () => true, { [key]: 3e9 })).toThrow(
        new RegExp(`option '${key}' of health check 'check-${key}' must be a number from \\d+ to 2147483647 \\(got 3000000000\\)`),
      );
    }
    expect(() => service.addHealthCheck('fine', () => true, { intervalMs: 2_147_483_647 })).not.toThrow();
  });

  it('wait as long as a timer can on the system clock, rather than firing at once with a warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    let fired = false;
    const timer = systemClock.setTimeout(() => {
      fired = true;
    }, 3e9);
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fired).toBe(false);
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    } finally {
      timer.clear();
      process.off('warning', onWarning);
    }
  });
});

describe('credentials in a URL', () => {
  it('that are not valid percent-encoding are refused naming the option, without echoing them', () => {
    const attempt = (): unknown => remoteSource({ url: 'http://user:s3cr%zz@config.local/app.json' });
    expect(attempt).toThrow(/option 'remoteSource.url' must be a URL whose user name and password are valid percent-encoding/);
    expect(attempt).not.toThrow(/s3cr/);
  });
});
