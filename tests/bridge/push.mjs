// Web push end to end (docs/PUSH.md, issue 14): the REAL relay-node, the REAL desktop-bridge
// (demo runtime, --e2ee required) and the REAL PWA controller (pwa/src/core/client.ts, bundled
// with esbuild, Node WebCrypto) as the phone. A loopback mock push service (HTTPS, certificate
// from a test CA made here with the openssl CLI; the bridge trusts it via the test-only
// --push-ca-file and --push-allow-loopback) checks the VAPID header (ES256 signature, aud, exp,
// sub) and decrypts every body with the subscription's private key as a browser does (Node
// crypto: ECDH, HKDF, AES-128-GCM), answering 201 / 410 / 429 on demand.
// Usage: node push.mjs --bridge PATH --relay-bin PATH   (exit 0 ok, 1 fail, 77 skip)
import { execFileSync } from 'node:child_process';
import crypto, { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { createHarness, waitFor, step, ORIGIN } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (n, d) => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1] : d; };
const BRIDGE = path.resolve(argOf('--bridge', path.join(here, '../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', path.join(here, '../../build/bin/relay-node')));
const PWA = path.join(here, '../../pwa');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-push-'));
const H = createHarness({ relayBin: RELAY_BIN, bridgeBin: BRIDGE, tmp, WebSocket });
let server = null;
process.on('exit', () => { H.killAll(); fs.rmSync(tmp, { recursive: true, force: true }); });
const hardStop = setTimeout(() => { console.error('FAIL: overall timeout'); H.dump(); process.exit(1); }, 150_000);

if (!fs.existsSync(RELAY_BIN) || !fs.existsSync(BRIDGE)) { console.log('SKIP: relay-node or desktop-bridge not built'); process.exit(77); }
const esbuildPath = path.join(PWA, 'node_modules/esbuild/lib/main.js');
if (!fs.existsSync(esbuildPath)) { console.log('SKIP: run npm ci in pwa/ (esbuild bundles the PWA controller)'); process.exit(77); }
try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); } catch { console.log('SKIP: no openssl CLI for the test CA'); process.exit(77); }

// ---- test CA and the mock push service's certificate (127.0.0.1) -------------------------------
const f = (n) => path.join(tmp, n);
const ossl = (...a) => execFileSync('openssl', a, { stdio: ['ignore', 'ignore', 'pipe'] });
ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
  '-days', '1', '-subj', '/CN=rc push test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('srv.key'), '-out', f('srv.csr'), '-subj', '/CN=127.0.0.1');
fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
ossl('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('srv.pem'), '-days', '1', '-extfile', f('ext.cnf'));

// ---- mock push service --------------------------------------------------------------------------
const subs = new Map(); // id -> { ecdh, auth }
const script = new Map(); // id -> [{ status, retryAfter }] answered in order, then 201
const received = []; // { id, at, status, payload, headers, errors }
let vapidKey = null; // the desktop's key from push.state (the `k` it must sign with)
let port = 0;

function newSubscription(id) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  subs.set(id, { ecdh, auth });
  return { endpoint: `https://127.0.0.1:${port}/push/${id}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };
}

function checkVapid(h, errors) {
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(h.authorization ?? '');
  if (!m) return errors.push(`Authorization is not vapid t=…, k=…: ${h.authorization}`);
  const [jwt, k] = [m[1], m[2]];
  if (k !== vapidKey) errors.push('k is not the key the desktop announced in push.state');
  const [h64, c64, s64] = jwt.split('.');
  const head = JSON.parse(Buffer.from(h64, 'base64url'));
  const claims = JSON.parse(Buffer.from(c64, 'base64url'));
  if (head.alg !== 'ES256' || head.typ !== 'JWT') errors.push(`JWT header ${JSON.stringify(head)}`);
  const pt = Buffer.from(k, 'base64url');
  const key = crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: pt.subarray(1, 33).toString('base64url'), y: pt.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  if (!crypto.verify('sha256', Buffer.from(`${h64}.${c64}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s64, 'base64url'))) errors.push('JWT signature does not verify');
  if (claims.aud !== `https://127.0.0.1:${port}`) errors.push(`aud ${claims.aud}`);
  const now = Math.floor(Date.now() / 1000);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) errors.push(`exp ${claims.exp} not within 24 h`);
  if (!/^(mailto:.+@.+|https:\/\/.+)$/.test(claims.sub ?? '')) errors.push(`sub ${claims.sub}`);
}

