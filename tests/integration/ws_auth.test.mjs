// SCENARIOS 10, 13, 19-21, 75, 77, 80, 82 and RELAY_PROTOCOL §6 (auth handshake, failures, rotation).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { useRelay, T } from './lib/setup.mjs';
import { WsClient, openAndAuth, assertDropped, PWA_ORIGIN } from './lib/ws.mjs';
import {
  newCreds, pairStart, connectDesktop, connectPhone, joinAndApprove, pairedFixture, command, threadSelect,
  assertForwarded, b64url, EVIL_ORIGIN, TOKEN_RE,
} from './lib/fixture.mjs';
import { sleep, waitFor } from './lib/relay.mjs';

const AUTH_TIMEOUT = 800;

async function reasonsDelta(relay, before) {
  const m = await relay.metrics();
  const out = {};
  for (const [k, v] of Object.entries(m.wsAuthFailureReasons || {})) {
    const d = v - ((before && before[k]) || 0);
    if (d) out[k] = d;
  }
  return { m, delta: out };
}

async function expectSessionExpired(relay, token, origin = PWA_ORIGIN) {
  const { ws, first } = await openAndAuth(relay.wsURL, token, { origin, label: 'stale' });
  assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
  const ci = await ws.waitClose(3000);
  assert.equal(ci.code, 1008, `close ${ci.code} ${ci.reason}`);
  assert.equal(ci.reason, 'session_expired');
}

