// SCENARIO 81 and RELAY_PROTOCOL §11 heartbeats, §10 slow consumer backpressure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { WsClient } from './lib/ws.mjs';
import { newCreds, pairStart, connectDesktop, pairedFixture, connectPhone } from './lib/fixture.mjs';
import { sleep } from './lib/relay.mjs';

describe('heartbeats (WS_HEARTBEAT_INTERVAL_MS=1000, WS_HEARTBEAT_TIMEOUT_MS=2000)', () => {
  const h = useRelay({ WS_HEARTBEAT_INTERVAL_MS: '1000', WS_HEARTBEAT_TIMEOUT_MS: '2000' });

  test('§11 relay pings every interval after auth (empty payload); a client that pongs stays connected', { timeout: 15000 }, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const t0 = Date.now();
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken);
    await sleep(4500);
    assert.ok(ws.pings.length >= 3, `pings received: ${ws.pings.length}`);
    assert.ok(ws.pings[0].at - t0 >= 700, `first ping ${ws.pings[0].at - t0} ms after auth (expected one interval)`);
    for (const p of ws.pings) assert.equal(p.data.length, 0);
    assert.ok(ws.isOpen, 'socket answering pings must stay open');
    await ws.expectNothing(10);
  });

  test('§11 a client that never answers pings → disconnect heartbeat_timeout', { timeout: 15000 }, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken, { autoPong: false });
    const t0 = Date.now();
    const msg = await ws.next(8000);
    const dt = Date.now() - t0;
    assert.deepEqual(msg, { type: 'disconnect', reason: 'heartbeat_timeout' });
    assert.ok(dt >= 1800, `heartbeat_timeout after only ${dt} ms`);
    assert.ok(ws.pings.length >= 1, 'pings were sent');
    const ci = await ws.waitClose(3000);
    assert.notEqual(ci.code, 1008);
  });

  test('§11 inbound text frames also count as liveness', { timeout: 15000 }, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken, { autoPong: false, label: 'chatty-desktop' });
    for (let i = 0; i < 9; i++) { ws.send('{"type":"keepalive"}'); await sleep(500); }
    assert.ok(ws.isOpen, 'desktop sending text every 500 ms must not time out');
    assert.equal(ws.queue.filter((m) => m.text.includes('heartbeat_timeout')).length, 0);
  });
});

describe('heartbeats: client pings', () => {
  const h = useRelay({ WS_HEARTBEAT_INTERVAL_MS: '1000', WS_HEARTBEAT_TIMEOUT_MS: '2000' });

  test('§11 inbound Ping frames count as liveness and are answered with a Pong carrying the same payload', { timeout: 15000 }, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken, { autoPong: false, label: 'pinging-desktop' });
    for (let i = 0; i < 9; i++) { ws.ping(Buffer.from(`p${i}`)); await sleep(500); }
    assert.ok(ws.isOpen, 'desktop sending pings every 500 ms must not time out');
    assert.equal(ws.queue.length, 0, JSON.stringify(ws.queue));
    assert.ok(ws.pongs.length >= 8, `pongs received: ${ws.pongs.length}`);
    assert.equal(ws.pongs[0].data.toString(), 'p0');
  });
});

describe('slow consumer (MAX_SOCKET_OUTBOUND_QUEUE=8)', () => {
  const h = useRelay({ MAX_SOCKET_OUTBOUND_QUEUE: '8', MAX_WS_MESSAGES_PER_MINUTE: '1000000' });

  test('§10 phone that stops reading while the desktop floods → disconnected, slowConsumerDisconnects ≥ 1', { timeout: 40000 }, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.ws._socket.pause(); // stop reading: kernel buffers fill, relay queue overflows
    const frame = `{"type":"event","pad":"${'p'.repeat(60000)}"}`;
    const deadline = Date.now() + 25000;
    let sent = 0;
    let m = await h.relay.metrics();
    while (Date.now() < deadline && m.slowConsumerDisconnects < 1) {
      for (let i = 0; i < 50; i++) { fx.desktop.send(frame); sent++; }
      while (fx.desktop.ws.bufferedAmount > 8 * 1024 * 1024 && Date.now() < deadline) await sleep(10);
      if (!fx.desktop.isOpen) break;
      m = await h.relay.metrics();
    }
    assert.ok(m.slowConsumerDisconnects >= 1, `slowConsumerDisconnects=${m.slowConsumerDisconnects} after ${sent} frames (${JSON.stringify(m)})`);
    assert.ok(m.outboundSendFailures >= 1, `outboundSendFailures=${m.outboundSendFailures}`);
    assert.ok(fx.desktop.isOpen, 'the desktop (fast producer) stays connected');
    fx.phone.ws._socket.resume();
    await fx.phone.waitClose(15000);
    const m2 = await h.relay.metrics();
    assert.equal(m2.sessionsWithMobile, 0);
    // the device is still trusted: it may reconnect and request a snapshot
    const p2 = await connectPhone(h.relay, fx.rotatedToken);
    assert.equal(p2.authOk.role, 'mobile');
  });
});

describe('sweeper (SESSION_RETENTION_MS=100; sweep period fixed at 30 s)', () => {
  const h = useRelay({ SESSION_RETENTION_MS: '100' });

  test('§12.4 device-less, socket-less session is closed after SESSION_RETENTION_MS; sessions with a socket or trusted device are kept', { timeout: 45000 }, async () => {
    const t0 = Date.now();
    const lonely = newCreds();
    await pairStart(h.relay, lonely);
    const withSocket = newCreds();
    await pairStart(h.relay, withSocket);
    const { ws: desktop } = await connectDesktop(h.relay, withSocket.desktopSessionToken);
    const trusted = await pairedFixture(h.relay);
    trusted.phone.close(); trusted.desktop.close();
    const refresh = (c) => h.relay.post('/pair/refresh', {
      sessionID: c.sessionID, joinToken: c.joinToken, desktopSessionToken: c.desktopSessionToken, joinTokenExpiresAt: new Date(Date.now() + 60000).toISOString(),
    });
    // the sweep runs every 30 s: poll until the lonely session is gone (≤ ~31 s + slack)
    let gone = false;
    while (Date.now() - t0 < 38000) {
      const r = await h.relay.post('/devices/list', { sessionID: lonely.sessionID, desktopSessionToken: lonely.desktopSessionToken });
      if (r.status === 404) { gone = true; break; }
      assert.equal(r.status, 200, r.text);
      await sleep(500);
    }
    assert.ok(gone, 'session without sockets and devices was not swept within 38 s');
    assert.equal((await refresh(withSocket)).status, 200, 'session with a desktop socket must survive the sweep');
    assert.ok(desktop.isOpen);
    assert.equal((await refresh(trusted.creds)).status, 200, 'session with a trusted device must survive the sweep');
    const d = await connectDesktop(h.relay, trusted.creds.desktopSessionToken, { label: 'trusted-desktop' });
    assert.equal(d.authOk.sessionID, trusted.creds.sessionID);
  });
});

describe('SESSION_RETENTION_MS=120', () => {
  const h = useRelay({ SESSION_RETENTION_MS: '120' });

  test('S81 session with a trusted device still accepts desktop re-auth after both sockets closed for 320 ms', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close(); fx.desktop.close();
    await Promise.all([fx.phone.waitClose(2000), fx.desktop.waitClose(2000)]);
    await sleep(320);
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop-again' });
    assert.equal(d.authOk.desktopConnected, true);
    assert.equal(d.authOk.sessionID, fx.creds.sessionID);
  });
});

void WsClient;
