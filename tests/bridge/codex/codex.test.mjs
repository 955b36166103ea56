// Integration test (ctest bridge_codex): REAL relay-node + REAL desktop-bridge --runtime codex
// driving a REAL Codex CLI (`codex app-server`, @openai/codex pinned in package.json) against a
// mock Responses-API model on loopback + a scripted phone.
// Usage: node codex.test.mjs [--bridge PATH] [--relay-bin PATH] [--work-dir DIR]
// Exit 0 = pass, 1 = fail, 77 (ctest SKIP) ONLY when the Codex CLI cannot be installed or run.
// RC_CODEX_DEBUG=1 makes the bridge log the JSON-RPC traffic (printed on failure).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startMockModel, SHELL_TRIGGER, SHELL_MARKER } from './mock-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const BRIDGE = path.resolve(argOf('--bridge', process.env.BRIDGE_BIN || path.join(here, '../../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', process.env.RELAY_BIN || path.join(here, '../../../build/bin/relay-node')));
const ORIGIN = 'http://localhost:4173';
const HARD_LIMIT_MS = 240000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Work dir: not under /tmp when the build tree is available (codex refuses to create its PATH
// helper aliases under a temporary dir; harmless, but keep the run close to a real install).
const baseDir = argOf('--work-dir', null);
if (baseDir) fs.mkdirSync(baseDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(baseDir || os.tmpdir(), 'rc-bridge-codex-'));
const children = new Set();  // ChildProcess objects we spawned
const extraPids = new Set(); // codex app-server PIDs (children of the bridge), killed by PID on exit
let keepTmp = false;
process.on('exit', () => {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  for (const pid of extraPids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (!keepTmp) fs.rmSync(tmp, { recursive: true, force: true });
});
const hardStop = setTimeout(() => { console.log(`FAIL: hard time limit ${HARD_LIMIT_MS} ms`); process.exit(1); }, HARD_LIMIT_MS);
hardStop.unref();

function skip(msg) { console.log(`SKIP: ${msg}`); process.exit(77); }

// ---- Codex CLI: install (pinned) if needed, then check that it runs -----------------------------
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const CODEX_PIN = pkg.dependencies['@openai/codex'];
const codexBin = path.join(here, 'node_modules', '.bin', 'codex');
function installedVersion() {
  try { return JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@openai/codex/package.json'), 'utf8')).version; } catch { return null; }
}
if (installedVersion() !== CODEX_PIN || !fs.existsSync(path.join(here, 'node_modules/ws'))) {
  console.log(`installing @openai/codex@${CODEX_PIN} (npm install in ${here}) ...`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: here, encoding: 'utf8', timeout: 600000 });
  if (r.error || r.status !== 0) skip(`cannot install the Codex CLI (npm install @openai/codex@${CODEX_PIN}): ${r.error || (r.stderr || '').slice(-800)}`);
}
{
  const r = spawnSync(codexBin, ['--version'], { encoding: 'utf8', timeout: 60000 });
  if (r.error || r.status !== 0) skip(`the Codex CLI does not run (${codexBin} --version): ${r.error || (r.stderr || '').slice(-800)}`);
  console.log(`using ${r.stdout.trim()} (${codexBin})`);
}
const { default: WebSocket } = await import('ws');

if (!fs.existsSync(BRIDGE)) { console.log(`FAIL: desktop-bridge not found at ${BRIDGE}`); process.exit(1); }
if (!fs.existsSync(RELAY_BIN)) { console.log(`FAIL: relay-node not found at ${RELAY_BIN}`); process.exit(1); }

async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(15);
  }
}

// ---- relay / bridge / phone helpers (same shapes as ../phone.mjs) ----------------------------------
async function startRelay() {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', ALLOWED_ORIGINS: ORIGIN };
  const proc = spawn(RELAY_BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('exit', () => { children.delete(proc); r(); }));
  const p = await waitFor(() => {
    for (const line of out.split('\n')) if (line.includes('"msg":"listening"')) { const m = /"port"\s*:\s*(\d+)/.exec(line); if (m) return Number(m[1]); }
    return null;
  }, `relay listening (output: ${out.slice(-500)})`, 15000);
  return { port: p, wsURL: `ws://127.0.0.1:${p}/ws`, httpBase: `http://127.0.0.1:${p}`,
    stop: async () => { proc.kill('SIGTERM'); await Promise.race([exited, sleep(5000)]); proc.kill('SIGKILL'); await exited; } };
}

