// RELAY_PROTOCOL §3.6 per-IP fixed-window rate limit (shared by the six POST endpoints), TRUST_PROXY.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { assertError, MSG } from './lib/http.mjs';
import { newCreds, startBody, connectDesktop, b64url, isoIn, PWA_ORIGIN, EVIL_ORIGIN } from './lib/fixture.mjs';

const LIMIT = 3;
let ipSeq = 10;
const nextIP = () => `198.51.100.${ipSeq++}`;

function bodyFor(p, c = newCreds()) {
  switch (p) {
    case '/pair/start': return startBody(c);
    case '/pair/join': return { sessionID: c.sessionID, joinToken: c.joinToken };
    case '/pair/refresh': return { sessionID: c.sessionID, joinToken: b64url(32), desktopSessionToken: c.desktopSessionToken, joinTokenExpiresAt: isoIn(60000) };
    case '/pair/stop':
    case '/devices/list': return { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken };
    case '/devices/revoke': return { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, deviceID: b64url(12) };
    default: throw new Error(p);
  }
}
const MESSAGES = {
  '/pair/start': MSG.ratePairing,
  '/pair/join': MSG.ratePairing,
  '/pair/refresh': MSG.rateMgmt,
  '/pair/stop': MSG.rateMgmt,
  '/devices/list': MSG.rateMgmt,
  '/devices/revoke': MSG.rateMgmt,
};

describe(`TRUST_PROXY=true, MAX_PAIR_REQUESTS_PER_MINUTE=${LIMIT}`, () => {
  const h = useRelay({ TRUST_PROXY: 'true', MAX_PAIR_REQUESTS_PER_MINUTE: String(LIMIT) });
  const post = (p, body, ip, opts = {}) => h.relay.post(p, body, {
    ...opts, headers: { 'X-Forwarded-For': ip, ...(opts.headers || {}) },
  });

  for (const p of Object.keys(MESSAGES)) {
    test(`§3.6 ${p}: request ${LIMIT + 1} from one IP → 429 rate_limited "${MESSAGES[p]}"`, T, async () => {
      const ip = nextIP();
      for (let i = 0; i < LIMIT; i++) {
        const r = await post(p, bodyFor(p), ip, p === '/pair/join' ? { origin: PWA_ORIGIN } : {});
        assert.notEqual(r.status, 429, `request ${i + 1}: ${r.text}`);
      }
      const r = await post(p, bodyFor(p), ip, p === '/pair/join' ? { origin: PWA_ORIGIN } : {});
      assertError(r, 429, 'rate_limited', MESSAGES[p]);
    });
  }

  test('§3.6 one bucket per IP shared by all six POST endpoints; other IPs unaffected', T, async () => {
    const ip = nextIP();
    assert.notEqual((await post('/pair/start', bodyFor('/pair/start'), ip)).status, 429);
    assert.notEqual((await post('/devices/list', bodyFor('/devices/list'), ip)).status, 429);
    assert.notEqual((await post('/pair/join', bodyFor('/pair/join'), ip, { origin: PWA_ORIGIN })).status, 429);
    assertError(await post('/pair/stop', bodyFor('/pair/stop'), ip), 429, 'rate_limited', MSG.rateMgmt);
    assertError(await post('/pair/join', bodyFor('/pair/join'), ip, { origin: PWA_ORIGIN }), 429, 'rate_limited', MSG.ratePairing);
    assert.equal((await post('/pair/start', bodyFor('/pair/start'), nextIP())).status, 200);
    const m = await h.relay.metrics();
    assert.ok(m.rateLimitBuckets >= 2, `rateLimitBuckets=${m.rateLimitBuckets}`);
  });

  test('§3.7 check order: schemaVersion and Origin before the rate limit; rate limit before token format', T, async () => {
    const ip = nextIP();
    for (let i = 0; i < LIMIT; i++) await post('/pair/start', bodyFor('/pair/start'), ip);
    assertError(await post('/pair/start', startBody(newCreds(), { schemaVersion: 1 }), ip), 400, 'unsupported_schema_version', MSG.schema);
    assertError(await post('/pair/start', bodyFor('/pair/start'), ip, { origin: EVIL_ORIGIN }), 403, 'origin_not_allowed', MSG.origin);
    assertError(await post('/pair/join', bodyFor('/pair/join'), ip, { origin: EVIL_ORIGIN }), 403, 'origin_not_allowed', MSG.origin);
    assertError(await post('/pair/start', startBody(newCreds(), { sessionID: 'short' }), ip), 429, 'rate_limited', MSG.ratePairing);
    assertError(await post('/pair/join', { sessionID: 'short', joinToken: 'x' }, ip, { origin: PWA_ORIGIN }), 429, 'rate_limited', MSG.ratePairing);
    assertError(await post('/devices/revoke', { sessionID: 's', desktopSessionToken: 't', deviceID: 'd' }, ip), 429, 'rate_limited', MSG.rateMgmt);
  });

  test('§3.6 rejected requests still count towards the window', T, async () => {
    const ip = nextIP();
    for (let i = 0; i < LIMIT; i++) {
      const r = await post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, ip, { origin: PWA_ORIGIN });
      assertError(r, 404, 'session_not_found', MSG.sessionNotFound);
    }
    assertError(await post('/pair/start', bodyFor('/pair/start'), ip), 429, 'rate_limited', MSG.ratePairing);
  });

  test('§3.6 TRUST_PROXY: first IP-parseable X-Forwarded-For entry is the client IP (requesterIP)', T, async () => {
    for (const [xff, expected] of [
      ['not-an-ip,  203.0.113.7 , 10.0.0.1', '203.0.113.7'],
      ['2001:db8::1', '2001:db8::1'],
    ]) {
      const c = newCreds();
      assert.equal((await post('/pair/start', startBody(c), nextIP())).status, 200);
      const { ws } = await connectDesktop(h.relay, c.desktopSessionToken);
      const joinP = h.relay.post('/pair/join', { sessionID: c.sessionID, joinToken: c.joinToken }, { origin: PWA_ORIGIN, headers: { 'X-Forwarded-For': xff } });
      const req = await ws.nextOfType('relay.pair_request', 3000);
      assert.equal(req.requesterIP, expected);
      ws.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: false });
      assert.equal((await joinP).status, 403);
      ws.close();
    }
  });
});

describe('TRUST_PROXY unset, MAX_PAIR_REQUESTS_PER_MINUTE=2', () => {
  const h = useRelay({ TRUST_PROXY: undefined, MAX_PAIR_REQUESTS_PER_MINUTE: '2' });

  test('§3.6 without TRUST_PROXY X-Forwarded-For is ignored (peer address is the key)', T, async () => {
    const c = newCreds();
    assert.equal((await h.relay.post('/pair/start', startBody(c), { headers: { 'X-Forwarded-For': '203.0.113.1' } })).status, 200);
    const { ws } = await connectDesktop(h.relay, c.desktopSessionToken);
    const joinP = h.relay.post('/pair/join', { sessionID: c.sessionID, joinToken: c.joinToken }, { origin: PWA_ORIGIN, headers: { 'X-Forwarded-For': '203.0.113.2' } });
    const req = await ws.nextOfType('relay.pair_request', 3000);
    assert.equal(req.requesterIP, '127.0.0.1');
    ws.send({ type: 'relay.pair_decision', requestID: req.requestID, approved: false });
    assert.equal((await joinP).status, 403);
    const r = await h.relay.post('/pair/start', startBody(newCreds()), { headers: { 'X-Forwarded-For': '203.0.113.3' } });
    assertError(r, 429, 'rate_limited', MSG.ratePairing);
  });
});
