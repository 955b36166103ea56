// Shared harness of the bridge integration tests (phone.mjs, codex/codex.test.mjs,
// claude/claude.test.mjs): the real relay-node (or ./mock-relay.mjs with RC_BRIDGE_MOCK_RELAY=1,
// development only), the real desktop-bridge in --json mode, and a scripted phone speaking the
// relay protocol. `ws` is passed in (each test folder installs its own). Every wait is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

export const ORIGIN = 'http://localhost:4173';
export const MOCK_RELAY = process.env.RC_BRIDGE_MOCK_RELAY === '1';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(15);
  }
}

export function parseJoin(url) {
  const q = new URLSearchParams(new URL(url).hash.slice(1));
  return { sid: q.get('sid'), jt: q.get('jt'), relay: q.get('relay') };
}

// createHarness({relayBin, bridgeBin, tmp, WebSocket}): children are tracked (killAll on exit).
export function createHarness({ relayBin, bridgeBin, tmp, WebSocket = null }) {
  const children = new Set();
  const bridges = [];

  async function startRelay(port = 0) {
    if (MOCK_RELAY) {
      const { startMockRelay } = await import('./mock-relay.mjs');
      const m = await startMockRelay(port);
      return { ...m, stop: m.close };
    }
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), ALLOWED_ORIGINS: ORIGIN };
    const proc = spawn(relayBin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

  // The scripted phone is a plaintext reference client: --e2ee preferred lets it in (docs/E2EE.md).
  // `env` undefined = inherited. `strict`: a non-JSON line on stdout fails the test at once.
  function startBridge(relay, extra = [], env = undefined, { stateFile = null, strict = false } = {}) {
    const sf = stateFile || path.join(tmp, `state-${Math.random().toString(36).slice(2)}.json`);
    const args = ['--json', '--relay', relay.wsURL, '--join-url', `${ORIGIN}/`, '--state-file', sf, '--e2ee', 'preferred', ...extra];
    const proc = spawn(bridgeBin, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    children.add(proc);
    const events = [];
    let buf = ''; let err = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        try { events.push(JSON.parse(line)); } catch {
          if (strict) throw new Error(`bridge printed a non-JSON line: ${line}`);
          events.push({ event: 'non_json', line });
        }
      }
    });
    proc.stderr.on('data', (d) => { err += d; if (err.length > 4e6) err = err.slice(-2e6); });
    const exited = new Promise((r) => proc.on('exit', (code) => { children.delete(proc); r(code); }));
    const b = {
      proc, events, exited, stateFile: sf, stderr: () => err,
      send: (line) => proc.stdin.write(`${line}\n`),
      mark: () => events.length,
      wait: (name, pred = () => true, from = 0, ms = 10000) =>
        waitFor(() => events.slice(from).find((e) => e.event === name && pred(e)), `bridge event ${name}`, ms),
      quit: async (cmd = 'quit') => { proc.stdin.write(`${cmd}\n`); return Promise.race([exited, sleep(15000).then(() => 'timeout')]); },
    };
    bridges.push(b);
    return b;
  }

  async function post(relay, p, body, origin = ORIGIN) {
    const r = await fetch(relay.httpBase + p, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(body), signal: AbortSignal.timeout(15000) });
    const text = await r.text();
    let json = null; try { json = JSON.parse(text); } catch { /* not json */ }
    return { status: r.status, body: json, text };
  }

  const phone = (relay, sessionID, token, ws = WebSocket) => new Phone(relay, sessionID, token, ws);

  // Pairs a phone through the join link of a bridge started with --auto-approve and connects it.
  async function pairPhone(relay, bridge, name, ws = WebSocket) {
    const s = await bridge.wait('session_started', () => true, 0, 15000);
    await bridge.wait('relay_connected', () => true, 0, 15000);
    const { sid, jt } = parseJoin(s.joinURL);
    const r = await post(relay, '/pair/join', { sessionID: sid, joinToken: jt, deviceName: name });
    assert.equal(r.status, 200, r.text);
    const p = phone(relay, s.sessionID, r.body.deviceSessionToken, ws);
    await p.connect();
    return p;
  }

  function dump() {
    for (const [i, b] of bridges.entries()) {
      console.log(`--- bridge ${i} events (last 30) ---\n${b.events.slice(-30).map((x) => JSON.stringify(x)).join('\n')}`);
      console.log(`--- bridge ${i} stderr (tail) ---\n${b.stderr().slice(-6000)}`);
    }
  }

  function killAll() { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } }

  return { startRelay, startBridge, post, phone, pairPhone, dump, killAll, children, bridges };
}

