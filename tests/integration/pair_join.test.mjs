// SCENARIOS 11, 12, 74 and RELAY_PROTOCOL §4.2 (check order, long-poll outcomes) + §8 pair decisions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { assertError, assertOk, MSG } from './lib/http.mjs';
import {
  newCreds, pairStart, pairRefresh, connectDesktop, connectPhone, startJoin, joinAndApprove, joinBody,
  b64url, isoIn, PWA_ORIGIN, TOKEN_RE, DEVICE_ID_RE, REQUEST_ID_RE, RFC3339_UTC_RE,
} from './lib/fixture.mjs';
import { sleep } from './lib/relay.mjs';

const notSettled = async (p, ms) => {
  const r = await Promise.race([p.then((x) => ({ done: x })), sleep(ms).then(() => null)]);
  assert.equal(r, null, `join should still be pending, got ${r && r.done && `${r.done.status} ${r.done.text}`}`);
};

async function sessionWithDesktop(relay, creds = newCreds()) {
  await pairStart(relay, creds);
  const { ws } = await connectDesktop(relay, creds.desktopSessionToken);
  return { creds, desktop: ws };
}

describe('/pair/join (PAIR_APPROVAL_TIMEOUT_MS=1000 → effective 5 s)', () => {
  const h = useRelay({ PAIR_APPROVAL_TIMEOUT_MS: '1000' });

  test('S11 join while desktop connected → desktop gets relay.pair_request with requestID; HTTP stays pending', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds, { deviceName: 'Bikram iPhone' });
    const req = await desktop.next(3000);
    assert.equal(req.type, 'relay.pair_request');
    assert.equal(typeof req.requestID, 'string');
    assert.ok(req.requestID.length > 0);
    await notSettled(joinP, 400);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID, approved: false });
    await joinP;
  });

  test('§4.2 relay.pair_request shape: fields, requesterIP, RFC3339 timestamps, timeout = max(5000, …)', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds, { deviceName: '  Bikram iPhone  ' });
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    assert.deepEqual(Object.keys(req).sort(),
      ['deviceName', 'expiresAt', 'requestID', 'requestedAt', 'requesterIP', 'sessionID', 'type']);
    assert.equal(req.sessionID, creds.sessionID);
    assert.match(req.requestID, REQUEST_ID_RE);
    assert.equal(req.deviceName, 'Bikram iPhone', 'deviceName is trimmed');
    assert.equal(req.requesterIP, '127.0.0.1');
    assert.match(req.requestedAt, RFC3339_UTC_RE);
    assert.match(req.expiresAt, RFC3339_UTC_RE);
    const span = Date.parse(req.expiresAt) - Date.parse(req.requestedAt);
    assert.ok(span >= 4900 && span <= 5100, `expiresAt - requestedAt = ${span} ms, expected ~5000`);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID, approved: false });
    assert.equal((await joinP).status, 403);
  });

  test('§4.2 deviceName omitted / blank → no deviceName in pair_request', T, async () => {
    for (const name of [undefined, '   ', null]) {
      const { creds, desktop } = await sessionWithDesktop(h.relay);
      const joinP = startJoin(h.relay, creds, { deviceName: name });
      const req = await desktop.nextOfType('relay.pair_request', 3000);
      assert.ok(!('deviceName' in req), `deviceName ${JSON.stringify(name)} → ${JSON.stringify(req)}`);
      desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID, approved: false });
      await joinP;
      desktop.close();
    }
  });

  test('S12 approve → join 200 with deviceSessionToken, deviceID, wsURL; desktop gets relay.pair_result', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const { join, pairRequest, pairResult } = await joinAndApprove(h.relay, creds, desktop, { deviceName: 'Phone' });
    const body = assertOk(join);
    assert.deepEqual(Object.keys(body).sort(), ['accepted', 'deviceID', 'deviceSessionToken', 'sessionID', 'wsURL']);
    assert.equal(body.sessionID, creds.sessionID);
    assert.match(body.deviceSessionToken, TOKEN_RE);
    assert.match(body.deviceID, DEVICE_ID_RE);
    assert.match(body.wsURL, /^wss?:\/\//);
    assert.deepEqual(pairResult, { type: 'relay.pair_result', sessionID: creds.sessionID, requestID: pairRequest.requestID, approved: true });
  });

  test('S74 pair_request carries sessionID + string requestID; join response carries sessionID, deviceSessionToken, deviceID', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const { join, pairRequest } = await joinAndApprove(h.relay, creds, desktop);
    assert.equal(pairRequest.sessionID, creds.sessionID);
    assert.equal(typeof pairRequest.requestID, 'string');
    assert.equal(join.status, 200, join.text);
    assert.equal(join.body.sessionID, creds.sessionID);
    assert.equal(typeof join.body.deviceSessionToken, 'string');
    assert.equal(typeof join.body.deviceID, 'string');
  });

  test('§4.2 desktop denies → 403 pair_request_denied; pair_result approved:false', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const { join, pairRequest, pairResult } = await joinAndApprove(h.relay, creds, desktop, { approved: false });
    assertError(join, 403, 'pair_request_denied', MSG.denied);
    assert.deepEqual(pairResult, { type: 'relay.pair_result', sessionID: creds.sessionID, requestID: pairRequest.requestID, approved: false });
    // the join token was not consumed by a denied request
    const again = await joinAndApprove(h.relay, creds, desktop);
    assert.equal(again.join.status, 200, again.join.text);
  });

  test('§8 pair_decision without "approved" → denied (403)', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID });
    const res = await desktop.nextOfType('relay.pair_result', 3000);
    assert.equal(res.approved, false);
    assertError(await joinP, 403, 'pair_request_denied', MSG.denied);
  });

  test('§8 pair_result is echoed for an unknown requestID; the pending join is unaffected', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    const bogus = b64url(10);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: bogus, approved: true });
    assert.deepEqual(await desktop.next(2000), { type: 'relay.pair_result', sessionID: creds.sessionID, requestID: bogus, approved: true });
    await notSettled(joinP, 300);
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: true });
    assert.equal((await desktop.nextOfType('relay.pair_result', 2000)).requestID, req.requestID);
    assert.equal((await joinP).status, 200);
  });

  test('§8 pair_decision without requestID is ignored (no reply); mismatched sessionID silently dropped', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, approved: true });
    desktop.send({ type: 'relay.pair_decision', sessionID: b64url(16), requestID: req.requestID, approved: true });
    await desktop.expectNothing(300);
    await notSettled(joinP, 10);
    desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID, approved: false });
    assert.equal((await joinP).status, 403);
  });

  test('§4.2 no decision → 408 pair_request_timed_out after the (min 5 s) timeout', { timeout: 15000 }, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const t0 = Date.now();
    const joinP = startJoin(h.relay, creds);
    await desktop.nextOfType('relay.pair_request', 3000);
    const r = await joinP;
    const dt = Date.now() - t0;
    assertError(r, 408, 'pair_request_timed_out', MSG.timedOut);
    assert.ok(dt >= 4500 && dt < 9000, `timed out after ${dt} ms, expected ~5000`);
    // slot freed: a new join gets a new pair_request
    const joinP2 = startJoin(h.relay, creds);
    const req2 = await desktop.nextOfType('relay.pair_request', 3000);
    desktop.send({ type: 'relay.pair_decision', requestID: req2.requestID, approved: true });
    assert.equal((await joinP2).status, 200);
  });

  test('§4.2 desktop socket closes while pending → 409 desktop_not_connected', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    await desktop.nextOfType('relay.pair_request', 3000);
    desktop.close();
    assertError(await joinP, 409, 'desktop_not_connected', MSG.desktopGone);
  });

  test('§4.2 session stopped while pending → 409 desktop_not_connected', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    await desktop.nextOfType('relay.pair_request', 3000);
    const stop = await h.relay.post('/pair/stop', { sessionID: creds.sessionID, desktopSessionToken: creds.desktopSessionToken });
    assert.equal(stop.status, 200);
    assertError(await joinP, 409, 'desktop_not_connected', MSG.desktopGone);
  });

  test('§4.2 row 11 second join while one is pending → 409 pair_request_in_progress with requestID + expiresAt', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    const r = await startJoin(h.relay, creds);
    assertError(r, 409, 'pair_request_in_progress', MSG.inProgress);
    assert.equal(r.body.requestID, req.requestID);
    assert.equal(typeof r.body.expiresAt, 'string');
    assert.equal(Date.parse(r.body.expiresAt), Date.parse(req.expiresAt));
    await desktop.expectNothing(200);
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: true });
    assert.equal((await joinP).status, 200);
  });

  test('§4.2 row 3 malformed tokens → 400 invalid_pair_join', T, async () => {
    for (const body of [
      { sessionID: 'short', joinToken: b64url(32) },
      { sessionID: b64url(16), joinToken: 'short-token' },
      { sessionID: b64url(16), joinToken: `${b64url(30)}!!` },
    ]) {
      const r = await h.relay.post('/pair/join', body, { origin: PWA_ORIGIN });
      assertError(r, 400, 'invalid_pair_join', MSG.joinTokens);
    }
  });

  test('§4.2 row 5 unknown session → 404 session_not_found', T, async () => {
    const r = await h.relay.post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, { origin: PWA_ORIGIN });
    assertError(r, 404, 'session_not_found', MSG.sessionNotFound);
  });

  test('§4.2 row 6 expired join token → 410 (checked before token mismatch)', T, async () => {
    const c = newCreds({ ttlMs: 1000 });
    await pairStart(h.relay, c);
    await connectDesktop(h.relay, c.desktopSessionToken);
    await sleep(1300);
    assertError(await startJoin(h.relay, c), 410, 'join_token_expired', MSG.joinExpired);
    assertError(await startJoin(h.relay, { ...c, joinToken: b64url(32) }), 410, 'join_token_expired', MSG.joinExpired);
  });

  test('§4.2 rows 7/8 used token → 409 join_token_already_used (before mismatch); wrong token → 403', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    assertError(await startJoin(h.relay, { ...creds, joinToken: b64url(32) }), 403, 'invalid_join_token', MSG.joinInvalid);
    const { join } = await joinAndApprove(h.relay, creds, desktop);
    assert.equal(join.status, 200);
    assertError(await startJoin(h.relay, creds), 409, 'join_token_already_used', MSG.joinUsed);
    assertError(await startJoin(h.relay, { ...creds, joinToken: b64url(32) }), 409, 'join_token_already_used', MSG.joinUsed);
  });

  test('§4.2 row 9 device cap (default 2) → 409 device_cap_reached (checked before desktop presence)', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    assert.equal((await joinAndApprove(h.relay, creds, desktop)).join.status, 200);
    await pairRefresh(h.relay, creds);
    assert.equal((await joinAndApprove(h.relay, creds, desktop)).join.status, 200);
    await pairRefresh(h.relay, creds);
    assertError(await startJoin(h.relay, creds), 409, 'device_cap_reached', MSG.deviceCap(2));
    desktop.close();
    await desktop.waitClose(2000);
    await sleep(100);
    assertError(await startJoin(h.relay, creds), 409, 'device_cap_reached', MSG.deviceCap(2));
  });

  test('§4.2 approved but join token replaced meanwhile (refresh) → 403 invalid_join_token', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    await pairRefresh(h.relay, { ...creds });
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: true });
    assertError(await joinP, 403, 'invalid_join_token', MSG.joinInvalid);
  });

  test('§4.2 approved but join token expired meanwhile → 410 join_token_expired', { timeout: 15000 }, async () => {
    const c = newCreds({ ttlMs: 1500 });
    const { desktop } = await sessionWithDesktop(h.relay, c);
    const joinP = startJoin(h.relay, c);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    await sleep(1800);
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: true });
    assertError(await joinP, 410, 'join_token_expired', MSG.joinExpired);
  });

  test('§4.2 device name trimmed, truncated to 64 scalar values, default "Mobile Device" (via /devices/list)', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const long = `  ${'é'.repeat(30)}${'🙂'.repeat(40)}  `;
    assert.equal((await joinAndApprove(h.relay, creds, desktop, { deviceName: long })).join.status, 200);
    await pairRefresh(h.relay, creds);
    assert.equal((await joinAndApprove(h.relay, creds, desktop)).join.status, 200);
    const list = await h.relay.post('/devices/list', { sessionID: creds.sessionID, desktopSessionToken: creds.desktopSessionToken });
    assert.equal(list.status, 200, list.text);
    const names = list.body.devices.map((d) => d.deviceName);
    assert.deepEqual(names, [`${'é'.repeat(30)}${'🙂'.repeat(34)}`, 'Mobile Device']);
  });

  test('§4.2 join token single use; device token usable immediately for WS auth', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const { join } = await joinAndApprove(h.relay, creds, desktop);
    const phone = await connectPhone(h.relay, join.body.deviceSessionToken);
    assert.equal(phone.authOk.deviceID, join.body.deviceID);
  });
});

