// Shared helpers of the codex runtime test: the real relay-node, the real desktop-bridge in JSON
// mode, and a scripted phone speaking the app schema through the relay (same shapes as
// ../phone.mjs). Every child is tracked and killed by PID when the test process exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

export const ORIGIN = 'http://localhost:4173';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const children = new Set();  // ChildProcess objects we spawned
export const extraPids = new Set(); // codex app-server PIDs (children of the bridge), killed by PID on exit
let RELAY_BIN = '';
let BRIDGE = '';
let TMP = '';
export function configure({ relayBin, bridge, tmp }) { RELAY_BIN = relayBin; BRIDGE = bridge; TMP = tmp; }

export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(15);
  }
}

// ---- relay / bridge / phone helpers (same shapes as ../phone.mjs) ----------------------------------
export const MOCK_RELAY = process.env.RC_BRIDGE_MOCK_RELAY === '1';  // development only (../mock-relay.mjs)
export async function startRelay() {
  if (MOCK_RELAY) {
    const { startMockRelay } = await import('../mock-relay.mjs');
    const m = await startMockRelay(0);
    return { ...m, stop: m.close };
  }
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

export const bridges = [];
export function startBridge(relay, extra, env) {
  const stateFile = path.join(TMP, `state-${Math.random().toString(36).slice(2)}.json`);
  const args = ['--json', '--relay', relay.wsURL, '--join-url', 'http://localhost:4173/', '--state-file', stateFile, '--e2ee', 'preferred', ...extra];
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

export async function post(relay, p, body) {
  const r = await fetch(relay.httpBase + p, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify(body), signal: AbortSignal.timeout(15000) });
  const text = await r.text();
  let json = null; try { json = JSON.parse(text); } catch { /* not json */ }
  return { status: r.status, body: json, text };
}
export function parseJoin(url) {
  const q = new URLSearchParams(new URL(url).hash.slice(1));
  return { sid: q.get('sid'), jt: q.get('jt') };
}

export class Phone {
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

export async function pairPhone(relay, bridge, name) {
  const s = await bridge.wait('session_started', () => true, 0, 15000);
  await bridge.wait('relay_connected', () => true, 0, 15000);
  const { sid, jt } = parseJoin(s.joinURL);
  const r = await post(relay, '/pair/join', { sessionID: sid, joinToken: jt, deviceName: name });
  assert.equal(r.status, 200, r.text);
  const p = new Phone(relay, s.sessionID, r.body.deviceSessionToken);
  await p.connect();
  return p;
}

// ---- steps and transcript helpers -------------------------------------------------------------------
export const results = [];
export async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); results.push([name, 'ok']); console.log(`ok   ${name} (${Date.now() - t0} ms)`); }
  catch (e) { results.push([name, 'FAIL']); console.log(`FAIL ${name}: ${e.stack || e}`); throw e; }
}

export const userTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'user').map((m) => m.text);
export const assistantTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'assistant').map((m) => m.text);
export const systemTexts = (s, tid) => s.messages.filter((m) => m.threadID === tid && m.role === 'system').map((m) => m.text);
export const idleOn = (s, tid) => s.selectedThreadID === tid && s.turnState && !s.turnState.isTurnInProgress;

