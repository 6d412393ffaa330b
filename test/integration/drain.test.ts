import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ServerTracker, listen } from 'karyon-ts';
import { cleanupAfterEach } from '../support/cleanups.js';
import { waitFor } from '../support/logger.js';

const cleanups = cleanupAfterEach();

/** Closes `server` and destroys `sockets` after the test, whatever failed (the drain closes it when it passes). */
function closeAfter(server: Server, ...sockets: Socket[]): void {
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });
}

// A drain must end by its deadline whatever arrives meanwhile: a connection opened before the drain whose
// request comes after it began (headers split across packets, a slow client) used to escape the deadline, and
// a handler that never answered it held stop() forever.

describe('ServerTracker.drain', () => {
  it('ends by its deadline when a request arrives during the drain and is never answered, counting it', async () => {
    const server = createServer(() => {
      // Never answers.
    });
    const tracker = new ServerTracker(server);
    const port = await listen(server, 0, '127.0.0.1');
    const accepted = once(server, 'connection');
    const socket: Socket = connect(port, '127.0.0.1');
    closeAfter(server, socket);
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n'); // headers not finished: no request yet
    await accepted; // the server holds the connection before the drain begins
    expect(tracker.inFlight).toBe(0);
    const draining = tracker.drain(300);
    socket.write('\r\n'); // the request arrives during the drain
    const started = Date.now();
    const result = await draining;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({ completed: 0, forced: 1 });
    expect(server.listening).toBe(false);
  });

  it('counts a late request that finishes as completed, never a negative count', async () => {
    // The early request is answered only once the late one has arrived (during the drain), so it is surely
    // in flight when the drain begins; the late one a little after.
    let answerEarly!: () => void;
    const lateArrived = new Promise<void>((resolve) => (answerEarly = resolve));
    const server = createServer((req, res) => {
      if (req.url === '/late') {
        answerEarly();
        setTimeout(() => res.end('done'), 50);
      } else {
        void lateArrived.then(() => res.end('done'));
      }
    });
    const tracker = new ServerTracker(server);
    const port = await listen(server, 0, '127.0.0.1');
    const early = connect(port, '127.0.0.1');
    const late = connect(port, '127.0.0.1');
    closeAfter(server, early, late);
    await Promise.all([once(early, 'connect'), once(late, 'connect')]);
    for (const socket of [early, late]) {
      socket.on('error', () => undefined);
      socket.resume();
    }
    early.write('GET /early HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => tracker.inFlight === 1, 10_000, 'the early request to reach the server');
    const draining = tracker.drain(5_000);
    late.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    const result = await draining;
    expect(result).toMatchObject({ completed: 2, forced: 0 });
  });
});