const bridges = [];
function startBridge(relay, extra, env) {
  const stateFile = path.join(tmp, `state-${Math.random().toString(36).slice(2)}.json`);
  const args = ['--json', '--relay', relay.wsURL, '--join-url', 'http://localhost:4173/', '--state-file', stateFile, ...extra];
  const proc = spawn(BRIDGE, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  children.add(proc);
  const events = [];
  let buf = ''; let err = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      try { events.push(JSON.parse(line)); } catch { events.push({ event: 'non_json', line }); }
    }
  });
  proc.stderr.on('data', (d) => { err += d; if (err.length > 4e6) err = err.slice(-2e6); });
  const exited = new Promise((r) => proc.on('exit', (code) => { children.delete(proc); r(code); }));
  const b = {
    proc, events, exited, stderr: () => err,
    send: (line) => proc.stdin.write(`${line}\n`),
    mark: () => events.length,
    wait: (name, pred = () => true, from = 0, ms = 10000) =>
      waitFor(() => events.slice(from).find((e) => e.event === name && pred(e)), `bridge event ${name}`, ms),
  };
  bridges.push(b);
  return b;
}

// PIDs of the bridge's direct children (the codex app-server), from /proc.
function childPids(pid) {
  const out = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function post(relay, p, body) {
  const r = await fetch(relay.httpBase + p, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify(body), signal: AbortSignal.timeout(15000) });
  const text = await r.text();
  let json = null; try { json = JSON.parse(text); } catch { /* not json */ }
  return { status: r.status, body: json, text };
}
function parseJoin(url) {
  const q = new URLSearchParams(new URL(url).hash.slice(1));
  return { sid: q.get('sid'), jt: q.get('jt') };
}

class Phone {
  constructor(relay, sessionID, token) { this.relay = relay; this.sid = sessionID; this.token = token; this.msgs = []; this.seq = 0; }
  async connect() {
    this.ws = new WebSocket(this.relay.wsURL, { headers: { origin: ORIGIN } });
    this.ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString())));
    await new Promise((res, rej) => { this.ws.once('open', res); this.ws.once('error', rej); });
    this.ws.send(JSON.stringify({ type: 'relay.auth', token: this.token }));
    const ok = await this.wait((m) => m.type === 'auth_ok' || m.type === 'disconnect', 'auth_ok');
    if (ok.type !== 'auth_ok') throw new Error(`phone auth failed: ${JSON.stringify(ok)}`);
    return ok;
  }
  mark() { return this.msgs.length; }
  wait(pred, what, from = 0, ms = 10000) { return waitFor(() => this.msgs.slice(from).find(pred), `phone ${what}`, ms); }
  snapshotWhere(pred, from, ms = 30000, what = 'snapshot') { return this.wait((m) => m.payload?.type === 'snapshot' && pred(m.payload.payload), what, from, ms); }
  requestSnapshot(reason = 'initial_sync') { this.ws.send(JSON.stringify({ type: 'relay.snapshot_request', sessionID: this.sid, reason })); }
  command(body) {
    const c = { ...body };
    for (const k of Object.keys(c)) if (c[k] === null || c[k] === undefined) delete c[k];
    const seq = ++this.seq;
    this.ws.send(JSON.stringify({ schemaVersion: 2, sessionID: this.sid, seq, timestamp: new Date().toISOString(), payload: { type: 'command', payload: c } }));
    return seq;
  }
  ack(commandID, from = 0, ms = 10000) { return this.wait((m) => m.payload?.type === 'command_ack' && m.payload.payload.commandID === commandID, `ack ${commandID}`, from, ms); }
  close() { try { this.ws.close(); } catch { /* closed */ } }
}

async function pairPhone(relay, bridge, name) {
  const s = await bridge.wait('session_started', () => true, 0, 15000);
  await bridge.wait('relay_connected', () => true, 0, 15000);
  const { sid, jt } = parseJoin(s.joinURL);
  const r = await post(relay, '/pair/join', { sessionID: sid, joinToken: jt, deviceName: name });
  assert.equal(r.status, 200, r.text);
  const p = new Phone(relay, s.sessionID, r.body.deviceSessionToken);
  await p.connect();
  return p;
}

// ---- scenario ---------------------------------------------------------------------------------------
const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); results.push([name, 'ok']); console.log(`ok   ${name} (${Date.now() - t0} ms)`); }
  catch (e) { results.push([name, 'FAIL']); console.log(`FAIL ${name}: ${e.stack || e}`); throw e; }
}

const userTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'user').map((m) => m.text);
const assistantTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'assistant').map((m) => m.text);
const systemTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'system').map((m) => m.text);
const idleOn = (s, tid) => s.selectedThreadID === tid && s.turnState && !s.turnState.isTurnInProgress;

