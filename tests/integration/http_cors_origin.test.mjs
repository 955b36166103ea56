// RELAY_PROTOCOL §3 (routes, body framework errors, origin policy, CORS) + SCENARIOS 4, 7-9, 26.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { openAndAuth } from './lib/ws.mjs';
import { useRelay, T } from './lib/setup.mjs';
import { assertError, assertFrameworkError, MSG } from './lib/http.mjs';
import { newCreds, startBody, pairStart, connectDesktop, joinAndApprove, b64url, isoIn, PWA_ORIGIN, EVIL_ORIGIN } from './lib/fixture.mjs';

const POSTS = ['/pair/start', '/pair/join', '/pair/refresh', '/pair/stop', '/devices/list', '/devices/revoke'];
const VARY = ['origin', 'access-control-request-method', 'access-control-request-headers'];

function assertVary(res) {
  const v = (res.headers.vary || '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of VARY) assert.ok(v.includes(x), `Vary must include ${x}; got "${res.headers.vary}"`);
}
function assertNoCredsExpose(res) {
  assert.equal(res.headers['access-control-allow-credentials'], undefined);
  assert.equal(res.headers['access-control-expose-headers'], undefined);
}
const preflight = (relay, p, origin, extra = {}) => relay.request('OPTIONS', p, {
  headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type', ...extra },
});

describe('routes and framework errors', () => {
  const h = useRelay({ MAX_JSON_BYTES: '2048' });

  test('§3.1 unknown path → 404 (GET and POST)', T, async () => {
    const a = await h.relay.get('/nope');
    assert.equal(a.status, 404, a.text);
    const b = await h.relay.post('/pair/nope', { a: 1 });
    assert.equal(b.status, 404, b.text);
  });

  test('§3.1 wrong method on a known path → 405', T, async () => {
    for (const p of POSTS) {
      const r = await h.relay.get(p);
      assert.equal(r.status, 405, `GET ${p}: ${r.status} ${r.text}`);
    }
    for (const p of ['/healthz', '/metricsz']) {
      const r = await h.relay.request('POST', p, { json: {} });
      assert.equal(r.status, 405, `POST ${p}: ${r.status} ${r.text}`);
    }
  });

  test('§3.2 body over MAX_JSON_BYTES → 413 plain text', T, async () => {
    const body = startBody(newCreds(), {});
    body.relayWebSocketURL = `ws://example.test/ws?pad=${'x'.repeat(4000)}`;
    const r = await h.relay.post('/pair/start', body);
    assertFrameworkError(r, 413);
  });

  test('§3.2 wrong Content-Type → 415 plain text', T, async () => {
    const r = await h.relay.request('POST', '/pair/start', {
      body: JSON.stringify(startBody(newCreds())), headers: { 'Content-Type': 'text/plain' },
    });
    assertFrameworkError(r, 415);
    const r2 = await h.relay.request('POST', '/pair/join', { body: '{}' });
    assertFrameworkError(r2, 415);
  });

  test('§3.2 application/json with a charset parameter is accepted', T, async () => {
    const r = await h.relay.request('POST', '/pair/start', {
      body: JSON.stringify(startBody(newCreds())), headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assert.equal(r.status, 200, r.text);
  });

  test('§3.2 application/*+json is accepted as JSON', T, async () => {
    const r = await h.relay.request('POST', '/pair/start', {
      body: JSON.stringify(startBody(newCreds())), headers: { 'Content-Type': 'application/vnd.codex+json' },
    });
    assert.equal(r.status, 200, r.text);
  });

  test('§3.2 malformed JSON → 400 plain text', T, async () => {
    for (const p of POSTS) {
      const r = await h.relay.request('POST', p, { body: '{"sessionID": ', headers: { 'Content-Type': 'application/json' } });
      assertFrameworkError(r, 400);
    }
  });

  test('§3.2 schema mismatch (missing field / wrong type / unknown field) → 422 plain text', T, async () => {
    const c = newCreds();
    const { joinToken: _j, ...noJoin } = startBody(c);
    assertFrameworkError(await h.relay.post('/pair/start', noJoin), 422);
    assertFrameworkError(await h.relay.post('/pair/start', startBody(c, { sessionID: 12345 })), 422);
    assertFrameworkError(await h.relay.post('/pair/start', startBody(c, { idleTimeoutSeconds: -5 })), 422);
    assertFrameworkError(await h.relay.post('/pair/join', { sessionID: c.sessionID }), 422);
    assertFrameworkError(await h.relay.post('/pair/join', { sessionID: c.sessionID, joinToken: c.joinToken, extra: 1 }), 422);
    assertFrameworkError(await h.relay.post('/pair/stop', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, bogus: true }), 422);
    assertFrameworkError(await h.relay.post('/devices/list', { sessionID: c.sessionID }), 422);
    assertFrameworkError(await h.relay.post('/devices/revoke', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken }), 422);
  });

  test('§3 HTTP/1.1 keep-alive: several requests on one connection', T, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set();
      for (let i = 0; i < 5; i++) {
        const res = await new Promise((resolve, reject) => {
          const body = JSON.stringify(startBody(newCreds()));
          const req = http.request({ host: '127.0.0.1', port: h.relay.port, method: i % 2 ? 'GET' : 'POST', path: i % 2 ? '/healthz' : '/pair/start', agent,
            headers: i % 2 ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (r) => {
            const local = r.socket.localPort;
            let t = ''; r.on('data', (d) => { t += d; }); r.on('end', () => resolve({ status: r.statusCode, text: t, local }));
          });
          req.setTimeout(5000, () => req.destroy(new Error('keep-alive request timed out')));
          req.on('error', reject);
          if (!(i % 2)) req.write(body);
          req.end();
        });
        assert.equal(res.status, 200, res.text);
        ports.add(res.local);
      }
      assert.equal(ports.size, 1, 'all requests should reuse one TCP connection');
    } finally { agent.destroy(); }
  });

  test('S7 pair/start with an extra field → 422', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds(), { unexpected: 'field' }));
    assert.equal(r.status, 422, r.text);
  });

  test('S8 pair/start with schemaVersion 1 → 400 unsupported_schema_version', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds(), { schemaVersion: 1 }));
    assertError(r, 400, 'unsupported_schema_version', MSG.schema);
  });

  test('§3.2 schemaVersion null accepted; non-integer → 422', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds(), { schemaVersion: null }));
    assert.equal(r.status, 200, r.text);
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds(), { schemaVersion: '2' }))).status, 422);
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds(), { schemaVersion: 2.5 }))).status, 422);
  });

  test('§4.2 pair/join with a schemaVersion field → 422 (unknown field)', T, async () => {
    const r = await h.relay.post('/pair/join', { schemaVersion: 2, sessionID: b64url(16), joinToken: b64url(32) }, { origin: PWA_ORIGIN });
    assert.equal(r.status, 422, r.text);
  });

  test('S9 pair/start without schemaVersion → 200 with a wsURL usable for /ws', T, async () => {
    const c = newCreds();
    const { schemaVersion: _s, ...body } = startBody(c);
    const r = await h.relay.post('/pair/start', body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, true);
    assert.equal(r.body.sessionID, c.sessionID);
    assert.equal(typeof r.body.wsURL, 'string');
    const u = new URL(r.body.wsURL);
    assert.ok(u.protocol === 'ws:' || u.protocol === 'wss:', r.body.wsURL);
    assert.equal(u.pathname, '/ws');
    assert.match(r.headers['content-type'] || '', /application\/json/);
  });
});