export class Phone {
  constructor(relay, sessionID, token, WebSocket) { this.relay = relay; this.sid = sessionID; this.token = token; this.msgs = []; this.seq = 0; this.closed = null; this.WebSocket = WebSocket; }
  async connect() {
    this.ws = new this.WebSocket(this.relay.wsURL, { headers: { origin: ORIGIN } });
    this.ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString())));
    this.ws.on('close', (code) => { this.closed = code; });
    await new Promise((res, rej) => { this.ws.once('open', res); this.ws.once('error', rej); });
    this.ws.send(JSON.stringify({ type: 'relay.auth', token: this.token }));
    const ok = await this.wait((m) => m.type === 'auth_ok' || m.type === 'disconnect', 'auth_ok');
    if (ok.type !== 'auth_ok') throw new Error(`phone auth failed: ${JSON.stringify(ok)}`);
    if (ok.nextDeviceSessionToken) this.token = ok.nextDeviceSessionToken;
    return ok;
  }
  mark() { return this.msgs.length; }
  wait(pred, what, from = 0, ms = 10000) { return waitFor(() => this.msgs.slice(from).find(pred), `phone ${what}`, ms); }
  snapshotWhere(pred, from, ms = 30000, what = 'snapshot') { return this.wait((m) => m.payload?.type === 'snapshot' && pred(m.payload.payload), what, from, ms); }
  snapshots(from = 0) { return this.msgs.slice(from).filter((m) => m.payload?.type === 'snapshot').map((m) => m.payload.payload); }
  async snapshot() { const from = this.mark(); this.requestSnapshot(); return (await this.snapshotWhere(() => true, from)).payload.payload; }
  requestSnapshot(reason = 'initial_sync') { this.ws.send(JSON.stringify({ type: 'relay.snapshot_request', sessionID: this.sid, reason })); }
  // Sends a command envelope; fields that are null/undefined are left out (the relay refuses
  // explicit nulls in some). `seq` may be given to replay one.
  command(body, seq = ++this.seq) {
    const c = { ...body };
    for (const k of Object.keys(c)) if (c[k] === null || c[k] === undefined) delete c[k];
    this.ws.send(JSON.stringify({ schemaVersion: 2, sessionID: this.sid, seq, timestamp: new Date().toISOString(), payload: { type: 'command', payload: c } }));
    return seq;
  }
  ack(commandID, from = 0, ms = 10000) { return this.wait((m) => m.payload?.type === 'command_ack' && m.payload.payload.commandID === commandID, `ack ${commandID}`, from, ms); }
  async send(commandID, body) {
    const from = this.mark();
    this.command({ commandID, ...body });
    return (await this.ack(commandID, from)).payload.payload;
  }
  close() { try { this.ws.close(); } catch { /* closed */ } }
}

// PIDs of a process's direct children, from /proc.
export function childPids(pid) {
  const out = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}
export const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
export const cmdline = (pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return []; } };

// Transcript helpers over a snapshot payload.
export const byRole = (s, tid, role) => s.messages.filter((m) => m.threadID === tid && m.role === role).map((m) => m.text);
export const userTexts = (s, tid) => byRole(s, tid, 'user');
export const assistantTexts = (s, tid) => byRole(s, tid, 'assistant');
export const systemTexts = (s, tid) => byRole(s, tid, 'system');
export const idleOn = (s, tid) => s.selectedThreadID === tid && s.turnState && !s.turnState.isTurnInProgress;

// Steps: each is timed and recorded in `results` ([name, 'ok', ms] or [name, 'FAIL']).
export const results = [];
export async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); results.push([name, 'ok', Date.now() - t0]); console.log(`ok   ${name} (${Date.now() - t0} ms)`); }
  catch (e) { results.push([name, 'FAIL']); console.log(`FAIL ${name}: ${e.stack || e}`); throw e; }
}
export async function runSteps(steps) {
  for (const [name, fn] of steps) await step(name, fn);
  return results;
}
