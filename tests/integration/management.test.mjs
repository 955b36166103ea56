// SCENARIOS §D (22-28) and RELAY_PROTOCOL §4.3-4.6 check order + §16.1 relayWebSocketURL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { assertError, MSG } from './lib/http.mjs';
import {
  newCreds, pairStart, pairRefresh, connectDesktop, connectPhone, startJoin, joinAndApprove, pairedFixture,
  b64url, isoIn, PWA_ORIGIN, RFC3339_UTC_RE,
} from './lib/fixture.mjs';
import { openAndAuth } from './lib/ws.mjs';

const refreshBody = (c, extra = {}) => ({
  schemaVersion: 2, sessionID: c.sessionID, joinToken: b64url(32), desktopSessionToken: c.desktopSessionToken,
  joinTokenExpiresAt: isoIn(120000), ...extra,
});
const desktopBody = (c, extra = {}) => ({ schemaVersion: 2, sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, ...extra });

async function neverAuthOk(relay, token, label) {
  const { ws, first } = await openAndAuth(relay.wsURL, token, { origin: PWA_ORIGIN, label });
  assert.ok(!first || first.type !== 'auth_ok', `${label}: got auth_ok ${JSON.stringify(first)}`);
  if (first) assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
  const ci = await ws.waitClose(3000);
  return { first, ci };
}