describe('origin policy and CORS (ALLOWED_ORIGINS=http://localhost:4173)', () => {
  const h = useRelay();

  test('S4 OPTIONS /pair/join preflight from the PWA origin → 2xx with Access-Control-Allow-Origin', T, async () => {
    const r = await h.relay.request('OPTIONS', '/pair/join', { headers: { Origin: PWA_ORIGIN, 'Access-Control-Request-Method': 'POST' } });
    assert.ok(r.status >= 200 && r.status < 300, `status ${r.status}`);
    assert.equal(r.headers['access-control-allow-origin'], PWA_ORIGIN);
  });

  test('§3.5 preflight on any path → 200, empty body, methods/headers, no Max-Age', T, async () => {
    for (const p of [...POSTS, '/healthz', '/ws', '/some/unknown/path']) {
      const r = await preflight(h.relay, p, PWA_ORIGIN);
      assert.equal(r.status, 200, `OPTIONS ${p}: ${r.status}`);
      assert.equal(r.text, '', `OPTIONS ${p} body`);
      assert.equal(r.headers['access-control-allow-origin'], PWA_ORIGIN, `OPTIONS ${p}`);
      assert.equal((r.headers['access-control-allow-methods'] || '').replace(/\s/g, '').toUpperCase(), 'POST,OPTIONS', `OPTIONS ${p}`);
      assert.equal((r.headers['access-control-allow-headers'] || '').toLowerCase(), 'content-type', `OPTIONS ${p}`);
      assert.equal(r.headers['access-control-max-age'], undefined, `OPTIONS ${p} Max-Age`);
      assertVary(r);
      assertNoCredsExpose(r);
    }
  });

  test('§3.5 preflight from a disallowed origin → 200 without Access-Control-Allow-Origin', T, async () => {
    for (const p of ['/pair/join', '/devices/list', '/x']) {
      const r = await preflight(h.relay, p, EVIL_ORIGIN);
      assert.equal(r.status, 200, `OPTIONS ${p}: ${r.status}`);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });

  test('§3.5 CORS headers on every response (healthz, metricsz, 404, handler errors, success)', T, async () => {
    const cases = [
      await h.relay.get('/healthz', { origin: PWA_ORIGIN }),
      await h.relay.get('/metricsz', { origin: PWA_ORIGIN }),
      await h.relay.get('/does-not-exist', { origin: PWA_ORIGIN }),
      await h.relay.post('/pair/join', { sessionID: b64url(16), joinToken: b64url(32) }, { origin: PWA_ORIGIN }),
      await h.relay.post('/pair/start', startBody(newCreds()), { origin: PWA_ORIGIN }),
    ];
    assert.equal(cases[2].status, 404);
    assert.equal(cases[3].status, 404);
    assert.equal(cases[4].status, 200, cases[4].text);
    for (const r of cases) {
      assert.equal(r.headers['access-control-allow-origin'], PWA_ORIGIN, `status ${r.status} ${r.text}`);
      assertVary(r);
      assertNoCredsExpose(r);
    }
    const evil = await h.relay.get('/healthz', { origin: EVIL_ORIGIN });
    assert.equal(evil.status, 200);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const none = await h.relay.get('/healthz');
    assert.equal(none.headers['access-control-allow-origin'], undefined);
  });

  test('§3.4 every POST endpoint rejects a disallowed Origin with 403 origin_not_allowed', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const bodies = {
      '/pair/start': startBody(newCreds()),
      '/pair/join': { sessionID: c.sessionID, joinToken: c.joinToken },
      '/pair/refresh': { sessionID: c.sessionID, joinToken: b64url(32), desktopSessionToken: c.desktopSessionToken, joinTokenExpiresAt: isoIn(60000) },
      '/pair/stop': { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken },
      '/devices/list': { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken },
      '/devices/revoke': { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, deviceID: b64url(12) },
    };
    for (const [p, body] of Object.entries(bodies)) {
      for (const origin of [EVIL_ORIGIN, 'null', 'http://localhost:4174']) {
        const r = await h.relay.post(p, body, { origin });
        assertError(r, 403, 'origin_not_allowed', MSG.origin);
      }
    }
    // session untouched by the rejected stop / refresh
    const list = await h.relay.post('/devices/list', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken });
    assert.equal(list.status, 200, list.text);
  });

  test('S26 /devices/list and /devices/revoke with Origin https://evil.example → 403 origin_not_allowed', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const a = await h.relay.post('/devices/list', { schemaVersion: 2, sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken }, { origin: EVIL_ORIGIN });
    assertError(a, 403, 'origin_not_allowed', MSG.origin);
    const b = await h.relay.post('/devices/revoke', { schemaVersion: 2, sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken, deviceID: b64url(12) }, { origin: EVIL_ORIGIN });
    assertError(b, 403, 'origin_not_allowed', MSG.origin);
  });

  test('§3.4 POST without Origin and with the allowed Origin is accepted', T, async () => {
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds()))).status, 200);
    assert.equal((await h.relay.post('/pair/start', startBody(newCreds()), { origin: PWA_ORIGIN })).status, 200);
  });

  test('§3.4 request Origin is normalised before the allow-list check (CORS echo stays byte-exact)', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds()), { origin: 'http://LOCALHOST:4173' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'CORS echo requires a byte-equal origin');
  });

  test('§3.7 check order: schemaVersion is checked before Origin', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds(), { schemaVersion: 1 }), { origin: EVIL_ORIGIN });
    assertError(r, 400, 'unsupported_schema_version', MSG.schema);
    for (const p of ['/pair/refresh', '/pair/stop', '/devices/list', '/devices/revoke']) {
      const c = newCreds();
      let body = { schemaVersion: 3, sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken };
      if (p === '/pair/refresh') body = { ...body, joinToken: c.joinToken, joinTokenExpiresAt: c.joinTokenExpiresAt };
      if (p === '/devices/revoke') body = { ...body, deviceID: b64url(12) };
      assertError(await h.relay.post(p, body, { origin: EVIL_ORIGIN }), 400, 'unsupported_schema_version', MSG.schema);
    }
  });

  test('§3.4 Origin is checked before token format on /pair/join', T, async () => {
    const r = await h.relay.post('/pair/join', { sessionID: 'short', joinToken: 'x' }, { origin: EVIL_ORIGIN });
    assertError(r, 403, 'origin_not_allowed', MSG.origin);
  });
});