// The browser's side of RFC 8291 / RFC 8188 (one record).
function decrypt(body, { ecdh, auth }) {
  const salt = body.subarray(0, 16); const rs = body.readUInt32BE(16); const idlen = body[20];
  assert.equal(idlen, 65, 'keyid is the sender key'); assert.ok(rs >= 18);
  const asPublic = body.subarray(21, 86);
  const secret = ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', secret, auth, keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const ct = body.subarray(86);
  const d = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  let pt = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  let end = pt.length; while (end > 0 && pt[end - 1] === 0) end--;
  assert.equal(pt[end - 1], 2, 'last-record delimiter');
  return JSON.parse(pt.subarray(0, end - 1).toString('utf8'));
}

server = https.createServer({ key: fs.readFileSync(f('srv.key')), cert: fs.readFileSync(f('srv.pem')) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const id = decodeURIComponent(req.url.replace(/^\/push\//, ''));
    const errors = [];
    const h = req.headers;
    if (req.method !== 'POST') errors.push(`method ${req.method}`);
    if (h['content-encoding'] !== 'aes128gcm') errors.push(`Content-Encoding ${h['content-encoding']}`);
    if (!/^\d+$/.test(h.ttl ?? '')) errors.push(`TTL ${h.ttl}`);
    if (!['very-low', 'low', 'normal', 'high'].includes(h.urgency)) errors.push(`Urgency ${h.urgency}`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(h.topic ?? '')) errors.push(`Topic ${h.topic}`);
    checkVapid(h, errors);
    let payload = null;
    const sub = subs.get(id);
    if (!sub) errors.push(`unknown subscription ${id}`);
    else try { payload = decrypt(Buffer.concat(chunks), sub); } catch (e) { errors.push(`decrypt: ${e.message}`); }
    const next = (script.get(id) ?? []).shift() ?? { status: 201 };
    received.push({ id, at: Date.now(), status: next.status, payload, headers: h, errors, size: Buffer.concat(chunks).length });
    res.writeHead(next.status, next.retryAfter ? { 'retry-after': next.retryAfter } : {});
    res.end();
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
port = server.address().port;

// ---- the PWA controller, bundled ---------------------------------------------------------------
const { build } = await import(pathToFileURL(esbuildPath).href);
const entry = path.join(tmp, 'entry.ts');
fs.writeFileSync(entry, ['RemoteClient:client', 'MemoryStorage:storage', 'MemoryKeyStore:e2eeKeys', 'setCrypto:e2eeCrypto', 'parseJoinLink:joinLink']
  .map((s) => { const [n, m] = s.split(':'); return `export { ${n} } from ${JSON.stringify(path.join(PWA, `src/core/${m}.ts`))};`; }).join('\n'));
await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: path.join(tmp, 'pwa.mjs'), logLevel: 'error' });
const P = await import(pathToFileURL(path.join(tmp, 'pwa.mjs')).href);
P.setCrypto(webcrypto);

function makePhone() {
  const c = new P.RemoteClient({
    storage: new P.MemoryStorage(), keys: new P.MemoryKeyStore(),
    createSocket: (url) => new WebSocket(url, { headers: { origin: ORIGIN } }),
    fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers ?? {}), origin: ORIGIN } }),
    setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t), now: () => Date.now(), random: Math.random,
  });
  // Every decrypted app envelope the phone accepts (push.state is not in the PWA's model here).
  c.seen = [];
  const handle = c.handleEnvelope.bind(c);
  c.handleEnvelope = (env) => { c.seen.push(env); handle(env); };
  return c;
}
// A push command through the phone's encrypted channel (the same record layer as its other commands).
let cmdN = 0;
function pushCommand(c, name, fields = {}) {
  const seq = c.nextOutgoingSeq++;
  const commandID = `push-${++cmdN}`;
  c.transmit(JSON.stringify({ schemaVersion: 2, sessionID: c.state.paired.sessionID, seq, timestamp: new Date().toISOString(),
    payload: { type: 'command', payload: { name, commandID, ...fields } } }));
  return commandID;
}
const pushStates = (c, from = 0) => c.seen.slice(from).filter((e) => e.payload?.type === 'event' && e.payload.payload?.name === 'push.state').map((e) => e.payload.payload);
const acked = (c, id, from = 0) => waitFor(() => c.seen.slice(from).find((e) => e.payload?.type === 'command_ack' && e.payload.payload.commandID === id)?.payload.payload, `ack ${id}`, 15000);

// ---- scenario -----------------------------------------------------------------------------------
const relay = await H.startRelay();
const bridge = H.startBridge(relay, ['--e2ee', 'required', '--auto-approve', '--approvals', '--runtime', 'demo', '--demo-delay-ms', '1',
  '--push-allow-loopback', '--push-ca-file', f('ca.pem'), '--push-subject', 'mailto:push-test@example.org'], undefined, { strict: true });
