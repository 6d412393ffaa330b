import type { ServiceClient } from '../ServiceClient.js';
import { CopyQueue } from './CopyQueue.js';
import type { CopyQueueLimits } from './CopyQueue.js';
import type { ShadowTargetReport } from './types.js';

/** One VIP copies go to: its client, its bounded queue, and its counts. */
export class ShadowTarget {
  /** The VIP. */
  readonly vip: string;
  /** The client the copies go through (balanced, ejecting, no retries by default). */
  readonly client: ServiceClient;
  /** Copies waiting and in flight. */
  readonly queue: CopyQueue;
  /** Copies sent. */
  sent = 0;
  /** Copies never sent. */
  dropped = 0;
  /** Copies sent without an answer. */
  failed = 0;
  /** Copies cut in flight by the kill switch or close. */
  aborted = 0;
  /** Answers compared. */
  compared = 0;
  /** Comparisons without a difference. */
  matches = 0;
  /** Comparisons with a difference. */
  mismatches = 0;

  /**
   * @param vip - the VIP
   * @param client - its client
   * @param limits - the current concurrency and queue limits
   */
  constructor(vip: string, client: ServiceClient, limits: () => CopyQueueLimits) {
    this.vip = vip;
    this.client = client;
    this.queue = new CopyQueue(limits);
  }

  /** The counts, as `GET /shadow` shows them. */
  report(): ShadowTargetReport {
    return {
      vip: this.vip,
      sent: this.sent,
      dropped: this.dropped,
      failed: this.failed,
      aborted: this.aborted,
      compared: this.compared,
      matches: this.matches,
      mismatches: this.mismatches,
      inFlight: this.queue.inFlight,
      queued: this.queue.queued,
      breaker: this.client.command?.state ?? null,
    };
  }
}
