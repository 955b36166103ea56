// Shared harness for the runtime integration tests (claude/claude.test.mjs; codex/codex.test.mjs
// has the same helpers inline): the real relay-node, the real desktop-bridge in --json mode and a
// scripted phone speaking the relay protocol. Every wait is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

export const ORIGIN = 'http://localhost:4173';
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

export function createHarness({ relayBin, bridgeBin, tmp }) {
  const children = new Set();
  const bridges = [];

  async function startRelay() {
    if (process.env.RC_BRIDGE_MOCK_RELAY === '1') {  // development only (see ../mock-relay.mjs)
      const { startMockRelay } = await import('./mock-relay.mjs');
      const m = await startMockRelay(0);
      return { ...m, stop: m.close };
    }
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: '0', ALLOWED_ORIGINS: ORIGIN };
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

  function startBridge(relay, extra, env) {
    const stateFile = path.join(tmp, `state-${Math.random().toString(36).slice(2)}.json`);
    const args = ['--json', '--relay', relay.wsURL, '--join-url', `${ORIGIN}/`, '--state-file', stateFile, '--e2ee', 'preferred', ...extra];
    const proc = spawn(bridgeBin, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
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
      quit: async (cmd = 'quit') => { proc.stdin.write(`${cmd}\n`); return Promise.race([exited, sleep(15000).then(() => 'timeout')]); },
    };
    bridges.push(b);
    return b;
  }

  async function post(relay, p, body) {
    const r = await fetch(relay.httpBase + p, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify(body), signal: AbortSignal.timeout(15000) });
    const text = await r.text();
    let json = null; try { json = JSON.parse(text); } catch { /* not json */ }
    return { status: r.status, body: json, text };
  }

  async function pairPhone(relay, bridge, name, WebSocket) {
    const s = await bridge.wait('session_started', () => true, 0, 15000);
    await bridge.wait('relay_connected', () => true, 0, 15000);
    const q = new URLSearchParams(new URL(s.joinURL).hash.slice(1));
    const r = await post(relay, '/pair/join', { sessionID: q.get('sid'), joinToken: q.get('jt'), deviceName: name });
    assert.equal(r.status, 200, r.text);
    const p = new Phone(relay, s.sessionID, r.body.deviceSessionToken, WebSocket);
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

  return { startRelay, startBridge, pairPhone, dump, killAll };
}

export class Phone {
  constructor(relay, sessionID, token, WebSocket) { this.relay = relay; this.sid = sessionID; this.token = token; this.msgs = []; this.seq = 0; this.WebSocket = WebSocket; }
  async connect() {
    this.ws = new this.WebSocket(this.relay.wsURL, { headers: { origin: ORIGIN } });
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
  snapshots(from = 0) { return this.msgs.slice(from).filter((m) => m.payload?.type === 'snapshot').map((m) => m.payload.payload); }
  async snapshot() { const from = this.mark(); this.requestSnapshot(); return (await this.snapshotWhere(() => true, from)).payload.payload; }
  requestSnapshot(reason = 'initial_sync') { this.ws.send(JSON.stringify({ type: 'relay.snapshot_request', sessionID: this.sid, reason })); }
  command(body) {
    const c = { ...body };
    for (const k of Object.keys(c)) if (c[k] === null || c[k] === undefined) delete c[k];
    const seq = ++this.seq;
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

export const byRole = (s, tid, role) => s.messages.filter((m) => m.threadID === tid && m.role === role).map((m) => m.text);
export const idleOn = (s, tid) => s.selectedThreadID === tid && s.turnState && !s.turnState.isTurnInProgress;

export async function runSteps(steps) {
  const results = [];
  for (const [name, fn] of steps) {
    const t0 = Date.now();
    try { await fn(); results.push([name, 'ok']); console.log(`ok   ${name} (${Date.now() - t0} ms)`); }
    catch (e) { console.log(`FAIL ${name}: ${e.stack || e}`); throw e; }
  }
  return results;
}