let phone; let threadID; let deviceID; let sub;
// Bridge stdout is ordered: once `devices` (asked now) is seen, every earlier event has been read.
const barrier = async () => { const m = bridge.mark(); bridge.send('devices'); return bridge.wait('devices', () => true, m, 15000); };
// One turn on the demo agent; an approval it asks for is approved from the phone.
async function turn(text, { approve = false } = {}) {
  const m = bridge.mark();
  assert.ok(phone.sendMessage(threadID, text).ok, 'message sent');
  if (approve) {
    const req = await waitFor(() => phone.state.data.pendingRuntimeRequests.find((r) => r.threadID === threadID), 'approval on the phone', 15000);
    assert.ok(phone.respondToRuntimeRequest(req, 'approve_once').ok, 'approval answered');
  }
  await bridge.wait('command_received', (e) => e.name === 'thread.send_message' && e.status === 'accepted', m, 15000);
  await waitFor(() => { const d = phone.state.data; return (d.buckets[threadID] ?? []).some((x) => x.role === 'assistant' && x.text.includes(text)) && !d.running[threadID]; }, `turn "${text}" ended`, 20000);
  return m;
}
let msgs = 0; // the demo agent also asks for approval on every 3rd message
const nextTurn = (text) => turn(text, { approve: ++msgs % 3 === 0 || text.includes('approve') });

