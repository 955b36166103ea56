// SCENARIOS §B (5, 6) and RELAY_PROTOCOL §4.1 check order / effects.
import { describe, test, before, after } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { useRelay, T, ROOMY } from './lib/setup.mjs';
import { startRelay } from './lib/relay.mjs';
import { assertError, MSG } from './lib/http.mjs';
import {
  newCreds, startBody, pairStart, connectDesktop, pairedFixture, joinBody, b64url, isoIn, PWA_ORIGIN,
} from './lib/fixture.mjs';
import { openAndAuth } from './lib/ws.mjs';

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

describe('/pair/start', () => {
  const h = useRelay();

  test('S5 pair/start then pair/join with no desktop socket → 409 desktop_not_connected', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const r = await h.relay.post('/pair/join', joinBody(c, 'Phone'), { origin: PWA_ORIGIN });
    assertError(r, 409, 'desktop_not_connected', MSG.desktopNotConnected);
  });

  test('S6 second pair/start for an active session with a different desktop token → 409 session_already_active', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken);
    const r = await h.relay.post('/pair/start', startBody({ ...c, desktopSessionToken: b64url(32) }));
    assertError(r, 409, 'session_already_active', MSG.sessionActive);
    await ws.expectNothing(250);
  });

  test('§4.1 row 7 session with only a trusted device (no sockets) + different desktop token → 409 session_already_active', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close(); fx.desktop.close();
    await Promise.all([fx.phone.waitClose(2000), fx.desktop.waitClose(2000)]);
    const r = await h.relay.post('/pair/start', startBody({ ...fx.creds, desktopSessionToken: b64url(32) }));
    assertError(r, 409, 'session_already_active', MSG.sessionActive);
    // row 7 comes after the token/expiry checks
    const r2 = await h.relay.post('/pair/start', startBody({ ...fx.creds, desktopSessionToken: b64url(32) }, { joinTokenExpiresAt: isoIn(-1000) }));
    assertError(r2, 400, 'expired_join_token', MSG.expiredJoin);
  });

  test('§4.1 row 4 malformed tokens → 400 invalid_pair_start', T, async () => {
    const c = newCreds();
    const bad = [
      { sessionID: 'short' },
      { sessionID: 'has space in it 1234' },
      { joinToken: 'tooShortJoinToken' },
      { desktopSessionToken: 'bad*chars*in*this*token*xxxxxx' },
      { sessionID: 'x'.repeat(513) },
    ];
    for (const b of bad) {
      const r = await h.relay.post('/pair/start', startBody(c, b));
      assertError(r, 400, 'invalid_pair_start', MSG.startTokens);
    }
    // row 4 before row 5
    const r = await h.relay.post('/pair/start', startBody(c, { sessionID: 'short', joinTokenExpiresAt: 'nope' }));
    assertError(r, 400, 'invalid_pair_start', MSG.startTokens);
  });

  test('§4.1 row 5 non-RFC3339 expiry → 400 invalid_pair_start', T, async () => {
    for (const e of ['tomorrow', '2030-01-01', '']) {
      const r = await h.relay.post('/pair/start', startBody(newCreds(), { joinTokenExpiresAt: e }));
      assertError(r, 400, 'invalid_pair_start', MSG.startExpiry);
    }
  });

  test('§4.1 row 6 expiry in the past → 400 expired_join_token; any RFC3339 offset accepted', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds(), { joinTokenExpiresAt: new Date(Date.now() - 1000).toISOString() }));
    assertError(r, 400, 'expired_join_token', MSG.expiredJoin);
    // same instant in the future written with a +02:00 offset
    const d = new Date(Date.now() + 120000);
    const local = new Date(d.getTime() + 2 * 3600 * 1000).toISOString().replace('Z', '+02:00');
    const ok = await h.relay.post('/pair/start', startBody(newCreds(), { joinTokenExpiresAt: local }));
    assert.equal(ok.status, 200, ok.text);
  });

  test('§4.1 response shape {accepted, sessionID, wsURL}; relayWebSocketURL normalised', T, async () => {
    const cases = [
      ['wss://relay.example', 'wss://relay.example/ws'],
      ['wss://relay.example/', 'wss://relay.example/ws'],
      ['ws://relay.example:9000/custom/path?x=1#frag', 'ws://relay.example:9000/custom/path'],
    ];
    for (const [input, expected] of cases) {
      const c = newCreds();
      const r = await h.relay.post('/pair/start', startBody(c, { relayWebSocketURL: input }));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { accepted: true, sessionID: c.sessionID, wsURL: expected });
    }
    // not a ws/wss URL → ignored → relay default (PUBLIC_BASE_URL default http://localhost:<PORT>)
    for (const input of ['https://relay.example/ws', 'not a url', null]) {
      const c = newCreds();
      const r = await h.relay.post('/pair/start', startBody(c, { relayWebSocketURL: input }));
      assert.equal(r.status, 200, r.text);
      assert.match(r.body.wsURL, /^ws:\/\/localhost(:\d+)?\/ws$/, `${input} → ${r.body.wsURL}`);
    }
  });

  test('§4.1 idleTimeoutSeconds null/absent/out of range accepted (clamped)', T, async () => {
    for (const v of [null, 1, 86400 * 10, undefined]) {
      const c = newCreds();
      const body = startBody(c, { idleTimeoutSeconds: v });
      if (v === undefined) delete body.idleTimeoutSeconds;
      const r = await h.relay.post('/pair/start', body);
      assert.equal(r.status, 200, `${v}: ${r.text}`);
    }
  });

  test('§4.1 pair/start with the same token replaces the session: sockets get disconnect replaced_by_new_pair_start', T, async () => {
    const fx = await pairedFixture(h.relay);
    const r = await h.relay.post('/pair/start', startBody({ ...fx.creds, joinToken: b64url(32), joinTokenExpiresAt: isoIn(120000) }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await fx.desktop.nextOfType('disconnect', 2000), { type: 'disconnect', reason: 'replaced_by_new_pair_start' });
    assert.deepEqual(await fx.phone.nextOfType('disconnect', 2000), { type: 'disconnect', reason: 'replaced_by_new_pair_start' });
    await fx.desktop.waitClose(2000);
    await fx.phone.waitClose(2000);
    // trusted devices and tokens dropped: the rotated device token is dead
    const { first } = await openAndAuth(h.relay.wsURL, fx.rotatedToken, { origin: PWA_ORIGIN });
    assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
    const list = await h.relay.post('/devices/list', { sessionID: fx.creds.sessionID, desktopSessionToken: fx.creds.desktopSessionToken });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.devices, []);
    // desktop token of the new session still works
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken);
    assert.equal(d.authOk.connectedDeviceCount, 0);
  });

  test('§4.1 pair/start over a session with no participants and a different token replaces it', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const c2 = { ...newCreds(), sessionID: c.sessionID };
    const r = await h.relay.post('/pair/start', startBody(c2));
    assert.equal(r.status, 200, r.text);
    const { first } = await openAndAuth(h.relay.wsURL, c.desktopSessionToken);
    assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' }, 'old desktop token dropped');
    await connectDesktop(h.relay, c2.desktopSessionToken);
  });

  test('§4.1 pair/start replacing a session fails a pending join with 409 desktop_not_connected', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken);
    const joinP = h.relay.post('/pair/join', joinBody(c, 'P'), { origin: PWA_ORIGIN });
    await ws.nextOfType('relay.pair_request', 3000);
    const r = await h.relay.post('/pair/start', startBody({ ...c, joinToken: b64url(32) }));
    assert.equal(r.status, 200, r.text);
    assertError(await joinP, 409, 'desktop_not_connected', MSG.desktopGone);
  });
});

describe('default wsURL with an explicit PORT', () => {
  const h = { relay: null };
  before(async () => {
    const port = await freePort();
    h.relay = await startRelay({ ...ROOMY, PORT: String(port) });
    assert.equal(h.relay.port, port);
  });
  after(async () => { if (h.relay) await h.relay.stop(); });

  test('§4.1 default wsURL = PUBLIC_BASE_URL default http://localhost:<PORT> → ws://localhost:<PORT>/ws', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds()));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.wsURL, `ws://localhost:${h.relay.port}/ws`);
  });
});
