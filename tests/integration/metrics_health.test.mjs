// SCENARIOS §A (1-3) and RELAY_PROTOCOL §4.7/§4.8 field sets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { WsClient, openAndAuth } from './lib/ws.mjs';
import { pairedFixture, pairStart, pairRefresh, newCreds, startBody, b64url, RFC3339_UTC_RE } from './lib/fixture.mjs';
import { sleep } from './lib/relay.mjs';

const HEALTH_FIELDS = ['ok', 'sessions', 'activeWebSockets', 'pendingJoinWaiters', 'deviceTokens',
  'busSubscriptions', 'crossInstanceBusEnabled', 'redisPersistenceEnabled', 'now'];
const METRICS_EXTRA = ['sessionsWithDesktop', 'sessionsWithMobile', 'rateLimitBuckets',
  'commandRateLimitBuckets', 'snapshotRateLimitBuckets', 'outboundSendFailures', 'slowConsumerDisconnects',
  'pairStartRequests', 'pairStartSuccesses', 'pairStartFailures', 'pairJoinRequests', 'pairJoinSuccesses',
  'pairJoinFailures', 'pairRefreshRequests', 'pairRefreshSuccesses', 'pairRefreshFailures', 'wsAuthAttempts',
  'wsAuthSuccesses', 'wsAuthFailures', 'wsAuthFailureReasons'];

describe('fresh relay (healthz / token_not_found)', () => {
  const h = useRelay();

  test('S1 GET /healthz on a fresh relay → 200 ok:true activeWebSockets:0', T, async () => {
    const r = await h.relay.get('/healthz');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'] || '', /application\/json/);
    assert.equal(r.body.ok, true);
    assert.equal(r.body.activeWebSockets, 0);
  });

  test('§4.7 /healthz field set and types', T, async () => {
    const b = (await h.relay.get('/healthz')).body;
    for (const f of HEALTH_FIELDS) assert.ok(f in b, `missing ${f} in ${JSON.stringify(b)}`);
    for (const f of ['sessions', 'activeWebSockets', 'pendingJoinWaiters', 'deviceTokens', 'busSubscriptions']) {
      assert.ok(Number.isInteger(b[f]) && b[f] >= 0, `${f}=${b[f]}`);
    }
    assert.equal(b.crossInstanceBusEnabled, false);
    assert.equal(b.redisPersistenceEnabled, false);
    assert.match(b.now, RFC3339_UTC_RE);
    assert.ok(Math.abs(Date.parse(b.now) - Date.now()) < 5000, `now=${b.now}`);
  });

  test('§4.8 /metricsz is a superset of /healthz with all counters', T, async () => {
    const r = await h.relay.get('/metricsz');
    assert.equal(r.status, 200, r.text);
    const b = r.body;
    for (const f of [...HEALTH_FIELDS, ...METRICS_EXTRA]) assert.ok(f in b, `missing ${f} in ${JSON.stringify(b)}`);
    for (const f of METRICS_EXTRA.filter((x) => x !== 'wsAuthFailureReasons')) {
      assert.ok(Number.isInteger(b[f]) && b[f] >= 0, `${f}=${b[f]}`);
    }
    assert.equal(typeof b.wsAuthFailureReasons, 'object');
    assert.ok(b.wsAuthFailureReasons && !Array.isArray(b.wsAuthFailureReasons));
  });

  test('S3 unknown well-formed token → disconnect session_expired; metrics count token_not_found', T, async () => {
    const { ws, first } = await openAndAuth(h.relay.wsURL, b64url(32), { label: 'stranger' });
    assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
    const ci = await ws.waitClose(3000);
    assert.equal(ci.code, 1008);
    const m = await h.relay.metrics();
    assert.equal(m.wsAuthAttempts, 1, JSON.stringify(m));
    assert.equal(m.wsAuthSuccesses, 0);
    assert.equal(m.wsAuthFailures, 1);
    assert.equal(m.wsAuthFailureReasons.token_not_found, 1, JSON.stringify(m.wsAuthFailureReasons));
  });
});