describe(`auth (WS_AUTH_TIMEOUT_MS=${AUTH_TIMEOUT}, default grace)`, () => {
  const h = useRelay({ WS_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT) });

  test('S10 desktop relay.auth → first frame auth_ok role desktop, desktopConnected true (no deviceID / token fields)', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { authOk } = await connectDesktop(h.relay, c.desktopSessionToken);
    assert.deepEqual(authOk, { type: 'auth_ok', role: 'desktop', sessionID: c.sessionID, connectedDeviceCount: 0, desktopConnected: true });
  });

  test('S13 phone relay.auth with join token → auth_ok mobile, desktopConnected true, non-empty nextDeviceSessionToken', T, async () => {
    const fx = await pairedFixture(h.relay);
    assert.deepEqual(Object.keys(fx.phoneAuthOk).sort(),
      ['connectedDeviceCount', 'desktopConnected', 'deviceID', 'nextDeviceSessionToken', 'role', 'sessionID', 'type']);
    assert.equal(fx.phoneAuthOk.role, 'mobile');
    assert.equal(fx.phoneAuthOk.sessionID, fx.creds.sessionID);
    assert.equal(fx.phoneAuthOk.desktopConnected, true);
    assert.equal(fx.phoneAuthOk.connectedDeviceCount, 1);
    assert.match(fx.phoneAuthOk.nextDeviceSessionToken, TOKEN_RE);
    assert.deepEqual(fx.deviceCount, { type: 'relay.device_count', sessionID: fx.creds.sessionID, connectedDeviceCount: 1 });
    await fx.phone.expectNothing(250); // no relay.desktop_status right after auth_ok
  });

  test('S75 mobile auth_ok deviceID equals the join deviceID; nextDeviceSessionToken differs from the presented token', T, async () => {
    const fx = await pairedFixture(h.relay);
    assert.equal(fx.phoneAuthOk.deviceID, fx.deviceID);
    assert.notEqual(fx.phoneAuthOk.nextDeviceSessionToken, fx.joinToken);
  });

  test('§6.2 desktop auth reports connectedDeviceCount of live mobiles', T, async () => {
    const fx = await pairedFixture(h.relay);
    const d2 = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    assert.equal(d2.authOk.connectedDeviceCount, 1);
  });

  test('S19 both sockets closed, phone reconnects with rotated token while desktop offline → auth_ok desktopConnected false + new token', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close(); fx.desktop.close();
    await fx.phone.waitClose(2000); await fx.desktop.waitClose(2000);
    await sleep(100);
    const p = await connectPhone(h.relay, fx.rotatedToken);
    assert.equal(p.authOk.role, 'mobile');
    assert.equal(p.authOk.desktopConnected, false);
    assert.match(p.authOk.nextDeviceSessionToken, TOKEN_RE);
    assert.notEqual(p.authOk.nextDeviceSessionToken, fx.rotatedToken);
    assert.equal(p.authOk.deviceID, fx.deviceID);
  });

  test('S80 trusted phone re-auths with rotated token ~120 ms after both sockets closed → auth_ok, desktopConnected false, new token', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close(); fx.desktop.close();
    await Promise.all([fx.phone.waitClose(2000), fx.desktop.waitClose(2000)]);
    await sleep(120);
    const p = await connectPhone(h.relay, fx.rotatedToken);
    assert.equal(p.authOk.desktopConnected, false);
    assert.ok(p.authOk.nextDeviceSessionToken && p.authOk.nextDeviceSessionToken !== fx.rotatedToken);
  });

  test('§6.3 rotation with grace: previous tokens stay valid inside TOKEN_ROTATION_GRACE_MS; every auth rotates again', T, async () => {
    const fx = await pairedFixture(h.relay);
    const k1 = fx.joinToken; const k2 = fx.rotatedToken;
    const a = await connectPhone(h.relay, k1, { label: 'grace-k1' }); // k1 is a grace token
    assert.equal(a.authOk.deviceID, fx.deviceID);
    const k3 = a.authOk.nextDeviceSessionToken;
    assert.ok(![k1, k2].includes(k3));
    const b = await connectPhone(h.relay, k2, { label: 'grace-k2' });
    const k4 = b.authOk.nextDeviceSessionToken;
    const c = await connectPhone(h.relay, k3, { label: 'grace-k3' });
    assert.ok(c.authOk.nextDeviceSessionToken !== k4);
    const hz = await h.relay.health();
    assert.ok(hz.deviceTokens >= 5, `deviceTokens counts current + grace tokens: ${hz.deviceTokens}`);
  });

  test('§6.3 same device on a new socket → old socket gets disconnect device_reconnected; desktop gets device_count', T, async () => {
    const fx = await pairedFixture(h.relay);
    const p2 = await connectPhone(h.relay, fx.rotatedToken, { label: 'phone2' });
    assert.equal(p2.authOk.connectedDeviceCount, 1);
    assert.deepEqual(await fx.phone.next(2000), { type: 'disconnect', reason: 'device_reconnected' });
    const ci = await fx.phone.waitClose(2000);
    assert.notEqual(ci.code, 1008);
    const dc = await fx.desktop.nextOfType('relay.device_count', 2000);
    assert.equal(dc.sessionID, fx.creds.sessionID);
    // the new socket is the live one
    const cmd = command(fx.creds.sessionID, 1, threadSelect('t-1'));
    p2.ws.send(cmd);
    assertForwarded(await fx.desktop.nextSkipping(['relay.device_count'], 2000), cmd, fx.deviceID);
  });

  test('§6.2 second desktop auth → old desktop gets disconnect desktop_reconnected; phones get desktop_status true', T, async () => {
    const fx = await pairedFixture(h.relay);
    const d2 = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    assert.equal(d2.authOk.connectedDeviceCount, 1);
    assert.deepEqual(await fx.desktop.next(2000), { type: 'disconnect', reason: 'desktop_reconnected' });
    const ci = await fx.desktop.waitClose(2000);
    assert.notEqual(ci.code, 1008);
    assert.deepEqual(await fx.phone.next(2000), { type: 'relay.desktop_status', sessionID: fx.creds.sessionID, desktopConnected: true });
  });

  test('§16.3 after a desktop reconnect the new desktop keeps the slot (no spurious desktop_status false)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const d2 = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    await fx.desktop.waitClose(2000);
    await fx.phone.nextOfType('relay.desktop_status', 2000);
    await sleep(200);
    const cmd = command(fx.creds.sessionID, 1, threadSelect('t-2'));
    fx.phone.send(cmd);
    assertForwarded(await d2.ws.next(2000), cmd, fx.deviceID);
    const rest = (await fx.phone.drain(100)).map((t) => JSON.parse(t));
    assert.ok(!rest.some((m) => m.type === 'relay.desktop_status' && m.desktopConnected === false), JSON.stringify(rest));
    d2.ws.send('{"type":"ping-from-desktop2"}');
    assert.equal(await fx.phone.nextRaw(2000), '{"type":"ping-from-desktop2"}');
  });

  test('§6.1 extra fields in relay.auth are ignored', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const ws = await WsClient.connect(h.relay.wsURL);
    ws.send({ type: 'relay.auth', token: c.desktopSessionToken, extra: { a: 1 }, sessionID: 'whatever' });
    assert.equal((await ws.next(2000)).type, 'auth_ok');
  });

  test('§6.4 no first frame within WS_AUTH_TIMEOUT_MS → text {} then dropped (auth_timeout_or_missing_payload)', T, async () => {
    const before = (await h.relay.metrics()).wsAuthFailureReasons;
    const ws = await WsClient.connect(h.relay.wsURL);
    const t0 = Date.now();
    assert.equal(await ws.nextRaw(AUTH_TIMEOUT + 3000), '{}');
    const dt = Date.now() - t0;
    assert.ok(dt >= AUTH_TIMEOUT - 100, `{} after ${dt} ms`);
    assertDropped(await ws.waitClose(2000));
    const { delta } = await reasonsDelta(h.relay, before);
    assert.deepEqual(delta, { auth_timeout_or_missing_payload: 1 });
  });

  test('§6.4 unparsable / binary / token-less first frame → text {} then dropped', T, async () => {
    const before = (await h.relay.metrics()).wsAuthFailureReasons;
    const frames = ['hello', Buffer.from([1, 2, 3]), '{"type":"relay.auth"}', '{"type":"relay.auth","token":42}', '[]'];
    for (const f of frames) {
      const ws = await WsClient.connect(h.relay.wsURL, { label: `frame ${f}` });
      if (Buffer.isBuffer(f)) ws.sendBinary(f); else ws.send(f);
      assert.equal(await ws.nextRaw(AUTH_TIMEOUT + 3000), '{}', `frame ${f}`);
      assertDropped(await ws.waitClose(2000), `frame ${f}`);
      assert.equal(ws.queue.length, 0);
    }
    const { delta } = await reasonsDelta(h.relay, before);
    assert.deepEqual(delta, { auth_timeout_or_missing_payload: frames.length });
  });

  test('§6.4 invalid auth payload (wrong type / short token) → dropped, nothing sent (invalid_auth_payload)', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const before = (await h.relay.metrics()).wsAuthFailureReasons;
    for (const frame of [
      { type: 'auth', token: c.desktopSessionToken },
      { type: 'relay.auth', token: 'too-short' },
      { type: 'relay.auth', token: `${c.desktopSessionToken.slice(0, 30)} !!` },
    ]) {
      const ws = await WsClient.connect(h.relay.wsURL);
      ws.send(frame);
      const ci = await ws.waitClose(AUTH_TIMEOUT + 3000);
      assertDropped(ci, JSON.stringify(frame));
      assert.equal(ws.queue.length, 0, `nothing sent for ${JSON.stringify(frame)}: ${JSON.stringify(ws.queue)}`);
    }
    const { delta } = await reasonsDelta(h.relay, before);
    assert.deepEqual(delta, { invalid_auth_payload: 3 });
  });

  test('§5 legacy ?token= auth is off by default (the socket still waits for relay.auth)', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const ws = await WsClient.connect(`${h.relay.wsURL}?token=${c.desktopSessionToken}`);
    assert.equal(await ws.nextRaw(AUTH_TIMEOUT + 3000), '{}');
    assertDropped(await ws.waitClose(2000));
  });

  test('§6.4 mobile with disallowed / missing Origin → dropped silently (mobile_origin_not_allowed); desktop never origin-checked', T, async () => {
    const fx = await pairedFixture(h.relay);
    const before = (await h.relay.metrics()).wsAuthFailureReasons;
    for (const origin of [EVIL_ORIGIN, undefined]) {
      const ws = await WsClient.connect(h.relay.wsURL, { origin });
      ws.send({ type: 'relay.auth', token: fx.rotatedToken });
      assertDropped(await ws.waitClose(3000), `origin ${origin}`);
      assert.equal(ws.queue.length, 0, `nothing sent (origin ${origin})`);
    }
    const { delta } = await reasonsDelta(h.relay, before);
    assert.deepEqual(delta, { mobile_origin_not_allowed: 2 });
    await fx.desktop.expectNothing(100);
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { origin: EVIL_ORIGIN, label: 'evil-desktop' });
    assert.equal(d.authOk.role, 'desktop');
  });

  test('§6.4 stale desktop token after session replaced → session_expired + Close 1008', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    await pairStart(h.relay, { ...newCreds(), sessionID: c.sessionID });
    await expectSessionExpired(h.relay, c.desktopSessionToken);
  });
});