try {
  await step('an E2EE phone pairs; snapshot advertises push; push.state carries the VAPID key', async () => {
    const started = await bridge.wait('session_started', () => true, 0, 15000);
    await bridge.wait('relay_connected', () => true, 0, 15000);
    phone = makePhone();
    phone.offerJoinLink(P.parseJoinLink(started.joinURL), ORIGIN);
    assert.ok(await phone.pair('push test phone'), 'paired');
    await waitFor(() => phone.state.e2ee.mode === 'verified', 'E2EE verified', 20000);
    deviceID = (await bridge.wait('e2ee_verified', () => true, 0, 15000)).deviceID;
    threadID = await waitFor(() => phone.state.data.desktopSelectedThreadID ?? phone.state.data.threads?.[0]?.id, 'a thread');
    await waitFor(() => phone.state.data.capabilities?.push === true, 'capabilities.push in the encrypted snapshot');
    const st = await waitFor(() => pushStates(phone)[0], 'push.state after the snapshot');
    assert.equal(st.subscribed, false);
    assert.equal(Buffer.from(st.vapidPublicKey, 'base64url').length, 65);
    vapidKey = st.vapidPublicKey;
    const saved = JSON.parse(fs.readFileSync(bridge.stateFile, 'utf8'));
    assert.ok(saved.push?.vapid, 'VAPID key kept in the state file');
    assert.equal(fs.statSync(bridge.stateFile).mode & 0o777, 0o600);
  });

  await step('push.subscribe → push.state subscribed, the device list shows push on', async () => {
    sub = newSubscription('phone-1');
    const from = phone.seen.length;
    const id = pushCommand(phone, 'push.subscribe', { subscription: sub, kinds: { approval: true, turn: true, pairing: false } });
    assert.equal((await acked(phone, id, from)).status, 'accepted');
    const st = await waitFor(() => pushStates(phone, from).find((s) => s.subscribed), 'push.state subscribed');
    assert.deepEqual(st.kinds, { approval: true, turn: true, pairing: false });
    assert.equal(st.vapidPublicKey, vapidKey);
    const list = await barrier();
    assert.equal(list.devices.find((d) => d.deviceID === deviceID)?.push, true, 'device list: push on');
    const saved = JSON.parse(fs.readFileSync(bridge.stateFile, 'utf8'));
    assert.equal(saved.push.subscriptions[deviceID]?.endpoint, sub.endpoint, 'subscription stored with the device');
  });

  await step('visible phone: a turn end does not push', async () => {
    const from = phone.seen.length;
    assert.equal((await acked(phone, pushCommand(phone, 'push.visibility', { visible: true }), from)).status, 'accepted');
    const m = await nextTurn('while I look');
    await bridge.wait('push_skipped', (e) => e.kind === 'turn' && e.deviceID === deviceID && e.reason === 'visible', m);
    await barrier();
    assert.equal(bridge.events.slice(m).filter((e) => e.event === 'push_sending').length, 0, 'nothing sent');
    assert.equal(received.length, 0, 'the push service got nothing');
  });

  await step('invisible phone: approval and turn end arrive decrypted with kind and threadID', async () => {
    const from = phone.seen.length;
    assert.equal((await acked(phone, pushCommand(phone, 'push.visibility', { visible: false }), from)).status, 'accepted');
    await turn('please approve this', { approve: true }); msgs++;
    const got = await waitFor(() => (received.filter((r) => r.payload).length >= 2 ? received : null), 'two pushes', 20000);
    for (const r of got) assert.deepEqual(r.errors, [], `push checks: ${r.errors.join('; ')}`);
    const approval = got.find((r) => r.payload.kind === 'approval');
    const done = got.find((r) => r.payload.kind === 'turn');
    assert.ok(approval && done, `kinds: ${got.map((r) => r.payload.kind)}`);
    for (const r of [approval, done]) {
      assert.equal(r.payload.v, 1);
      assert.equal(r.payload.threadID, threadID);
      assert.ok(typeof r.payload.title === 'string' && r.payload.title.length > 0);
      assert.ok(typeof r.payload.body === 'string' && Number.isInteger(r.payload.ts));
      assert.ok(r.size <= 4096, 'body fits a push message');
    }
    assert.equal(approval.headers.urgency, 'high');
    assert.notEqual(approval.headers.topic, done.headers.topic, 'one topic per thread and kind');
    assert.ok(!approval.payload.body.includes('echo'), 'no command text in the notification');
  });

  await step('429 with Retry-After: the bridge backs off, then the push is delivered', async () => {
    const n0 = received.length;
    script.set('phone-1', [{ status: 429, retryAfter: '2' }]);
    const m = await nextTurn('rate limited'); // the demo's 3rd message: an approval push comes first
    const retry = await bridge.wait('push_result', (e) => e.status === 429 && e.outcome === 'retry', m, 15000);
    assert.ok(retry.retryInMs >= 1900 && retry.retryInMs <= 2000, `Retry-After honoured: ${retry.retryInMs} ms`);
    await waitFor(() => received.slice(n0).some((r) => r.status === 201 && r.payload?.kind === 'turn'), 'the turn push delivered after the back-off', 20000);
    const tries = received.slice(n0);
    assert.equal(tries[0].status, 429);
    assert.equal(tries.filter((r) => r.status === 429).length, 1, 'one 429');
    for (const r of tries.slice(1)) {
      assert.ok(r.at - tries[0].at >= 1900, `waited ${r.at - tries[0].at} ms before sending again`);
      assert.deepEqual(r.errors, []);
    }
    assert.ok(tries.some((r) => r.status === 201 && r.payload.kind === tries[0].payload.kind), 'the rate-limited push itself delivered');
  });

  await step('410: the subscription is removed and the phone told (push.state subscribed:false)', async () => {
    script.set('phone-1', [{ status: 410 }]);
    const from = phone.seen.length;
    const m = await nextTurn('gone');
    await bridge.wait('push_result', (e) => e.status === 410 && e.outcome === 'gone', m, 15000);
    await waitFor(() => pushStates(phone, from).find((s) => !s.subscribed), 'push.state subscribed:false');
    const list = await barrier();
    assert.equal(list.devices.find((d) => d.deviceID === deviceID)?.push, false, 'device list: push off');
    const saved = JSON.parse(fs.readFileSync(bridge.stateFile, 'utf8'));
    assert.equal(saved.push.subscriptions[deviceID], undefined, 'removed from the state file');
    const n = received.length;
    const m2 = await nextTurn('after gone');
    await barrier();
    assert.equal(bridge.events.slice(m2).filter((e) => e.event === 'push_sending').length, 0, 'no more pushes');
    assert.equal(received.length, n);
  });

  await step('an invalid subscription is refused; revoking the device deletes its subscription', async () => {
    const from = phone.seen.length;
    const id = pushCommand(phone, 'push.subscribe', { subscription: newSubscription('phone-2'), kinds: { approval: true, turn: true, pairing: true } });
    assert.equal((await acked(phone, id, from)).status, 'accepted');
    const bad = pushCommand(phone, 'push.subscribe', { subscription: { ...newSubscription('x'), endpoint: 'http://127.0.0.1:1/x' }, kinds: { approval: true, turn: true, pairing: true } });
    await bridge.wait('command_received', (e) => e.status === 'invalid', 0, 15000);
    void bad;
    assert.ok(JSON.parse(fs.readFileSync(bridge.stateFile, 'utf8')).push.subscriptions[deviceID]);
    const m = bridge.mark();
    bridge.send(`revoke ${deviceID}`);
    await bridge.wait('device_revoked', (e) => e.deviceID === deviceID, m, 15000);
    const saved = JSON.parse(fs.readFileSync(bridge.stateFile, 'utf8'));
    assert.equal(saved.push.subscriptions[deviceID], undefined, 'subscription deleted on revoke');
  });
  console.log('PASS push');
  clearTimeout(hardStop);
  server.close();
  process.exit(0);
} catch (e) {
  console.log(`FAIL: ${e.stack || e}`);
  H.dump();
  process.exit(1);
}