describe('/pair/join backpressure (MAX_PENDING_JOIN_WAITERS=1)', () => {
  const h = useRelay({ MAX_PENDING_JOIN_WAITERS: '1' });

  test('§4.2 row 4 pending joins ≥ MAX_PENDING_JOIN_WAITERS → 503 pairing_backpressure (before session lookup)', T, async () => {
    const a = await sessionWithDesktop(h.relay);
    const b = await sessionWithDesktop(h.relay);
    const joinA = startJoin(h.relay, a.creds);
    const reqA = await a.desktop.nextOfType('relay.pair_request', 3000);
    const hz = await h.relay.health();
    assert.equal(hz.pendingJoinWaiters, 1);
    assertError(await startJoin(h.relay, b.creds), 503, 'pairing_backpressure', MSG.backpressure);
    assertError(await h.relay.post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, { origin: PWA_ORIGIN }),
      503, 'pairing_backpressure', MSG.backpressure);
    // malformed tokens (row 3) still come first
    assertError(await h.relay.post('/pair/join', { sessionID: 'short', joinToken: 'x' }, { origin: PWA_ORIGIN }),
      400, 'invalid_pair_join', MSG.joinTokens);
    await b.desktop.expectNothing(100);
    a.desktop.send({ type: 'relay.pair_decision', requestID: reqA.requestID, approved: true });
    assert.equal((await joinA).status, 200);
    assertError(await h.relay.post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, { origin: PWA_ORIGIN }),
      404, 'session_not_found', MSG.sessionNotFound);
    const joinB = await joinAndApprove(h.relay, b.creds, b.desktop);
    assert.equal(joinB.join.status, 200);
  });
});