describe('TOKEN_ROTATION_GRACE_MS=0', () => {
  const h = useRelay({ TOKEN_ROTATION_GRACE_MS: '0' });

  test('S20 reconnect with the original (rotated) device token → disconnect session_expired then Close 1008', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close();
    await fx.phone.waitClose(2000);
    await expectSessionExpired(h.relay, fx.joinToken);
    const p = await connectPhone(h.relay, fx.rotatedToken);
    assert.equal(p.authOk.role, 'mobile');
  });

  test('§6.3 origin rejection happens before rotation (token still valid afterwards)', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close();
    await fx.phone.waitClose(2000);
    const ws = await WsClient.connect(h.relay.wsURL, { origin: EVIL_ORIGIN });
    ws.send({ type: 'relay.auth', token: fx.rotatedToken });
    assertDropped(await ws.waitClose(3000));
    const p = await connectPhone(h.relay, fx.rotatedToken);
    assert.equal(p.authOk.deviceID, fx.deviceID);
  });
});

describe('TOKEN_ROTATION_GRACE_MS=120', () => {
  const h = useRelay({ TOKEN_ROTATION_GRACE_MS: '120' });

  test('S77 after the phone closes and ~180 ms pass, the first token is refused with 1008; the rotated one → auth_ok with another new token', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close();
    await fx.phone.waitClose(2000);
    await sleep(180);
    await expectSessionExpired(h.relay, fx.joinToken);
    const p = await connectPhone(h.relay, fx.rotatedToken);
    assert.ok(p.authOk.nextDeviceSessionToken);
    assert.notEqual(p.authOk.nextDeviceSessionToken, fx.rotatedToken);
    assert.notEqual(p.authOk.nextDeviceSessionToken, fx.joinToken);
  });

  test('S82 compatibility booleans (pair, auth, rotation, spoof replacement, runtime_request.respond, grace expiry)', T, async () => {
    const c = newCreds();
    const start = await h.relay.post('/pair/start', { schemaVersion: 2, ...c, idleTimeoutSeconds: 1800 });
    const desktop = await connectDesktop(h.relay, c.desktopSessionToken);
    const { join, pairRequest } = await joinAndApprove(h.relay, c, desktop.ws, { deviceName: 'Compat' });
    const phone = await connectPhone(h.relay, join.body.deviceSessionToken);
    await desktop.ws.nextOfType('relay.device_count', 2000);
    const spoofed = command(c.sessionID, 1, threadSelect('t-compat'), { relayConnectionID: 'spoofed-connection', relayDeviceID: 'spoofed-device' });
    phone.ws.send(spoofed);
    const fwd = await desktop.ws.next(2000);
    const rr = command(c.sessionID, 2, {
      name: 'runtime_request.respond', commandID: 'rr-compat', runtimeRequestID: '7', runtimeRequestKind: 'userInput',
      runtimeRequestResponse: { text: 'Use the safer path.', optionID: 'choice-b' },
    });
    phone.ws.send(rr);
    const fwdRR = await desktop.ws.next(2000);
    phone.ws.close();
    await phone.ws.waitClose(2000);
    await sleep(180);
    const { ws: staleWs, first: staleFirst } = await openAndAuth(h.relay.wsURL, join.body.deviceSessionToken, { origin: PWA_ORIGIN });
    const staleClose = await staleWs.waitClose(3000);
    const again = await connectPhone(h.relay, phone.authOk.nextDeviceSessionToken, { label: 'phone-again' });
    const booleans = {
      pairStart200: start.status === 200,
      desktopAuthOkDesktop: desktop.authOk.role === 'desktop',
      pairRequestSessionMatches: pairRequest.sessionID === c.sessionID,
      join200: join.status === 200,
      joinDeviceID: typeof join.body.deviceID === 'string' && join.body.deviceID.length > 0,
      joinToken: typeof join.body.deviceSessionToken === 'string' && join.body.deviceSessionToken.length > 0,
      mobileAuthOkMobile: phone.authOk.role === 'mobile',
      rotatedTokenIssuedAndDifferent: !!phone.authOk.nextDeviceSessionToken && phone.authOk.nextDeviceSessionToken !== join.body.deviceSessionToken,
      spoofedConnectionReplaced: typeof fwd.relayConnectionID === 'string' && fwd.relayConnectionID !== 'spoofed-connection',
      spoofedDeviceReplacedByReal: fwd.relayDeviceID === join.body.deviceID,
      runtimeRespondForwardedIntact: isDeepStrictEqual(fwdRR.payload, rr.payload), // key order may change (§9.3 step 5)
      firstTokenRejectedAfterGrace: staleFirst?.type === 'disconnect' && staleClose.code === 1008,
      rotatedTokenAccepted: again.authOk.role === 'mobile',
    };
    assert.deepEqual(booleans, Object.fromEntries(Object.keys(booleans).map((k) => [k, true])));
  });
});

