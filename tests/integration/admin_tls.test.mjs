// Admin endpoint (actor tree, kill switch), Prometheus metrics and TLS (https:// + wss://).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startRelay, waitFor } from './lib/relay.mjs';
import { request } from './lib/http.mjs';
import { newCreds, pairedFixture, startBody } from './lib/fixture.mjs';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const T = { timeout: 20000 };

function admin(relay, method, p, token = ADMIN_TOKEN) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  assert.ok(relay.adminPort > 0, 'listening line names the admin port');
  return request(relay.adminPort, method, p, { headers });
}

describe('admin endpoint (ADMIN_TOKEN set, ADMIN_PORT=0)', () => {
  let relay;
  before(async () => { relay = await startRelay({ ADMIN_TOKEN, ADMIN_PORT: '0', ADMIN_HOST: '127.0.0.1' }); });
  after(async () => { await relay?.kill(); });

  test('admin requires the bearer token (401 without or with a wrong one)', T, async () => {
    assert.equal((await admin(relay, 'GET', '/admin/actors', null)).status, 401);
    assert.equal((await admin(relay, 'GET', '/admin/actors', 'x'.repeat(28))).status, 401);
  });

  test('admin is not reachable on the public listener', T, async () => {
    const r = await relay.get('/admin/actors', { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 404);
  });

  test('GET /admin/actors shows broker → ip limiter, session → devices + limiter with mailbox and age', T, async () => {
    const f = await pairedFixture(relay);
    const r = await admin(relay, 'GET', '/admin/actors');
    assert.equal(r.status, 200, r.text);
    const tree = r.body;
    assert.equal(tree.kind, 'broker');
    assert.equal(typeof tree.mailbox, 'number');
    assert.ok(tree.ageMs >= 0);
    const limiter = tree.children.find((c) => c.kind === 'rate_limiter' && c.scope === 'client_ip');
    assert.ok(limiter, 'ip limiter listed');
    const session = tree.children.find((c) => c.kind === 'session' && c.desktopConnected);
    assert.ok(session, 'session listed');
    assert.equal(session.mobileSockets, 1);
    assert.equal(session.trustedDevices, 1);
    assert.ok(!JSON.stringify(tree).includes(f.creds.sessionID), 'session ids are truncated in the admin view');
    const device = session.children.find((c) => c.kind === 'device');
    assert.equal(device.deviceID, f.deviceID);
    assert.equal(device.connected, true);
    assert.ok(session.children.some((c) => c.kind === 'rate_limiter' && c.scope === 'session'));
    f.desktop.close(); f.phone.close();
  });

  test('kill switch for one session: sockets get disconnect session_expired, tokens die', T, async () => {
    const f = await pairedFixture(relay);
    const r = await admin(relay, 'POST', `/admin/sessions/${f.creds.sessionID}/kill`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await f.phone.next(3000), { type: 'disconnect', reason: 'session_expired' });
    assert.deepEqual(await f.desktop.next(3000), { type: 'disconnect', reason: 'session_expired' });
    const list = await relay.post('/devices/list', { sessionID: f.creds.sessionID, desktopSessionToken: f.creds.desktopSessionToken });
    assert.equal(list.status, 404);
    assert.equal((await admin(relay, 'POST', `/admin/sessions/${f.creds.sessionID}/kill`)).status, 404);
  });

  test('kill-all ends every session', T, async () => {
    const a = await pairedFixture(relay);
    const b = await pairedFixture(relay);
    const r = await admin(relay, 'POST', '/admin/kill-all');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.killed >= 2);
    for (const ws of [a.phone, a.desktop, b.phone, b.desktop])
      assert.equal((await ws.next(3000)).reason, 'session_expired');
    assert.equal((await relay.health()).sessions, 0);
  });

  test('GET /admin/config redacts secrets', T, async () => {
    const r = await admin(relay, 'GET', '/admin/config');
    assert.equal(r.status, 200);
    assert.equal(r.body.ADMIN_TOKEN, '[REDACTED]');
    assert.ok(!r.text.includes(ADMIN_TOKEN));
  });

  test('GET /metrics is Prometheus text with the reference counters', T, async () => {
    const r = await relay.get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /^# TYPE relay_active_websockets gauge$/m);
    assert.match(r.text, /^relay_ws_auth_successes_total \d+$/m);
    assert.match(r.text, /^relay_ws_auth_failures_total\{reason="token_not_found"\} \d+$/m);
  });
});

describe('admin disabled without ADMIN_TOKEN', () => {
  test('no admin listener and a log line saying so', T, async () => {
    const relay = await startRelay({ ADMIN_PORT: '0' });
    try {
      assert.match(relay.logs(), /"adminPort":0/);
      // Logged right after the listening line: wait for it (bounded) rather than race it.
      await waitFor(() => /admin endpoint disabled/.test(relay.logs()), { what: 'the admin-disabled log line' });
    } finally { await relay.kill(); }
  });
});

describe('TLS (TLS_CERT_FILE / TLS_KEY_FILE)', () => {
  let relay; let dir; let ca;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
    { stdio: 'ignore' });
    ca = fs.readFileSync(path.join(dir, 'cert.pem'));
    relay = await startRelay({ TLS_CERT_FILE: path.join(dir, 'cert.pem'), TLS_KEY_FILE: path.join(dir, 'key.pem'),
      PUBLIC_BASE_URL: 'https://127.0.0.1:8443' });
  });
  after(async () => { await relay?.kill(); fs.rmSync(dir, { recursive: true, force: true }); });

  function httpsReq(method, p, body) {
    return new Promise((resolve, reject) => {
      const data = body ? JSON.stringify(body) : undefined;
      const req = https.request({ host: '127.0.0.1', port: relay.port, method, path: p, ca,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
        let t = ''; res.on('data', (d) => { t += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: t ? JSON.parse(t) : null }));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  test('https /healthz and /pair/start verify against the configured certificate', T, async () => {
    const h = await httpsReq('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.ok, true);
    const creds = newCreds();
    const r = await httpsReq('POST', '/pair/start', startBody(creds));
    assert.equal(r.status, 200);
    assert.equal(r.body.wsURL, 'wss://127.0.0.1:8443/ws');
    const ws = new WebSocket(`wss://127.0.0.1:${relay.port}/ws`, { ca });
    const first = await new Promise((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'relay.auth', token: creds.desktopSessionToken })));
      ws.on('message', (m) => resolve(JSON.parse(m.toString())));
      ws.on('error', reject);
      setTimeout(() => reject(new Error('no auth_ok over wss')), 5000);
    });
    assert.equal(first.type, 'auth_ok');
    assert.equal(first.role, 'desktop');
    ws.close();
  });

  test('plain http on the TLS port is refused', T, async () => {
    await assert.rejects(request(relay.port, 'GET', '/healthz', { timeoutMs: 2000 }));
  });
});