void isoIn; void joinBody;

describe('/pair/join timeout bounded by the join-token expiry (default PAIR_APPROVAL_TIMEOUT_MS=45000)', () => {
  const h = useRelay();

  test('§4.2 timeout = min(PAIR_APPROVAL_TIMEOUT_MS, joinExpiry − now) when that is above 5 s', T, async () => {
    const c = newCreds({ ttlMs: 8000 });
    const { desktop } = await sessionWithDesktop(h.relay, c);
    const joinP = startJoin(h.relay, c);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    const span = Date.parse(req.expiresAt) - Date.parse(req.requestedAt);
    assert.ok(span > 7000 && span <= 8000, `expiresAt - requestedAt = ${span} ms, expected ~8000 (join expiry)`);
    assert.ok(Math.abs(Date.parse(req.expiresAt) - Date.parse(c.joinTokenExpiresAt)) < 300, `${req.expiresAt} vs ${c.joinTokenExpiresAt}`);
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: false });
    assert.equal((await joinP).status, 403);
  });

  test('§4.2 default timeout is PAIR_APPROVAL_TIMEOUT_MS (45 s) when the join token lives longer', T, async () => {
    const { creds, desktop } = await sessionWithDesktop(h.relay);
    const joinP = startJoin(h.relay, creds);
    const req = await desktop.nextOfType('relay.pair_request', 3000);
    const span = Date.parse(req.expiresAt) - Date.parse(req.requestedAt);
    assert.ok(span >= 44900 && span <= 45100, `expiresAt - requestedAt = ${span} ms, expected ~45000`);
    desktop.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: false });
    assert.equal((await joinP).status, 403);
  });
});