describe('stop / refresh / devices', () => {
  const h = useRelay();

  test('S22 pair/stop (schemaVersion 2) → 200; later pair/join for that session → 404', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const r = await h.relay.post('/pair/stop', desktopBody(c));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { accepted: true, sessionID: c.sessionID });
    assertError(await startJoin(h.relay, c), 404, 'session_not_found', MSG.sessionNotFound);
  });

  test('S23 pair/stop (no schemaVersion) with a connected phone → disconnect stopped_by_desktop; rotated token never auth_ok', T, async () => {
    const fx = await pairedFixture(h.relay);
    const r = await h.relay.post('/pair/stop', { sessionID: fx.creds.sessionID, desktopSessionToken: fx.creds.desktopSessionToken });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await fx.phone.next(2000), { type: 'disconnect', reason: 'stopped_by_desktop' });
    assert.deepEqual(await fx.desktop.next(2000), { type: 'disconnect', reason: 'stopped_by_desktop' });
    await fx.phone.waitClose(2000);
    await fx.desktop.waitClose(2000);
    await neverAuthOk(h.relay, fx.rotatedToken, 'phone-after-stop');
  });

  test('S24 after pair/stop desktop auth with the old token → disconnect session_expired then Close 1008', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws: d } = await connectDesktop(h.relay, c.desktopSessionToken);
    assert.equal((await h.relay.post('/pair/stop', desktopBody(c))).status, 200);
    await d.waitClose(2000);
    const { ws, first } = await openAndAuth(h.relay.wsURL, c.desktopSessionToken, { label: 'desktop2' });
    assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
    const ci = await ws.waitClose(3000);
    assert.equal(ci.code, 1008);
    assert.equal(ci.reason, 'session_expired');
  });

  test('S25 pair/refresh → 200; join with old token → 403; join with new token → pair_request, approval → 200', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws: desktop } = await connectDesktop(h.relay, c.desktopSessionToken);
    const oldToken = c.joinToken;
    const body = refreshBody(c);
    const r = await h.relay.post('/pair/refresh', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, true);
    assert.equal(r.body.sessionID, c.sessionID);
    assert.equal(typeof r.body.wsURL, 'string');
    assertError(await startJoin(h.relay, { ...c, joinToken: oldToken }), 403, 'invalid_join_token', MSG.joinInvalid);
    await desktop.expectNothing(100);
    const { join } = await joinAndApprove(h.relay, { ...c, joinToken: body.joinToken }, desktop);
    assert.equal(join.status, 200, join.text);
    assert.ok(desktop.isOpen, 'desktop socket survives refresh');
  });

  test('§4.3 refresh clears the used mark; wsURL returned is the stored one', T, async () => {
    const c = newCreds();
    const start = await pairStart(h.relay, c, { relayWebSocketURL: 'wss://custom.example/ws' });
    assert.equal(start.wsURL, 'wss://custom.example/ws');
    const { ws: desktop } = await connectDesktop(h.relay, c.desktopSessionToken);
    assert.equal((await joinAndApprove(h.relay, c, desktop)).join.status, 200);
    assertError(await startJoin(h.relay, c), 409, 'join_token_already_used', MSG.joinUsed);
    const r = await pairRefresh(h.relay, c);
    assert.equal(r.wsURL, 'wss://custom.example/ws');
    assert.equal((await joinAndApprove(h.relay, c, desktop)).join.status, 200);
  });

  test('§4.3 /pair/refresh check-order rows 4-8', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    for (const bad of [{ sessionID: 'short' }, { joinToken: 'short' }, { desktopSessionToken: 'nope nope nope nope nope' }]) {
      assertError(await h.relay.post('/pair/refresh', refreshBody(c, bad)), 400, 'invalid_pair_refresh', MSG.refreshTokens);
    }
    assertError(await h.relay.post('/pair/refresh', refreshBody(c, { sessionID: 'short', joinTokenExpiresAt: 'x' })), 400, 'invalid_pair_refresh', MSG.refreshTokens);
    assertError(await h.relay.post('/pair/refresh', refreshBody(c, { joinTokenExpiresAt: 'yesterday' })), 400, 'invalid_pair_refresh', MSG.refreshExpiry);
    assertError(await h.relay.post('/pair/refresh', refreshBody(c, { joinTokenExpiresAt: isoIn(-5000) })), 400, 'expired_join_token', MSG.expiredJoin);
    assertError(await h.relay.post('/pair/refresh', refreshBody({ ...c, sessionID: b64url(16) })), 404, 'session_not_found', MSG.sessionNotFound);
    assertError(await h.relay.post('/pair/refresh', refreshBody({ ...c, desktopSessionToken: b64url(32) })), 403, 'invalid_desktop_session_token', MSG.badDesktopToken);
    // row 6 (expiry) before row 7 (unknown session)
    assertError(await h.relay.post('/pair/refresh', refreshBody({ ...c, sessionID: b64url(16) }, { joinTokenExpiresAt: isoIn(-5000) })), 400, 'expired_join_token', MSG.expiredJoin);
    assertError(await h.relay.post('/pair/refresh', refreshBody(c, { schemaVersion: 7 })), 400, 'unsupported_schema_version', MSG.schema);
  });

  test('§4.4 /pair/stop check-order: malformed 400, token mismatch 403, unknown session 200 (idempotent)', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    assertError(await h.relay.post('/pair/stop', desktopBody(c, { sessionID: 'short' })), 400, 'invalid_pair_stop', MSG.stopTokens);
    assertError(await h.relay.post('/pair/stop', desktopBody(c, { desktopSessionToken: 'short' })), 400, 'invalid_pair_stop', MSG.stopTokens);
    assertError(await h.relay.post('/pair/stop', desktopBody({ ...c, desktopSessionToken: b64url(32) })), 403, 'invalid_desktop_session_token', MSG.badDesktopToken);
    const unknown = newCreds();
    const r = await h.relay.post('/pair/stop', desktopBody(unknown));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { accepted: true, sessionID: unknown.sessionID });
    assert.equal((await h.relay.post('/pair/stop', desktopBody(c))).status, 200);
    assert.equal((await h.relay.post('/pair/stop', desktopBody(c))).status, 200, 'second stop is idempotent');
  });

  test('§4.5 /devices/list errors: malformed 400, unknown 404, token mismatch 403', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    assertError(await h.relay.post('/devices/list', desktopBody(c, { sessionID: 'short' })), 400, 'invalid_devices_list', MSG.listTokens);
    assertError(await h.relay.post('/devices/list', desktopBody(c, { desktopSessionToken: 'x' })), 400, 'invalid_devices_list', MSG.listTokens);
    assertError(await h.relay.post('/devices/list', desktopBody({ ...c, sessionID: b64url(16) })), 404, 'session_not_found', MSG.sessionNotFound);
    assertError(await h.relay.post('/devices/list', desktopBody({ ...c, desktopSessionToken: b64url(32) })), 403, 'invalid_desktop_session_token', MSG.badDesktopToken);
    const ok = await h.relay.post('/devices/list', desktopBody(c));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body, { accepted: true, sessionID: c.sessionID, devices: [] });
  });

  test('§4.6 /devices/revoke errors: malformed 400, unknown session 404, mismatch 403, unknown device 404', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const body = (x = {}) => desktopBody(c, { deviceID: b64url(12), ...x });
    assertError(await h.relay.post('/devices/revoke', body({ deviceID: 'short' })), 400, 'invalid_device_revoke', MSG.revokeTokens);
    assertError(await h.relay.post('/devices/revoke', body({ sessionID: 'short' })), 400, 'invalid_device_revoke', MSG.revokeTokens);
    assertError(await h.relay.post('/devices/revoke', body({ desktopSessionToken: 'short' })), 400, 'invalid_device_revoke', MSG.revokeTokens);
    assertError(await h.relay.post('/devices/revoke', body({ sessionID: b64url(16) })), 404, 'session_not_found', MSG.sessionNotFound);
    assertError(await h.relay.post('/devices/revoke', body({ desktopSessionToken: b64url(32) })), 403, 'invalid_desktop_session_token', MSG.badDesktopToken);
    assertError(await h.relay.post('/devices/revoke', body()), 404, 'device_not_found', MSG.deviceNotFound);
  });

  test('S27 /devices/list (no Origin) after pairing "Bikram iPhone" → exactly that device', T, async () => {
    const fx = await pairedFixture(h.relay, { deviceName: 'Bikram iPhone' });
    const r = await h.relay.post('/devices/list', desktopBody(fx.creds));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, true);
    assert.equal(r.body.sessionID, fx.creds.sessionID);
    assert.equal(r.body.devices.length, 1);
    const d = r.body.devices[0];
    assert.equal(d.deviceID, fx.deviceID);
    assert.equal(d.deviceName, 'Bikram iPhone');
    assert.equal(d.connected, true);
    assert.match(d.joinedAt, RFC3339_UTC_RE);
    assert.match(d.lastSeenAt, RFC3339_UTC_RE);
    assert.ok(Date.parse(d.lastSeenAt) >= Date.parse(d.joinedAt));
    fx.phone.close();
    await fx.phone.waitClose(2000);
    await fx.desktop.nextOfType('relay.device_count', 2000);
    const r2 = await h.relay.post('/devices/list', desktopBody(fx.creds));
    assert.equal(r2.body.devices[0].connected, false);
  });

  test('S28 /devices/revoke → 200; phone gets disconnect device_revoked; list empty; rotated token never auth_ok', T, async () => {
    const fx = await pairedFixture(h.relay, { deviceName: 'Bikram iPhone' });
    const r = await h.relay.post('/devices/revoke', desktopBody(fx.creds, { deviceID: fx.deviceID }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { accepted: true, sessionID: fx.creds.sessionID, deviceID: fx.deviceID });
    assert.deepEqual(await fx.phone.next(2000), { type: 'disconnect', reason: 'device_revoked' });
    await fx.phone.waitClose(2000);
    const dc = await fx.desktop.nextOfType('relay.device_count', 2000);
    assert.deepEqual(dc, { type: 'relay.device_count', sessionID: fx.creds.sessionID, connectedDeviceCount: 0 });
    const list = await h.relay.post('/devices/list', desktopBody(fx.creds));
    assert.deepEqual(list.body.devices, []);
    await neverAuthOk(h.relay, fx.rotatedToken, 'revoked-rotated');
    await neverAuthOk(h.relay, fx.joinToken, 'revoked-original');
  });

  test('§4.6 revoke frees a device slot but does not reset the join token', T, async () => {
    const fx = await pairedFixture(h.relay);
    assert.equal((await h.relay.post('/devices/revoke', desktopBody(fx.creds, { deviceID: fx.deviceID }))).status, 200);
    assertError(await startJoin(h.relay, fx.creds), 409, 'join_token_already_used', MSG.joinUsed);
    await pairRefresh(h.relay, fx.creds);
    await fx.desktop.drain(100);
    assert.equal((await joinAndApprove(h.relay, fx.creds, fx.desktop)).join.status, 200);
  });

  test('§16.1 refresh/stop/devices accept and ignore relayWebSocketURL; other unknown fields → 422', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const url = { relayWebSocketURL: 'wss://relay.example/ws' };
    assert.equal((await h.relay.post('/pair/refresh', refreshBody(c, url))).status, 200);
    assert.equal((await h.relay.post('/devices/list', desktopBody(c, url))).status, 200);
    assertError(await h.relay.post('/devices/revoke', desktopBody(c, { ...url, deviceID: b64url(12) })), 404, 'device_not_found', MSG.deviceNotFound);
    assert.equal((await h.relay.post('/pair/refresh', refreshBody(c, { bogus: 1 }))).status, 422);
    assert.equal((await h.relay.post('/devices/list', desktopBody(c, { bogus: 1 }))).status, 422);
    assert.equal((await h.relay.post('/devices/revoke', desktopBody(c, { deviceID: b64url(12), bogus: 1 }))).status, 422);
    assert.equal((await h.relay.post('/pair/stop', desktopBody(c, { bogus: 1 }))).status, 422);
    assert.equal((await h.relay.post('/pair/stop', desktopBody(c, url))).status, 200);
  });

  test('§4.5 lastSeenAt is updated at each successful mobile WS auth (joinedAt unchanged)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const l1 = (await h.relay.post('/devices/list', desktopBody(fx.creds))).body.devices[0];
    await new Promise((r) => setTimeout(r, 30));
    await connectPhone(h.relay, fx.rotatedToken, { label: 'phone-again' });
    const l2 = (await h.relay.post('/devices/list', desktopBody(fx.creds))).body.devices[0];
    assert.equal(l2.joinedAt, l1.joinedAt);
    assert.ok(Date.parse(l2.lastSeenAt) > Date.parse(l1.lastSeenAt), `${l1.lastSeenAt} → ${l2.lastSeenAt}`);
    assert.equal(l2.connected, true);
  });

  test('§4.5 devices sorted by joinedAt; connected reflects live sockets', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws: desktop } = await connectDesktop(h.relay, c.desktopSessionToken);
    const first = (await joinAndApprove(h.relay, c, desktop, { deviceName: 'First' })).join.body;
    await pairRefresh(h.relay, c);
    const second = (await joinAndApprove(h.relay, c, desktop, { deviceName: 'Second' })).join.body;
    const r = await h.relay.post('/devices/list', desktopBody(c));
    assert.deepEqual(r.body.devices.map((d) => [d.deviceID, d.deviceName, d.connected]),
      [[first.deviceID, 'First', false], [second.deviceID, 'Second', false]]);
  });
});
