// Malicious-relay test (docs/E2EE.md, issue 13): a man-in-the-middle proxy between the REAL relay
// and the clients — the REAL desktop-bridge (--e2ee required) and the REAL PWA controller
// (pwa/src/core/client.ts, bundled with esbuild, Node WebCrypto). The proxy reads and rewrites
// frames: it substitutes the phone's key, substitutes the desktop's key, replays a captured
// handshake, replays / reorders / drops / bit-flips ciphertext both ways and strips encryption.
// Every attack must be detected and named, nothing injected may reach the agent, and no frame the
// proxy saw may contain a prompt or a reply in clear.
// Usage: node mitm.mjs --bridge PATH --relay-bin PATH   (exit 0 ok, 1 fail, 77 skip)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (n, d) => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1] : d; };
const BRIDGE = path.resolve(argOf('--bridge', path.join(here, '../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', path.join(here, '../../build/bin/relay-node')));
const PWA = path.join(here, '../../pwa');
const ORIGIN = 'http://localhost:4173';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-mitm-'));
const children = new Set();
process.on('exit', () => { for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ } fs.rmSync(tmp, { recursive: true, force: true }); });
const hardStop = setTimeout(() => { console.error('FAIL: overall timeout'); process.exit(1); }, 90_000);

if (!fs.existsSync(RELAY_BIN) || !fs.existsSync(BRIDGE)) { console.log('SKIP: relay-node or desktop-bridge not built'); process.exit(77); }
const esbuildPath = path.join(PWA, 'node_modules/esbuild/lib/main.js');
if (!fs.existsSync(esbuildPath)) { console.log('SKIP: run npm ci in pwa/ (esbuild bundles the PWA controller)'); process.exit(77); }

async function waitFor(fn, what, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) { const v = fn(); if (v) return v; if (Date.now() > end) throw new Error(`timeout waiting for ${what}`); await sleep(20); }
}

// ---- the PWA controller, bundled --------------------------------------------------------------
const { build } = await import(pathToFileURL(esbuildPath).href);
const entry = path.join(tmp, 'entry.ts');
fs.writeFileSync(entry, `export { RemoteClient } from ${JSON.stringify(path.join(PWA, 'src/core/client.ts'))};
export { MemoryStorage } from ${JSON.stringify(path.join(PWA, 'src/core/storage.ts'))};
export { MemoryKeyStore } from ${JSON.stringify(path.join(PWA, 'src/core/e2eeKeys.ts'))};
export { setCrypto } from ${JSON.stringify(path.join(PWA, 'src/core/e2eeCrypto.ts'))};
export { parseJoinLink } from ${JSON.stringify(path.join(PWA, 'src/core/joinLink.ts'))};\n`);
await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: path.join(tmp, 'pwa.mjs'), logLevel: 'error' });
const P = await import(pathToFileURL(path.join(tmp, 'pwa.mjs')).href);
P.setCrypto(webcrypto);