describe('MAX_ACTIVE_WEBSOCKET_CONNECTIONS=1', () => {
  const h = useRelay({ MAX_ACTIVE_WEBSOCKET_CONNECTIONS: '1' });

  test('S21 with a desktop connected, a phone relay.auth is refused (relay_over_capacity); outboundSendFailures stays 0', T, async () => {
    // pair a device first (one socket: desktop), then try the phone
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws: desktop } = await connectDesktop(h.relay, c.desktopSessionToken);
    const { join } = await joinAndApprove(h.relay, c, desktop);
    assert.equal(join.status, 200);
    const { ws, first } = await openAndAuth(h.relay.wsURL, join.body.deviceSessionToken, { origin: PWA_ORIGIN });
    if (first) assert.deepEqual(first, { type: 'disconnect', reason: 'relay_over_capacity' });
    const ci = await ws.waitClose(3000);
    assert.notEqual(ci.code, 1008, 'capacity refusal is transient (not 1008)');
    const m = await h.relay.metrics();
    assert.equal(m.outboundSendFailures, 0);
    assert.equal(m.wsAuthFailureReasons.relay_over_capacity, 1, JSON.stringify(m.wsAuthFailureReasons));
    assert.equal(m.activeWebSockets, 1);
  });

  test('§6.4 same-role reconnect is exempt from the cap; a bad token yields session_expired, not relay_over_capacity', T, async () => {
    await waitFor(async () => (await h.relay.metrics()).activeWebSockets === 0, { what: 'previous sockets released' });
    const c = newCreds();
    await pairStart(h.relay, c);
    const d1 = await connectDesktop(h.relay, c.desktopSessionToken, { label: 'd1' });
    const d2 = await connectDesktop(h.relay, c.desktopSessionToken, { label: 'd2' });
    assert.equal(d2.authOk.role, 'desktop');
    await d1.ws.waitClose(2000);
    await expectSessionExpired(h.relay, b64url(32));
  });
});

describe('ALLOW_LEGACY_QUERY_TOKEN_AUTH=true', () => {
  const h = useRelay({ ALLOW_LEGACY_QUERY_TOKEN_AUTH: 'true' });

  test('§5 legacy /ws?token=… authenticates without a relay.auth frame', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const ws = await WsClient.connect(`${h.relay.wsURL}?token=${c.desktopSessionToken}`, { label: 'legacy-desktop' });
    assert.deepEqual(await ws.next(2000), { type: 'auth_ok', role: 'desktop', sessionID: c.sessionID, connectedDeviceCount: 0, desktopConnected: true });
    const stale = await WsClient.connect(`${h.relay.wsURL}?token=${b64url(32)}`, { label: 'legacy-stale' });
    assert.deepEqual(await stale.next(2000), { type: 'disconnect', reason: 'session_expired' });
    assert.equal((await stale.waitClose(3000)).code, 1008);
  });
});
