// RELAY_PROTOCOL §12.6 graceful shutdown and §2 "logs MUST NOT contain tokens".
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay } from './lib/relay.mjs';
import { ROOMY } from './lib/setup.mjs';
import { WsClient, openAndAuth, PWA_ORIGIN } from './lib/ws.mjs';
import {
  newCreds, pairStart, pairRefresh, connectDesktop, connectPhone, joinAndApprove, pairedFixture, command,
  threadSelect, b64url,
} from './lib/fixture.mjs';

const relays = [];
afterEach(() => WsClient.terminateAll());
after(async () => { for (const r of relays) await r.kill(); });

test('§12.6 SIGTERM → connected sockets receive disconnect server_shutdown; process exits 0', { timeout: 20000 }, async () => {
  const relay = await startRelay({ ...ROOMY });
  relays.push(relay);
  const fx = await pairedFixture(relay);
  const lone = newCreds();
  await pairStart(relay, lone);
  const { ws: loneDesktop } = await connectDesktop(relay, lone.desktopSessionToken, { label: 'lone-desktop' });
  const res = await relay.stop(8000);
  assert.ok(!res.timedOut, `relay did not exit within 8 s after SIGTERM. Output tail:\n${relay.logs().slice(-2000)}`);
  assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
  for (const [name, sock] of [['desktop', fx.desktop], ['phone', fx.phone], ['lone desktop', loneDesktop]]) {
    await sock.waitClose(3000);
    const frames = (await sock.drain(0)).map((t) => { try { return JSON.parse(t); } catch { return t; } });
    assert.deepEqual(frames.filter((f) => f && f.type === 'disconnect'), [{ type: 'disconnect', reason: 'server_shutdown' }], `${name}: ${JSON.stringify(frames)}`);
  }
});

test('shutdown waits for the drain itself: stops once every socket is closed, not after a fixed sleep', { timeout: 20000 }, async () => {
  const relay = await startRelay({ ...ROOMY });
  relays.push(relay);
  const fx = await pairedFixture(relay);
  const res = await relay.stop(8000);
  assert.ok(!res.timedOut && res.code === 0, `exit ${res.code}`);
  const lines = relay.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const msgs = lines.map((l) => l.msg);
  const drained = lines.find((l) => l.msg === 'shutdown: drained');
  assert.ok(drained, `no "shutdown: drained" line: ${JSON.stringify(msgs)}`);
  assert.equal(drained.openSockets, 0, 'the wait ended because the sockets were gone, not at the bound');
  assert.ok(msgs.indexOf('shutdown: draining') < msgs.indexOf('shutdown: drained'));
  assert.ok(msgs.indexOf('shutdown: drained') < msgs.indexOf('stopped'));
  for (const sock of [fx.desktop, fx.phone]) {
    await sock.waitClose(3000);
    const frames = (await sock.drain(0)).map((t) => { try { return JSON.parse(t); } catch { return t; } });
    assert.deepEqual(frames.filter((f) => f && f.type === 'disconnect'), [{ type: 'disconnect', reason: 'server_shutdown' }]);
  }
});

test('§12.6 SIGINT also drains (server_shutdown) and exits 0', { timeout: 20000 }, async () => {
  const relay = await startRelay({ ...ROOMY });
  relays.push(relay);
  const c = newCreds();
  await pairStart(relay, c);
  const { ws } = await connectDesktop(relay, c.desktopSessionToken);
  relay.signal('SIGINT');
  const res = await Promise.race([relay.exited, new Promise((r) => setTimeout(() => r(null), 8000))]);
  assert.ok(res, 'relay did not exit within 8 s after SIGINT');
  assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
  await ws.waitClose(3000);
  assert.deepEqual((await ws.drain(0)).map((t) => JSON.parse(t)), [{ type: 'disconnect', reason: 'server_shutdown' }]);
});