// ---- proxy: HTTP pass-through + websocket rewriting -------------------------------------------
const frames = []; // every text frame the proxy saw: { dir: 'p2r'|'r2p', role, text }
const hooks = { phone: null, desktop: null }; // (text, conn) => string[] (frames to forward)
let relayPort = 0;
const proxy = http.createServer(async (req, res) => {
  const chunks = []; for await (const c of req) chunks.push(c);
  const r = await fetch(`http://127.0.0.1:${relayPort}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json', origin: req.headers.origin ?? ORIGIN }, body: req.method === 'GET' ? undefined : Buffer.concat(chunks) }).catch(() => null);
  if (!r) { res.writeHead(502).end(); return; }
  res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer()));
});
const wss = new WebSocketServer({ noServer: true });
const conns = new Set();
let maxSeq = 0;
proxy.on('upgrade', (req, sock, head) => wss.handleUpgrade(req, sock, head, (client) => {
  const up = new WebSocket(`ws://127.0.0.1:${relayPort}${req.url}`, { headers: { origin: req.headers.origin ?? ORIGIN } });
  // The real relay behind us enforces seq monotonicity, so every phone frame we forward (or
  // inject) is renumbered; a malicious relay itself would not even need that.
  const renumber = (t) => { if (conn.role !== 'phone') return t; try { const m = JSON.parse(t); if (typeof m.seq !== 'number') return t; m.seq = maxSeq = Math.max(maxSeq + 1, m.seq); return JSON.stringify(m); } catch { return t; } };
  const conn = { role: null, client, up, toRelay: (t) => { const r = renumber(t); frames.push({ dir: 'inj', role: conn.role, text: r }); return up.readyState === 1 && up.send(r); }, toClient: (t) => client.readyState === 1 && client.send(t) };
  conns.add(conn);
  const early = [];
  up.on('open', () => { for (const t of early.splice(0)) up.send(t); });
  client.on('message', (d) => {
    const text = d.toString();
    frames.push({ dir: 'c2r', role: conn.role, text });
    const out = conn.role && hooks[conn.role] ? hooks[conn.role](text, conn) : [text];
    for (const t of out) (up.readyState === 1 ? up.send(renumber(t)) : early.push(t));
  });
  up.on('message', (d) => {
    const text = d.toString();
    try { const m = JSON.parse(text); if (m.type === 'auth_ok') conn.role = m.deviceID ? 'phone' : 'desktop'; } catch { /* not json */ }
    frames.push({ dir: 'r2c', role: conn.role, text });
    const out = conn.role && hooks[`${conn.role}In`] ? hooks[`${conn.role}In`](text, conn) : [text];
    for (const t of out) conn.toClient(t);
  });
  const end = () => { conns.delete(conn); try { client.close(); } catch { /* */ } try { up.close(); } catch { /* */ } };
  client.on('close', end); up.on('close', end); client.on('error', end); up.on('error', end);
}));
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const proxyPort = proxy.address().port;

// ---- relay + bridge ---------------------------------------------------------------------------
const relay = spawn(RELAY_BIN, [], { env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', ALLOWED_ORIGINS: ORIGIN, PUBLIC_BASE_URL: `http://127.0.0.1:${proxyPort}` }, stdio: ['ignore', 'pipe', 'pipe'] });
children.add(relay);
let relayOut = '';
relay.stdout.on('data', (d) => { relayOut += d; }); relay.stderr.on('data', (d) => { relayOut += d; });
relayPort = await waitFor(() => { const m = /"msg":"listening".*?"port"\s*:\s*(\d+)/.exec(relayOut); return m ? Number(m[1]) : 0; }, 'relay listening');

const agentLog = path.join(tmp, 'agent-input.txt');
const bridge = spawn(BRIDGE, ['--json', '--relay', `ws://127.0.0.1:${proxyPort}/ws`, '--join-url', `${ORIGIN}/`, '--state-file', path.join(tmp, 'state.json'), '--auto-approve', '--runtime', 'exec', '--', 'sh', '-c', `tee -a ${agentLog} | tr a-z A-Z`], { stdio: ['pipe', 'pipe', 'pipe'] });
children.add(bridge);
const events = [];
let bbuf = '';
bridge.stdout.on('data', (d) => { bbuf += d; let i; while ((i = bbuf.indexOf('\n')) >= 0) { const l = bbuf.slice(0, i); bbuf = bbuf.slice(i + 1); try { events.push(JSON.parse(l)); } catch { /* */ } } });
bridge.stderr.on('data', () => {});
const ev = (name, pred = () => true, from = 0, ms) => waitFor(() => events.slice(from).find((e) => e.event === name && pred(e)), `bridge ${name}`, ms);

// ---- phone ------------------------------------------------------------------------------------
function makePhone() {
  const storage = new P.MemoryStorage();
  return new P.RemoteClient({
    storage, keys: new P.MemoryKeyStore(),
    createSocket: (url) => new WebSocket(url, { headers: { origin: ORIGIN } }),
    fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers ?? {}), origin: ORIGIN } }),
    setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h), now: () => Date.now(), random: Math.random,
  });
}
async function pairPhone(joinURL) {
  const c = makePhone();
  c.offerJoinLink(P.parseJoinLink(joinURL), ORIGIN);
  assert.ok(c.state.pair.link?.dk && c.state.pair.link?.ps, 'join link carries dk and ps');
  assert.ok(await c.pair('MITM test phone'), 'pairing (join) succeeded');
  return c;
}
const inner = (t) => { try { const m = JSON.parse(t); return m.payload?.type === 'e2ee' ? m.payload.payload : null; } catch { return null; } };
const outerD = (t) => { try { const m = JSON.parse(t); return m.type === 'e2ee' ? m : null; } catch { return null; } };
const results = [];
const mitmKey = async (name) => Buffer.from(await webcrypto.subtle.exportKey('raw', (await webcrypto.subtle.generateKey({ name, namedCurve: 'P-256' }, false, name === 'ECDH' ? ['deriveBits'] : ['sign'])).publicKey)).toString('base64url');
const reasonsSeen = (client) => { const seen = new Set(); client.subscribe((st) => { if (st.e2ee.reason) seen.add(st.e2ee.reason); }); return seen; };
const named = (attack, where, reason) => { results.push({ attack, where, reason }); console.log(`  ok  ${attack}: detected by ${where} as ${reason}`); };