describe('ALLOWED_ORIGINS=*', () => {
  const h = useRelay({ ALLOWED_ORIGINS: '*' });

  test('CONFIG §2 "*" also admits mobile sockets without an Origin header', T, async () => {
    const c = newCreds();
    await pairStart(h.relay, c);
    const { ws: desktop } = await connectDesktop(h.relay, c.desktopSessionToken);
    const { join } = await joinAndApprove(h.relay, c, desktop);
    assert.equal(join.status, 200, join.text);
    const { ws, first } = await openAndAuth(h.relay.wsURL, join.body.deviceSessionToken, { label: 'no-origin-phone' });
    assert.equal(first?.type, 'auth_ok', `${JSON.stringify(first)} close=${JSON.stringify(ws.closeInfo)}`);
    assert.equal(first.role, 'mobile');
  });

  test('§3.5 allow-list "*" → Access-Control-Allow-Origin: * and any Origin accepted', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds()), { origin: EVIL_ORIGIN });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    const p = await preflight(h.relay, '/pair/join', EVIL_ORIGIN);
    assert.equal(p.status, 200);
    assert.equal(p.headers['access-control-allow-origin'], '*');
  });
});

describe('ALLOWED_ORIGINS entries are normalised (https://app.example:443/ , http://localhost:4173)', () => {
  const h = useRelay({ ALLOWED_ORIGINS: 'https://app.example:443/ , http://localhost:4173' });

  test('CONFIG §2 allow-list entries reduced to their origin (default port and path dropped, trimmed)', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds()), { origin: 'https://app.example' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
    const r2 = await h.relay.post('/pair/start', startBody(newCreds()), { origin: 'http://localhost:4173' });
    assert.equal(r2.status, 200, r2.text);
    assertError(await h.relay.post('/pair/start', startBody(newCreds()), { origin: 'https://app.example:8443' }), 403, 'origin_not_allowed', MSG.origin);
  });
});

describe('default ALLOWED_ORIGINS (unset) with PUBLIC_BASE_URL', () => {
  const h = useRelay({ ALLOWED_ORIGINS: undefined, PUBLIC_BASE_URL: 'https://relay.example/rc' });

  test('CONFIG §2 default allow-list = origin(PUBLIC_BASE_URL) + localhost:4173 + 127.0.0.1:4173', T, async () => {
    for (const origin of ['https://relay.example', 'http://localhost:4173', 'http://127.0.0.1:4173']) {
      const r = await h.relay.post('/pair/start', startBody(newCreds()), { origin });
      assert.equal(r.status, 200, `${origin}: ${r.text}`);
      assert.equal(r.headers['access-control-allow-origin'], origin);
    }
    const bad = await h.relay.post('/pair/start', startBody(newCreds()), { origin: EVIL_ORIGIN });
    assertError(bad, 403, 'origin_not_allowed', MSG.origin);
  });

  test('§4.1 default wsURL derives from PUBLIC_BASE_URL (https://relay.example/rc → wss://relay.example/ws)', T, async () => {
    const r = await h.relay.post('/pair/start', startBody(newCreds()));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.wsURL, 'wss://relay.example/ws');
  });
});