test('§2 logs never contain issued tokens (join, desktop, device incl. rotated ones)', { timeout: 30000 }, async () => {
  const relay = await startRelay({ ...ROOMY, RUST_LOG: 'trace', LOG_LEVEL: 'debug', TOKEN_ROTATION_GRACE_MS: '200' });
  relays.push(relay);
  const secrets = new Set();
  const c = newCreds();
  secrets.add(c.joinToken); secrets.add(c.desktopSessionToken);
  await pairStart(relay, c);
  const { ws: desktop } = await connectDesktop(relay, c.desktopSessionToken);
  const { join } = await joinAndApprove(relay, c, desktop, { deviceName: 'Log Phone' });
  assert.equal(join.status, 200);
  secrets.add(join.body.deviceSessionToken);
  const p1 = await connectPhone(relay, join.body.deviceSessionToken);
  secrets.add(p1.authOk.nextDeviceSessionToken);
  p1.ws.send(command(c.sessionID, 1, threadSelect()));
  await desktop.nextSkipping(['relay.device_count'], 2000);
  p1.ws.send({ type: 'relay.snapshot_request', sessionID: c.sessionID, reason: 'initial_sync' });
  await desktop.nextSkipping(['relay.device_count'], 2000);
  desktop.send(`{"type":"event","echo":"${c.desktopSessionToken.slice(0, 5)}"}`);
  // reconnect (rotation) twice, device_reconnected path
  const p2 = await connectPhone(relay, p1.authOk.nextDeviceSessionToken, { label: 'p2' });
  secrets.add(p2.authOk.nextDeviceSessionToken);
  const p3 = await connectPhone(relay, p2.authOk.nextDeviceSessionToken, { label: 'p3' });
  secrets.add(p3.authOk.nextDeviceSessionToken);
  // refresh (new join token) + second device
  const oldJoin = c.joinToken;
  await pairRefresh(relay, c);
  secrets.add(c.joinToken);
  const second = await joinAndApprove(relay, c, desktop, { deviceName: 'Second' });
  assert.equal(second.join.status, 200);
  secrets.add(second.join.body.deviceSessionToken);
  // failures: wrong join token, reused join token, bad desktop token, unknown WS tokens, stale grace token
  await relay.post('/pair/join', { sessionID: c.sessionID, joinToken: oldJoin }, { origin: PWA_ORIGIN });
  const wrongDesktop = b64url(32); secrets.add(wrongDesktop);
  await relay.post('/devices/list', { sessionID: c.sessionID, desktopSessionToken: wrongDesktop });
  const unknownWs = b64url(32); secrets.add(unknownWs);
  await (await openAndAuth(relay.wsURL, unknownWs)).ws.waitClose(3000);
  await new Promise((r) => setTimeout(r, 300));
  await (await openAndAuth(relay.wsURL, join.body.deviceSessionToken, { origin: PWA_ORIGIN })).ws.waitClose(3000);
  // legacy query-token URL (disabled by default): the URL must not be logged verbatim
  const legacy = await WsClient.connect(`${relay.wsURL}?token=${c.desktopSessionToken}`, { label: 'legacy' });
  legacy.send({ type: 'relay.auth', token: c.desktopSessionToken });
  await legacy.next(2000);
  // mobile origin rejection, revoke, stop
  const evil = await WsClient.connect(relay.wsURL, { origin: 'https://evil.example' });
  evil.send({ type: 'relay.auth', token: second.join.body.deviceSessionToken });
  await evil.waitClose(3000);
  await relay.post('/devices/list', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken });
  await relay.post('/devices/revoke', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, deviceID: second.join.body.deviceID });
  await relay.post('/pair/stop', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken });
  const res = await relay.stop(8000);
  assert.equal(res.code, 0);
  const logs = relay.logs();
  assert.ok(logs.length > 0, 'expected some log output');
  const leaked = [...secrets].filter((s) => logs.includes(s));
  assert.deepEqual(leaked, [], `tokens found in relay output:\n${leaked.map((s) => {
    const i = logs.indexOf(s);
    return logs.slice(Math.max(0, logs.lastIndexOf('\n', i) + 1), logs.indexOf('\n', i) === -1 ? undefined : logs.indexOf('\n', i)).slice(0, 400);
  }).join('\n')}`);
});