try {
  const started = await ev('session_started');
  await ev('relay_connected'); // /pair/join needs the desktop online
  const joinURL = started.joinURL.replace(/relay=[^&]*/, `relay=${encodeURIComponent(`http://127.0.0.1:${proxyPort}`)}`);

  // 1. substitute the phone's key in its first hello → pair_mac_mismatch on both screens
  let from = events.length;
  const fakePk = await mitmKey('ECDSA');
  hooks.phone = (t) => { const b = inner(t); if (b?.k === 'hello' && b.pk) { const m = JSON.parse(t); m.payload.payload.pk = fakePk; return [JSON.stringify(m)]; } return [t]; };
  const victim = makePhone();
  const victimSeen = reasonsSeen(victim);
  victim.offerJoinLink(P.parseJoinLink(joinURL), ORIGIN);
  assert.ok(victim.state.pair.link?.dk && victim.state.pair.link?.ps, 'join link carries dk and ps');
  assert.ok(await victim.pair('victim phone'), `victim pairing: ${JSON.stringify(victim.state.pair.error)}`);
  const r1 = await ev('e2ee_refused', (e) => e.reason === 'pair_mac_mismatch', from);
  await waitFor(() => victimSeen.has('pair_mac_mismatch'), 'phone shows pair_mac_mismatch');
  named('substitute phone key', 'desktop + phone', r1.reason);
  hooks.phone = null;

  // 2. new QR; substitute the desktop's ephemeral key / signature in accept → bad_accept_signature
  from = events.length;
  const addEv = events.length; bridge.stdin.write('add-device\n');
  const add = await ev('add_device', () => true, addEv);
  const join2 = add.joinURL.replace(/relay=[^&]*/, `relay=${encodeURIComponent(`http://127.0.0.1:${proxyPort}`)}`);
  let substituted = false;
  const fakeEph = await mitmKey('ECDH');
  hooks.phoneIn = (t) => { const d = outerD(t); if (d?.k === 'accept' && !substituted) { substituted = true; d.eph = fakeEph; return [JSON.stringify(d)]; } return [t]; };
  const phone = await pairPhone(join2);
  const r2 = await ev('e2ee_resync', (e) => e.reason === 'bad_accept_signature', from);
  named('substitute desktop key', 'phone (told the desktop)', r2.reason);
  hooks.phoneIn = null;
  await waitFor(() => phone.state.e2ee.mode === 'verified', 'phone verified after a clean retry', 20000);
  const verified = await ev('e2ee_verified', () => true, from);
  assert.equal(verified.safetyCode, phone.state.e2ee.safetyCode, 'both screens show the same safety code');
  console.log(`  ok  paired with E2EE, safety code ${verified.safetyCode} on both sides`);

  // a legitimate prompt goes through; capture this connection's handshake for the replay attack
  const threadID = await waitFor(() => phone.state.data.desktopSelectedThreadID ?? phone.state.data.threads?.[0]?.id, 'snapshot with a thread');
  assert.ok(threadID, 'a thread exists');
  const PROMPT = 'secret prompt about payroll';
  from = events.length;
  assert.ok(phone.sendMessage(threadID, PROMPT).ok);
  await ev('command_received', (e) => e.status === 'accepted', from);
  await waitFor(() => fs.existsSync(agentLog) && fs.readFileSync(agentLog, 'utf8').includes(PROMPT), 'agent got the prompt');

  // After an attack the connection must resynchronise: a fresh handshake verified on both sides
  // (events after `mark`) before the next attack starts — not the phone's old, torn-down channel.
  let mark = events.length;
  const resynced = async () => {
    await ev('e2ee_verified', () => true, mark, 20000);
    await waitFor(() => phone.e2ee.open, 'phone channel open again', 20000);
  };
  const phoneSeen = reasonsSeen(phone);

  // 4-7. record attacks on phone → desktop ciphertext
  // each mutator sees the phone's records in order and returns what to forward
  const recAttack = async (attack, mutator, want) => {
    const at = events.length;
    hooks.phone = (t) => { const b = inner(t); if (!b || b.k !== 'rec') return [t]; const out = mutator(t, b); if (out.done) hooks.phone = null; return out.frames; };
    phone.sendMessage(threadID, 'first message for the attack');
    phone.sendMessage(threadID, 'second message for the attack');
    const r = await ev('e2ee_resync', (e) => e.reason === want, at, 20000);
    hooks.phone = null;
    named(attack, 'desktop', r.reason);
    mark = events.indexOf(r);
    await resynced();
  };
  await recAttack('replay record', (t) => ({ frames: [t, t], done: true }), 'replayed_record');
  let held = null;
  await recAttack('reorder records', (t) => { if (!held) { held = t; return { frames: [], done: false }; } return { frames: [t, held], done: true }; }, 'record_gap');
  await recAttack('drop record', () => ({ frames: [], done: true }), 'record_gap');
  await recAttack('bit-flip record', (t, b) => { const m = JSON.parse(t); const ct = Buffer.from(b.ct, 'base64url'); ct[0] ^= 1; m.payload.payload.ct = ct.toString('base64url'); return { frames: [JSON.stringify(m)], done: true }; }, 'bad_record_tag');

  // 8. bit-flip desktop → phone ciphertext: the phone names it and tells the desktop
  from = events.length;
  let flipped = false;
  hooks.phoneIn = (t) => { const d = outerD(t); if (d?.k === 'rec' && !flipped && phone.e2ee.open) { flipped = true; const ct = Buffer.from(d.ct, 'base64url'); ct[ct.length - 1] ^= 0x20; d.ct = ct.toString('base64url'); return [JSON.stringify(d)]; } return [t]; };
  phone.requestSnapshot('visibility_resume', true);
  const r8 = await ev('e2ee_resync', (e) => e.reason === 'bad_record_tag', from, 20000);
  hooks.phoneIn = null;
  assert.ok(phoneSeen.has('bad_record_tag'), 'the phone names the flipped record');
  named('bit-flip desktop record', 'phone (told the desktop)', r8.reason);
  mark = events.indexOf(r8);
  await resynced();

  // 3. replay captured handshakes (hello + finish) on the phone's connection: the one that opened
  // the current channel → replayed_handshake; an older one → bad_finish_signature (fresh nonce)
  const hs = frames.filter((f) => f.role === 'phone' && f.dir === 'c2r' && ['hello', 'finish'].includes(inner(f.text)?.k)).map((f) => f.text);
  const done = []; // completed reconnect handshakes (no pairing proof), oldest first
  for (let i = 1; i < hs.length; i++) if (inner(hs[i]).k === 'finish' && inner(hs[i - 1]).k === 'hello' && !inner(hs[i - 1]).pk) done.push([hs[i - 1], hs[i]]);
  assert.ok(done.length >= 2, 'captured two reconnect handshakes');
  const pc = [...conns].find((c) => c.role === 'phone');
  for (const [captured, want] of [[done[done.length - 1], 'replayed_handshake'], [done[0], 'bad_finish_signature']]) {
    from = events.length;
    for (const t of captured) { pc.toRelay(t); await sleep(200); }
    const r3 = await ev('e2ee_refused', (e) => e.reason === want, from);
    named(want === 'replayed_handshake' ? 'replay current handshake' : 'replay older handshake', 'desktop', r3.reason);
  }
  // the injected handshake ended only itself: the phone's channel still carries commands
  from = events.length;
  assert.ok(phone.e2ee.open, 'phone channel untouched by the injected handshake');
  const AFTER = 'still encrypted after the replayed handshake';
  assert.ok(phone.sendMessage(threadID, AFTER).ok);
  await ev('command_received', (e) => e.status === 'accepted', from);
  await waitFor(() => fs.readFileSync(agentLog, 'utf8').includes(AFTER), 'agent got the message sent after the replay');
  assert.ok(!events.slice(from).some((e) => e.event === 'e2ee_resync'), 'no resync caused by the injected handshake');

  // 9. strip encryption: forged plaintext command → e2ee_required; forged plaintext snapshot → phone refuses
  await waitFor(() => phone.e2ee.open, 'channel open', 20000);
  from = events.length;
  const forged = { schemaVersion: 2, sessionID: started.sessionID, seq: 1, timestamp: new Date().toISOString(), payload: { type: 'command', payload: { name: 'thread.send_message', commandID: 'cmd-forged-1', threadID, text: 'INJECTED-strip rm -rf ~' } } };
  [...conns].find((c) => c.role === 'phone').toRelay(JSON.stringify(forged));
  const r9 = await ev('e2ee_refused', (e) => e.reason === 'e2ee_required', from);
  named('strip encryption (phone → desktop)', 'desktop', r9.reason);
  let forgedApplied = false;
  phone.subscribe((st) => { forgedApplied ||= JSON.stringify(st.data).includes('INJECTED'); });
  [...conns].find((c) => c.role === 'phone').toClient(JSON.stringify({ schemaVersion: 2, sessionID: started.sessionID, seq: 999999, timestamp: new Date().toISOString(), payload: { type: 'snapshot', payload: { threads: [{ id: 'forged', title: 'INJECTED' }] } } }));
  await waitFor(() => phoneSeen.has('plaintext_refused'), 'phone refuses plaintext');
  await sleep(200);
  assert.ok(!forgedApplied && !JSON.stringify(phone.state.data).includes('INJECTED'), 'forged plaintext snapshot not applied');
  named('strip encryption (desktop → phone)', 'phone', 'plaintext_refused');

  // the agent read only what the real phone typed; the proxy read no prompt or reply in clear
  await sleep(500);
  const agentInput = fs.readFileSync(agentLog, 'utf8');
  assert.ok(!agentInput.includes('INJECTED'), `injected text reached the agent: ${agentInput}`);
  assert.ok(!events.some((e) => e.event === 'command_received' && e.commandID === 'cmd-forged-1' && e.status === 'accepted'), 'forged command accepted');
  const wire = frames.map((f) => f.text).join('\n');
  for (const secret of [PROMPT, PROMPT.toUpperCase(), 'first message for the attack', 'FIRST MESSAGE FOR THE ATTACK', AFTER, AFTER.toUpperCase()])
    assert.ok(!wire.includes(secret), `the relay saw "${secret}" in clear`);
  assert.ok(frames.length > 30, 'the proxy saw the traffic');
  console.log(`PASS: ${results.length} attacks detected and named; ${frames.length} frames through the proxy, no plaintext content`);
  clearTimeout(hardStop);
  process.exit(0);
} catch (e) {
  console.error(`FAIL: ${e.stack ?? e}`);
  console.error(`bridge events: ${JSON.stringify(events.slice(-15))}`);
  if (process.env.MITM_DEBUG) console.error(relayOut.split("\n").slice(-30).join("\n"));
  if (process.env.MITM_DEBUG) for (const f of frames.filter((x) => x.role === 'phone' || (x.role === 'desktop' && x.dir === 'r2c'))) { const b = inner(f.text) ?? outerD(f.text); let m = null; try { m = JSON.parse(f.text); } catch { /* */ } console.error(f.role, f.dir, m?.seq ?? '', b ? `${b.k} ch=${b.ch ?? ''} c=${b.c ?? ''} ${b.reason ?? ''} to=${b.to ?? ''}` : `${m?.type ?? m?.payload?.type} ${f.text.slice(0, 160)}`); }
  process.exit(1);
}