describe('one paired fixture with TOKEN_ROTATION_GRACE_MS=0', () => {
  const h = useRelay({ TOKEN_ROTATION_GRACE_MS: '0' });

  test('S2 /metricsz after one paired fixture has the exact counters', T, async () => {
    const fx = await pairedFixture(h.relay);
    const r = await h.relay.get('/metricsz');
    assert.equal(r.status, 200);
    const m = r.body;
    const expected = {
      ok: true, sessionsWithDesktop: 1, sessionsWithMobile: 1, activeWebSockets: 2, deviceTokens: 1,
      commandRateLimitBuckets: 0, snapshotRateLimitBuckets: 0, outboundSendFailures: 0, slowConsumerDisconnects: 0,
      pairStartRequests: 1, pairStartSuccesses: 1, pairStartFailures: 0,
      pairJoinRequests: 1, pairJoinSuccesses: 1, pairJoinFailures: 0,
      pairRefreshRequests: 0, pairRefreshSuccesses: 0, pairRefreshFailures: 0,
      wsAuthAttempts: 2, wsAuthSuccesses: 2, wsAuthFailures: 0,
    };
    for (const [k, v] of Object.entries(expected)) assert.equal(m[k], v, `${k}: ${JSON.stringify(m)}`);
    const hz = await h.relay.health();
    assert.equal(hz.sessions, 1);
    assert.equal(hz.activeWebSockets, 2);
    assert.equal(hz.pendingJoinWaiters, 0);
    assert.equal(hz.deviceTokens, 1);
    fx.phone.close();
    fx.desktop.close();
  });

  test('§4.8 activeWebSockets drops back when sockets close; sessions survive', T, async () => {
    // Sockets of the previous test were terminated by afterEach.
    let m;
    for (let i = 0; i < 40; i++) {
      m = await h.relay.metrics();
      if (m.activeWebSockets === 0) break;
      await sleep(50);
    }
    assert.equal(m.activeWebSockets, 0, JSON.stringify(m));
    assert.equal(m.sessionsWithDesktop, 0);
    assert.equal(m.sessionsWithMobile, 0);
    assert.equal(m.sessions, 1, 'session with a trusted device survives socket loss');
  });

  test('§4.8 join counters: failed joins counted, framework 422 not counted', T, async () => {
    const before = await h.relay.metrics();
    // A join for an unknown session fails and is counted as request + failure.
    const r = await h.relay.post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, { origin: 'http://localhost:4173' });
    assert.equal(r.status, 404);
    const after = await h.relay.metrics();
    assert.equal(after.pairJoinRequests, before.pairJoinRequests + 1);
    assert.equal(after.pairJoinFailures, before.pairJoinFailures + 1);
    assert.equal(after.pairJoinSuccesses, before.pairJoinSuccesses);
    // Framework rejections (422) are not counted.
    const bad = await h.relay.post('/pair/join', { sessionID: b64url(16) }, { origin: 'http://localhost:4173' });
    assert.equal(bad.status, 422, bad.text);
    const after2 = await h.relay.metrics();
    assert.equal(after2.pairJoinRequests, after.pairJoinRequests, 'framework 422 must not be counted');
  });

  test('§4.8 pair/start and pair/refresh counters: requests, successes, failures = requests − successes', T, async () => {
    const m0 = await h.relay.metrics();
    const c = newCreds();
    await pairStart(h.relay, c);
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds(), { sessionID: 'short' }))).status, 400);
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds(), { unknownField: 1 }))).status, 422);
    await pairRefresh(h.relay, c);
    assert.equal((await h.relay.post('/pair/refresh', {
      sessionID: b64url(16), joinToken: b64url(32), desktopSessionToken: b64url(32), joinTokenExpiresAt: new Date(Date.now() + 60000).toISOString(),
    })).status, 404);
    const m1 = await h.relay.metrics();
    const d = (k) => m1[k] - m0[k];
    assert.deepEqual(
      [d('pairStartRequests'), d('pairStartSuccesses'), d('pairStartFailures'), d('pairRefreshRequests'), d('pairRefreshSuccesses'), d('pairRefreshFailures')],
      [2, 1, 1, 2, 1, 1], JSON.stringify(m1));
  });

  test('§4.8 wsAuthAttempts counted at socket start; a socket still authenticating counts as a failure', T, async () => {
    const m0 = await h.relay.metrics();
    const ws = await WsClient.connect(h.relay.wsURL, { label: 'silent' });
    let m1;
    for (let i = 0; i < 20; i++) {
      m1 = await h.relay.metrics();
      if (m1.wsAuthAttempts > m0.wsAuthAttempts) break;
      await sleep(25);
    }
    assert.equal(m1.wsAuthAttempts, m0.wsAuthAttempts + 1);
    assert.equal(m1.wsAuthFailures, m0.wsAuthFailures + 1, 'attempts − successes includes sockets still authenticating');
    assert.equal(m1.wsAuthSuccesses, m0.wsAuthSuccesses);
    ws.terminate();
  });
});


