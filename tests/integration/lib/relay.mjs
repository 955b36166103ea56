// Start / stop the real relay binary (build/bin/relay-node) for black-box tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './http.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const TEST_DIR = path.resolve(here, '..');
export const RELAY_BIN = process.env.RELAY_BIN
  ? path.resolve(process.env.RELAY_BIN)
  : path.resolve(TEST_DIR, '../../build/bin/relay-node');

// Default environment of every test relay (SCENARIOS.md preamble).
export const BASE_ENV = Object.freeze({
  HOST: '127.0.0.1',
  PORT: '0',
  ALLOWED_ORIGINS: 'http://localhost:4173',
});

const PASS_THROUGH = /^(PATH|LD_LIBRARY_PATH|HOME|TMPDIR|LANG|LC_[A-Z]+|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS|TSAN_OPTIONS|IO_THREADS|ACTOR_THREADS)$/;
// (IO_THREADS / ACTOR_THREADS pass through so that the TSan run, scripts/test.sh with
// RC_SANITIZE=thread, drives every relay with 2 + 2 threads; a test that sets them wins.)

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

export function assertRelayBinary() {
  let st;
  try { st = fs.statSync(RELAY_BIN); } catch { st = null; }
  if (!st || !st.isFile()) {
    throw new Error(
      `relay binary not found at ${RELAY_BIN}. Build it first (cmake --build build) ` +
      'or point RELAY_BIN at an existing relay-node executable.');
  }
}

function buildEnv(overrides) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (PASS_THROUGH.test(k)) env[k] = v;
  Object.assign(env, BASE_ENV);
  for (const [k, v] of Object.entries(overrides || {})) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

function spawnRelay(overrides) {
  assertRelayBinary();
  const proc = spawn(RELAY_BIN, [], { env: buildEnv(overrides), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const state = { out: '', exited: false, code: null, signal: null };
  const exited = new Promise((resolve) => {
    proc.on('close', (code, signal) => {
      state.exited = true; state.code = code; state.signal = signal;
      live.delete(proc);
      if (state.listening && !state.stopping) {
        console.error(`[relay pid ${proc.pid} exited unexpectedly: code=${code} signal=${signal}]\n${state.out.slice(-3000)}`);
      }
      resolve({ code, signal });
    });
    proc.on('error', (err) => {
      state.out += `\n[spawn error] ${err.message}\n`;
      state.exited = true;
      live.delete(proc);
      resolve({ code: -1, signal: null, error: err });
    });
  });
  proc.stdout.on('data', (d) => { state.out += d.toString('utf8'); });
  proc.stderr.on('data', (d) => { state.out += d.toString('utf8'); });
  return { proc, state, exited };
}

function findListeningPort(text) {
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"listening"')) continue;
    const m = /"port"\s*:\s*(\d+)/.exec(line);
    if (m && Number(m[1]) > 0) return Number(m[1]);
  }
  return null;
}

/**
 * Start relay-node with env overrides (undefined removes a base key).
 * Resolves with {port, proc, pid, logs(), stop(), kill(), exited, post, get, metrics, health, wsURL}.
 */
export async function startRelay(overrides = {}, { startTimeoutMs = 10000 } = {}) {
  const { proc, state, exited } = spawnRelay(overrides);
  const deadline = Date.now() + startTimeoutMs;
  let port = null;
  while (Date.now() < deadline) {
    port = findListeningPort(state.out);
    if (port || state.exited) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!port) {
    try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    throw new Error(
      `relay did not report "msg":"listening" within ${startTimeoutMs} ms ` +
      `(exited=${state.exited} code=${state.code} signal=${state.signal}). Output:\n${state.out.slice(-4000)}`);
  }
  state.listening = true;
  const admin = /"msg":"listening"[^\n]*"adminPort":(\d+)/.exec(state.out);
  const relay = {
    port,
    adminPort: admin ? Number(admin[1]) : 0,  // the bound admin port (ADMIN_PORT 0 = ephemeral)
    proc,
    pid: proc.pid,
    exited,
    get exitState() { return { exited: state.exited, code: state.code, signal: state.signal }; },
    logs: () => state.out,
    wsURL: `ws://127.0.0.1:${port}/ws`,
    httpBase: `http://127.0.0.1:${port}`,
    request: (method, p, opts) => request(port, method, p, opts),
    post: (p, json, opts = {}) => request(port, 'POST', p, { ...opts, json }),
    get: (p, opts = {}) => request(port, 'GET', p, opts),
    async metrics() {
      const r = await request(port, 'GET', '/metricsz');
      if (r.status !== 200 || !r.body) throw new Error(`GET /metricsz -> ${r.status} ${r.text}`);
      return r.body;
    },
    async health() {
      const r = await request(port, 'GET', '/healthz');
      if (r.status !== 200 || !r.body) throw new Error(`GET /healthz -> ${r.status} ${r.text}`);
      return r.body;
    },
    /** SIGTERM, wait up to graceMs, then SIGKILL. Resolves with {code, signal}. */
    get stopping() { return state.stopping; },
    /** Send a signal as part of an intended shutdown (no "exited unexpectedly" report). */
    signal(sig) { state.stopping = true; try { process.kill(proc.pid, sig); } catch { /* gone */ } },
    async stop(graceMs = 5000) {
      state.stopping = true;
      if (state.exited) return { code: state.code, signal: state.signal };
      try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
      const res = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), graceMs))]);
      if (res) return res;
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      return { code: null, signal: 'SIGKILL', timedOut: true };
    },
    async kill() {
      state.stopping = true;
      if (state.exited) return;
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
  return relay;
}

/**
 * Run relay-node expecting it to exit on its own (startup validation failure).
 * Resolves with {code, signal, output, listened}.
 */
export async function runRelayToExit(overrides = {}, { timeoutMs = 5000 } = {}) {
  const { proc, state, exited } = spawnRelay(overrides);
  const res = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), timeoutMs))]);
  if (!res) {
    try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    return { code: null, signal: 'SIGKILL', output: state.out, listened: findListeningPort(state.out) !== null, timedOut: true };
  }
  return { code: res.code, signal: res.signal, output: state.out, listened: findListeningPort(state.out) !== null };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll fn() until it returns a truthy value or timeoutMs elapses. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last=${JSON.stringify(last)})`);
}