async function main() {
  const model = await startMockModel();
  const codexHome = path.join(tmp, 'codex-home');
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(codexHome, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.writeFileSync(path.join(codexHome, 'config.toml'), [
    'model = "gpt-5.5"',
    'model_provider = "mock"',
    'approval_policy = "on-request"',
    'sandbox_mode = "workspace-write"',
    '',
    '[model_providers.mock]',
    'name = "Mock"',
    `base_url = "http://127.0.0.1:${model.port}/v1"`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
    '[features]',
    'plugins = false',
    'unbounded_connection_retries = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
  ].join('\n'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || tmp, CODEX_HOME: codexHome, LANG: 'C.UTF-8' };
  if (process.env.RC_CODEX_DEBUG === '1') env.RC_CODEX_DEBUG = '1';
  const codexArgs = ['--', codexBin, '--codex-cwd', workspace];

  const relay = await startRelay();
  let bridge = startBridge(relay, ['--runtime', 'codex', '--auto-approve', '--approvals', ...codexArgs], env);
  let phone; let tid; let firstThread;

  await step('codex runtime comes online (initialize + thread/list)', async () => {
    const st = await bridge.wait('runtime_status', (e) => e.connected === true, 0, 60000);
    assert.match(st.detail, /codex app-server ready/);
    const pids = childPids(bridge.proc.pid);
    assert.ok(pids.length >= 1, 'codex app-server child running');
    for (const p of pids) extraPids.add(p);
  });

  await step('phone pairs and sees one project (the workspace) with a draft thread', async () => {
    phone = await pairPhone(relay, bridge, 'Codex Phone');
    const from = phone.mark();
    phone.requestSnapshot();
    const snap = await phone.snapshotWhere(() => true, from);
    const s = snap.payload.payload;
    assert.equal(s.projects.length, 1);
    assert.match(s.projects[0].name, /workspace/);
    assert.ok(s.selectedThreadID, 'a thread is selected');
    tid = s.selectedThreadID;
    assert.equal(s.threads.find((t) => t.id === tid).title, 'New conversation');
  });

  await step('thread.send_message → streamed codex reply reaches the phone, turn completes', async () => {
    const from = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-1', threadID: tid, text: 'hello codex' });
    const ack = await phone.ack('cmd-codex-1', from);
    assert.equal(ack.payload.payload.status, 'accepted', JSON.stringify(ack.payload.payload));
    const snap = await phone.snapshotWhere((s) => assistantTexts(s, tid).includes('Mock reply: hello codex') && idleOn(s, tid), from, 60000, 'codex reply + idle');
    const s = snap.payload.payload;
    assert.deepEqual(userTexts(s, tid), ['hello codex']);
    assert.equal(s.threads.find((t) => t.id === tid).title, 'hello codex', 'thread titled after the first message');
    assert.ok(s.threads.some((t) => t.title === 'New conversation' && t.id !== tid), 'a fresh draft thread appears');
    const evs = phone.msgs.slice(from).filter((m) => m.payload?.type === 'event').map((m) => m.payload.payload);
    assert.ok(evs.some((e) => e.name === 'turn.status.update' && e.threadID === tid && e.body === 'running'), 'running event');
    assert.equal(evs.filter((e) => e.name === 'turn.status.update' && e.threadID === tid).at(-1).body, 'idle');
    assert.ok(evs.some((e) => e.name === 'thread.message.append' && e.role === 'assistant' && e.threadID === tid), 'assistant append event');
    assert.ok(model.requests.some((r) => r.userText.includes('hello codex')), 'the mock model saw the prompt');
    firstThread = tid;
  });

  await step('approval: codex asks to run a command, the phone approves, output reaches the model', async () => {
    const from = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-2', threadID: tid, text: `please ${SHELL_TRIGGER}` });
    assert.equal((await phone.ack('cmd-codex-2', from)).payload.payload.status, 'accepted');
    const snap = await phone.snapshotWhere((s) => s.pendingRuntimeRequests.length === 1, from, 60000, 'pending approval');
    const req = snap.payload.payload.pendingRuntimeRequests[0];
    assert.equal(req.kind, 'approval');
    assert.equal(req.threadID, tid);
    assert.match(req.requestID, /^\d+$/);
    assert.match(req.summary, new RegExp(SHELL_MARKER));
    assert.deepEqual(req.responseOptions.map((o) => o.id), ['approve_once', 'approve_for_session', 'decline', 'cancel']);
    assert.equal(snap.payload.payload.turnState.isAwaitingRuntimeRequest, true);
    const from2 = phone.mark();
    phone.command({ name: 'runtime_request.respond', commandID: 'cmd-codex-approve', threadID: tid, runtimeRequestID: req.requestID, runtimeRequestKind: 'approval', runtimeRequestResponse: { decision: 'accept', optionID: 'accept' } });
    const ack = await phone.ack('cmd-codex-approve', from2);
    assert.equal(ack.payload.payload.status, 'accepted', JSON.stringify(ack.payload.payload));
    const done = await phone.snapshotWhere((s) => assistantTexts(s, tid).some((t) => t.includes(`Output was: ${SHELL_MARKER}`)) && idleOn(s, tid) && s.pendingRuntimeRequests.length === 0, from2, 60000, 'reply after approval + idle');
    const sys = systemTexts(done.payload.payload, tid);
    assert.ok(sys.some((t) => t.includes(`echo ${SHELL_MARKER}`) && t.includes('exit 0')), `command action card: ${JSON.stringify(sys)}`);
  });

  await step('decline on a new draft thread: the command does not run, the turn still completes', async () => {
    let from = phone.mark();
    phone.requestSnapshot();
    const s0 = (await phone.snapshotWhere(() => true, from)).payload.payload;
    const draft = s0.threads.find((t) => t.title === 'New conversation').id;
    from = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-3', threadID: draft, text: `now ${SHELL_TRIGGER} again` });
    assert.equal((await phone.ack('cmd-codex-3', from)).payload.payload.status, 'accepted');
    const snap = await phone.snapshotWhere((s) => s.pendingRuntimeRequests.length === 1, from, 60000, 'pending approval 2');
    const req = snap.payload.payload.pendingRuntimeRequests[0];
    const from2 = phone.mark();
    phone.command({ name: 'runtime_request.respond', commandID: 'cmd-codex-decline', threadID: draft, runtimeRequestID: req.requestID, runtimeRequestKind: 'approval', runtimeRequestResponse: { decision: 'decline', optionID: 'decline' } });
    assert.equal((await phone.ack('cmd-codex-decline', from2)).payload.payload.status, 'accepted');
    const done = await phone.snapshotWhere((s) => assistantTexts(s, draft).some((t) => t.includes('Output was: missing')) && idleOn(s, draft), from2, 60000, 'reply after decline + idle');
    assert.ok(systemTexts(done.payload.payload, draft).some((t) => t.includes('declined')), 'declined action card');
    tid = draft;
  });

  await step('codex app-server dies → runtime offline with a clear error, sends rejected', async () => {
    const pids = childPids(bridge.proc.pid);
    assert.ok(pids.length >= 1);
    const from = bridge.mark();
    for (const p of pids) process.kill(p, 'SIGKILL');
    const st = await bridge.wait('runtime_status', (e) => e.connected === false, from, 15000);
    assert.match(st.detail, /codex app-server exited \(killed by signal 9\)/);
    const pf = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-offline', threadID: firstThread, text: 'are you there?' });
    const ack = await phone.ack('cmd-codex-offline', pf);
    assert.equal(ack.payload.payload.status, 'rejected');
    assert.equal(ack.payload.payload.reason, 'desktop_offline');
    bridge.send('stop');
    assert.equal(await Promise.race([bridge.exited, sleep(15000).then(() => 'timeout')]), 0);
    phone.close();
  });

  await step('restarted bridge lists the codex threads and resumes one (thread/resume)', async () => {
    bridge = startBridge(relay, ['--runtime', 'codex', '--auto-approve', ...codexArgs], env);
    await bridge.wait('runtime_status', (e) => e.connected === true, 0, 60000);
    const pids = childPids(bridge.proc.pid);
    for (const p of pids) extraPids.add(p);
    phone = await pairPhone(relay, bridge, 'Codex Phone 2');
    let from = phone.mark();
    phone.requestSnapshot();
    const s = (await phone.snapshotWhere(() => true, from)).payload.payload;
    const t = s.threads.find((x) => x.id === firstThread);
    assert.ok(t, `first codex thread listed again with the same ID: ${JSON.stringify(s.threads)}`);
    from = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-resume', threadID: firstThread, text: 'welcome back' });
    assert.equal((await phone.ack('cmd-codex-resume', from)).payload.payload.status, 'accepted');
    await phone.snapshotWhere((x) => assistantTexts(x, firstThread).includes('Mock reply: welcome back') && idleOn(x, firstThread), from, 60000, 'resumed reply');
    const last = model.requests.at(-1);
    assert.ok(last.userText.includes('welcome back'));
    // quit: the bridge kills its codex child
    bridge.send('quit');
    assert.equal(await Promise.race([bridge.exited, sleep(15000).then(() => 'timeout')]), 0);
    await waitFor(() => pids.every((p) => !alive(p)), 'codex child gone after quit', 5000);
    phone.close();
  });

  await relay.stop();
  await model.close();
}

main().then(() => { console.log(`PASS ${results.length} steps`); process.exit(0); })
  .catch((e) => {
    if (!results.length || results.at(-1)[1] !== 'FAIL') console.log(`FAIL: ${e.stack || e}`);
    for (const [i, b] of bridges.entries()) {
      console.log(`--- bridge ${i} events (last 30) ---\n${b.events.slice(-30).map((x) => JSON.stringify(x)).join('\n')}`);
      console.log(`--- bridge ${i} stderr (tail) ---\n${b.stderr().slice(-6000)}`);
    }
    console.log('FAILED');
    process.exit(1);
  });
