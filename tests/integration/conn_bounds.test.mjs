// Issue 10 item 3 (remainder): one address cannot hold every connection slot, and connections
// that trickle their header (slowloris), stall their body or idle between keep-alive requests
// are closed by the relay at HTTP_REQUEST_TIMEOUT_MS. Real relay-node on loopback.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRelay, waitFor } from './lib/relay.mjs';
import { raw } from './lib/http.mjs';
import { WsClient } from './lib/ws.mjs';

const T = { timeout: 20000 };
const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n';


function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('connect', () => { s.on('error', () => {}); resolve(s); });
  });
}

/** Resolves with true when the server ends the connection (FIN or reset), on its own. */
const endedByServer = (s) => new Promise((resolve) => {
  s.once('end', () => resolve(true));
  s.once('close', () => resolve(true));
});

describe('MAX_CONNECTIONS_PER_IP=3 counts HTTP and websocket connections of one address', () => {
  let relay;
  before(async () => { relay = await startRelay({ MAX_CONNECTIONS_PER_IP: '3', WS_AUTH_TIMEOUT_MS: '60000' }); });
  after(async () => { await relay?.kill(); });

  test('two idle HTTP + one websocket fill the address; a fourth is closed unanswered; freed slots serve', T, async () => {
    const idle = [await connect(relay.port), await connect(relay.port)];
    let ws;
    try {
      ws = await WsClient.connect(relay.wsURL, { label: 'per-ip-ws' });
      // The websocket took over its HTTP connection's unit: a fourth connection is refused.
      await waitFor(async () => (await raw(relay.port, HEALTH)) === '',
        { timeoutMs: 5000, what: 'a fourth connection of 127.0.0.1 is closed without an answer' });
    } finally {
      for (const s of idle) s.destroy();
    }
    // Only the websocket is left: two more connections are admitted, then a third is not.
    const two = [await connect(relay.port), await connect(relay.port)];
    try {
      await waitFor(async () => (await raw(relay.port, HEALTH)) === '',
        { timeoutMs: 5000, what: 'the websocket still counts after its HTTP session ended' });
    } finally {
      for (const s of two) s.destroy();
      ws.ws.terminate();
    }
    await waitFor(async () => (await raw(relay.port, HEALTH)).startsWith('HTTP/1.1 200'),
      { timeoutMs: 5000, what: 'healthz answers once the connections are gone' });
    const m = await raw(relay.port, 'GET /metrics HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n');
    const refused = Number((m.match(/^relay_per_ip_refused_total (\d+)/m) || [])[1]);
    assert.ok(refused >= 2, `relay_per_ip_refused_total counts the refusals (${refused})`);
  });
});

describe('HTTP_REQUEST_TIMEOUT_MS=400: header, body and keep-alive idle deadlines', () => {
  let relay;
  before(async () => {
    relay = await startRelay({ HTTP_REQUEST_TIMEOUT_MS: '400', MAX_CONNECTIONS_PER_IP: '0' });
  });
  after(async () => { await relay?.kill(); });

  test('200 sockets trickling a header are all closed by the relay; it still answers', T, async () => {
    const socks = [];
    const timers = [];
    try {
      for (let i = 0; i < 200; ++i) socks.push(await connect(relay.port));
      const ended = socks.map(endedByServer);
      for (const s of socks) {
        s.write('GET /healthz HTTP/1.1\r\nHost: r\r\n');
        let n = 0; // one header byte every 50 ms, at most 300 of them (15 s)
        const t = setInterval(() => { if (++n > 300 || s.destroyed) clearInterval(t); else s.write('X'); }, 50);
        timers.push(t);
      }
      const all = await Promise.all(ended);
      assert.equal(all.filter(Boolean).length, 200);
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of socks) s.destroy();
    }
    assert.ok((await raw(relay.port, HEALTH)).startsWith('HTTP/1.1 200'));
  });

  test('a body that never completes and an idle keep-alive connection are closed', T, async () => {
    const body = await connect(relay.port);
    const idle = await connect(relay.port);
    try {
      const [bodyEnded, idleEnded] = [endedByServer(body), endedByServer(idle)];
      body.write('POST /pair/start HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      let answer = '';
      idle.on('data', (d) => { answer += d.toString('latin1'); });
      idle.write('GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n');
      assert.equal(await bodyEnded, true);
      assert.equal(await idleEnded, true);
      assert.ok(answer.startsWith('HTTP/1.1 200'), 'the keep-alive request was answered before the idle close');
      assert.equal(answer.indexOf('HTTP/1.1', 1), -1);
    } finally {
      body.destroy();
      idle.destroy();
    }
  });
});
