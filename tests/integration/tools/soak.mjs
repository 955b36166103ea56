// Churn soak (issue 10): one real relay-node, SOAK_PHONES phones in SOAK_PHONES/2 sessions (two
// phones and one desktop each) reconnecting for SOAK_SECONDS with token rotation (every reconnect
// presents the nextDeviceSessionToken of the previous auth_ok, RELAY_PROTOCOL §6.3) and a snapshot
// request per connection, while commands flow phone → desktop and acks, snapshots and periodic
// updates flow desktop → phones. Usually run through scripts/soak.sh.
//
//   node tools/soak.mjs            (settings from the environment, defaults below)
//   SOAK_SECONDS=600 SOAK_PHONES=1000 SOAK_WARMUP_SECONDS=120 SOAK_SAMPLE_MS=5000 SOAK_JSON=out.json
//
// Nominal load per phone: one connection of 5-15 s (uniform), a snapshot request when it opens,
// a command every SOAK_COMMAND_MS (3 000) awaiting its ack, then a close (half clean 1000, half
// a TCP reset) and a reconnect 0.2-1 s later. Per desktop: the ack of every command and the
// snapshot of every request (both broadcast by the relay to each phone of the session) and one
// update frame a second. All of it is far below the relay's budgets (240 commands/min per device,
// 60 snapshots/min, 1 200 frames/min per socket).
//
// Checked (exit 1 when any fails):
//  * errors = 0: every auth answered auth_ok with a new token; every command acked and every
//    snapshot request answered within 10 s; no relay.error; no socket closed by the relay
//    (any disconnect frame, or a close we did not start); desktops stay connected;
//    A desktop frame forwarded to a phone before its auth_ok fails that auth (an error) unless
//    SOAK_TOLERATE_FRAMES_BEFORE_AUTH_OK=1 (the relay does this today, ~3 % of reconnects under
//    broadcast load: tools/repro-preauth-order.mjs);
//  * slowConsumerDisconnects and wsAuthFailures of /metricsz do not move;
//  * RSS slope within noise: least-squares slope of the VmRSS samples taken after the warm-up
//    below 1 % of their mean per minute (SOAK_SLOPE_PCT), or a fitted growth over the whole
//    sampled window below SOAK_GROWTH_FLOOR_KIB (2 048: under 2 MiB is allocator noise, which
//    matters for the short CI run where the window is ~40 s);
//  * every socket closed, the relay's open fds are back within 64 of its idle count before pairing.
import fs from 'node:fs';
import WebSocket from 'ws';
import { startRelay } from '../lib/relay.mjs';
import { request } from '../lib/http.mjs';
import { newCreds, startBody, b64url, PWA_ORIGIN } from '../lib/fixture.mjs';

const envInt = (name, dflt, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`soak: ${name} must be an integer in [${min}, ${max}], got ${raw}`);
    process.exit(2);
  }
  return n;
};
const SECONDS = envInt('SOAK_SECONDS', 600, 10, 86400);
const PHONES = envInt('SOAK_PHONES', 1000, 2, 20000);
const WARMUP_S = envInt('SOAK_WARMUP_SECONDS', Math.min(120, Math.floor(SECONDS / 3)), 0, SECONDS - 5);
const SAMPLE_MS = envInt('SOAK_SAMPLE_MS', SECONDS >= 300 ? 5000 : 2000, 200, 60000);
const COMMAND_MS = envInt('SOAK_COMMAND_MS', 3000, 200, 60000);
const SLOPE_PCT = Number(process.env.SOAK_SLOPE_PCT || 1);
const GROWTH_FLOOR_KIB = envInt('SOAK_GROWTH_FLOOR_KIB', 2048, 0, 1 << 20);
const SESSIONS = Math.ceil(PHONES / 2);
// SOAK_TOLERATE_FRAMES_BEFORE_AUTH_OK=1: a forwarded desktop frame that reaches a phone's new
// socket before its auth_ok is counted (framesBeforeAuthOk) instead of failing the auth.
const TOLERATE_EARLY = process.env.SOAK_TOLERATE_FRAMES_BEFORE_AUTH_OK === '1';
const FORWARDED_TYPES = new Set(['command.ack', 'relay.snapshot', 'thread.update']);
const REPLY_TIMEOUT_MS = 10000;
const PAIR_CONCURRENCY = 16; // below MAX_PENDING_JOIN_WAITERS (64)

const counts = {
  sessions: 0, phones: 0, connects: 0, authOk: 0, commandsSent: 0, commandsAcked: 0,
  commandsAtDesktop: 0, snapshotsRequested: 0, snapshotsAnswered: 0, snapshotsAtDesktop: 0,
  updatesReceived: 0, framesToPhones: 0, tokenRotations: 0, cleanCloses: 0, resets: 0,
  framesBeforeAuthOk: 0,
};
const errors = [];
const errorKinds = {};
function error(kind, detail) {
  errorKinds[kind] = (errorKinds[kind] || 0) + 1;
  if (errors.length < 50) errors.push(`${kind}: ${detail}`);
}
let stopping = false;
let churnEnd = 0;

const rand = (lo, hi) => lo + Math.random() * (hi - lo);
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKiB(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}
function fdCount(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return -1; }
}

/** Opens a websocket and sends relay.auth; resolves with {ws, authOk} or rejects. */
function connectAuth(url, token, { origin, onFrame, onClose }) {
  return new Promise((resolve, reject) => {
    const opts = { perMessageDeflate: false, handshakeTimeout: REPLY_TIMEOUT_MS };
    if (origin) opts.origin = origin;
    const ws = new WebSocket(url, opts);
    let authed = false;
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no auth_ok within 10 s')); }, REPLY_TIMEOUT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'relay.auth', token })));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const text = data.toString('utf8');
      if (!authed) {
        clearTimeout(timer);
        let m;
        try { m = JSON.parse(text); } catch { m = null; }
        if (m && FORWARDED_TYPES.has(m.type)) {
          // A desktop broadcast delivered to this socket before its own auth_ok (relay ordering
          // bug, see tools/repro-preauth-order.mjs): an error unless tolerated.
          counts.framesBeforeAuthOk++;
          if (TOLERATE_EARLY) { onFrame(text); return; }
        }
        if (!m || m.type !== 'auth_ok') { ws.terminate(); reject(new Error(`first frame ${text.slice(0, 120)}`)); return; }
        authed = true;
        resolve({ ws, authOk: m });
        return;
      }
      onFrame(text);
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      if (!authed) reject(new Error(`closed before auth_ok: ${code} ${reason}`));
      else onClose(code, reason.toString());
    });
  });
}

class Desktop {
  constructor(relay, creds) {
    this.relay = relay;
    this.creds = creds;
    this.sid = creds.sessionID;
    this.timer = null;
  }

  async connect() {
    const { ws } = await connectAuth(this.relay.wsURL, this.creds.desktopSessionToken, {
      onFrame: (t) => this.onFrame(t),
      onClose: (code, reason) => { if (!stopping) error('desktop_closed', `${code} ${reason}`); },
    });
    this.ws = ws;
  }

  send(obj) { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj)); }

  onFrame(text) {
    let m;
    try { m = JSON.parse(text); } catch { error('desktop_bad_frame', text.slice(0, 80)); return; }
    if (m.type === 'relay.pair_request') {
      this.send({ type: 'relay.pair_decision', sessionID: this.sid, requestID: m.requestID, approved: true });
    } else if (m.type === 'relay.snapshot_request') {
      counts.snapshotsAtDesktop++;
      this.send({ type: 'relay.snapshot', sessionID: this.sid, reason: m.reason, threads: [{ id: 'thread-1', title: 'soak', items: 'x'.repeat(1024) }] });
    } else if (m.payload?.type === 'command') {
      counts.commandsAtDesktop++;
      this.send({ type: 'command.ack', sessionID: this.sid, commandID: m.payload.payload.commandID, deviceID: m.relayDeviceID });
    } else if (m.type === 'disconnect') {
      if (!stopping) error('desktop_disconnect', m.reason);
    } else if (!['relay.pair_result', 'relay.device_count'].includes(m.type)) {
      error('desktop_unexpected', text.slice(0, 80));
    }
  }

  startUpdates() {
    let n = 0;
    this.timer = setInterval(() => this.send({ type: 'thread.update', sessionID: this.sid, n: ++n }), 1000);
  }

  stop() { clearInterval(this.timer); try { this.ws.terminate(); } catch { /* gone */ } }
}

class Phone {
  constructor(relay, desktop, id, token, deviceID) {
    this.relay = relay;
    this.desktop = desktop;
    this.sid = desktop.sid;
    this.id = id;
    this.token = token;
    this.deviceID = deviceID;
    this.pending = new Map(); // commandID or snapshot reason -> {resolve, timer}
    this.n = 0;
  }

  expect(key) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pending.delete(key); resolve(false); }, REPLY_TIMEOUT_MS);
      this.pending.set(key, { resolve, timer });
    });
  }

  settle(key) {
    const p = this.pending.get(key);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve(true);
    return true;
  }

  onFrame(text) {
    counts.framesToPhones++;
    let m;
    try { m = JSON.parse(text); } catch { error('phone_bad_frame', text.slice(0, 80)); return; }
    if (m.type === 'command.ack') {
      if (m.deviceID === this.deviceID && this.settle(m.commandID)) counts.commandsAcked++;
    } else if (m.type === 'relay.snapshot') {
      if (this.settle(m.reason)) counts.snapshotsAnswered++;
    } else if (m.type === 'thread.update') {
      counts.updatesReceived++;
    } else if (m.type === 'relay.error') {
      error(`relay_error_${m.error}`, m.message);
    } else if (m.type === 'disconnect') {
      if (!stopping) error(`phone_disconnect_${m.reason}`, `phone ${this.id}`);
    } else if (m.type !== 'relay.desktop_status' || m.desktopConnected !== true) {
      error('phone_unexpected', text.slice(0, 80));
    }
  }

  /** One connection: auth with the current token, snapshot, commands until its dwell ends, close. */
  async cycle() {
    counts.connects++;
    let closedByUs = false;
    let conn;
    try {
      conn = await connectAuth(this.relay.wsURL, this.token, {
        origin: PWA_ORIGIN,
        onFrame: (t) => this.onFrame(t),
        onClose: (code, reason) => { if (!closedByUs && !stopping) error('phone_closed_by_relay', `${code} ${reason}`); },
      });
    } catch (e) {
      if (!stopping) error('phone_auth', e.message);
      return;
    }
    const { ws, authOk } = conn;
    counts.authOk++;
    const next = authOk.nextDeviceSessionToken;
    if (typeof next !== 'string' || next === this.token || authOk.deviceID !== this.deviceID) {
      error('rotation', `auth_ok ${JSON.stringify({ ...authOk, nextDeviceSessionToken: '…' })}`);
    } else {
      counts.tokenRotations++;
      this.token = next;
    }
    const dwellEnd = Math.min(Date.now() + rand(5000, 15000), churnEnd);
    const reason = `soak-${this.id}-${++this.n}`;
    counts.snapshotsRequested++;
    const snap = this.expect(reason);
    ws.send(JSON.stringify({ type: 'relay.snapshot_request', sessionID: this.sid, reason, lastSeq: this.n }));
    if (!(await snap)) error('snapshot_lost', reason);
    for (let seq = 1; seq <= 1000 && !stopping && Date.now() < dwellEnd && ws.readyState === WebSocket.OPEN; seq++) {
      const commandID = `c${this.id}-${this.n}-${seq}`;
      const acked = this.expect(commandID);
      counts.commandsSent++;
      ws.send(JSON.stringify({
        schemaVersion: 2, sessionID: this.sid, seq, timestamp: new Date().toISOString(),
        payload: { type: 'command', payload: { name: 'thread.select', commandID, threadID: 'thread-1' } },
      }));
      if (!(await acked)) error('command_lost', commandID);
      const left = dwellEnd - Date.now();
      if (left > 0) await delay(Math.min(COMMAND_MS, left));
    }
    closedByUs = true;
    if (Math.random() < 0.5) { counts.cleanCloses++; ws.close(1000); } else { counts.resets++; ws.terminate(); }
  }

  async run() {
    for (let i = 0; i < 100000 && !stopping && Date.now() < churnEnd; i++) {
      await this.cycle();
      await delay(rand(200, 1000));
    }
  }
}

async function pairSession(relay) {
  const creds = newCreds({ ttlMs: 3600 * 1000 });
  const r = await relay.post('/pair/start', startBody(creds));
  if (r.status !== 200) throw new Error(`pair/start ${r.status} ${r.text}`);
  const desktop = new Desktop(relay, creds);
  await desktop.connect();
  counts.sessions++;
  const phones = [];
  for (let k = 0; k < 2 && counts.phones < PHONES; k++) {
    const j = await request(relay.port, 'POST', '/pair/join', { json: { sessionID: creds.sessionID, joinToken: creds.joinToken, deviceName: `soak ${k}` }, origin: PWA_ORIGIN });
    if (j.status !== 200) throw new Error(`pair/join ${j.status} ${j.text}`);
    if (k === 0) { // a join token is single use: a fresh one for the second phone
      creds.joinToken = b64url(32);
      const rf = await relay.post('/pair/refresh', { schemaVersion: 2, sessionID: creds.sessionID, joinToken: creds.joinToken, desktopSessionToken: creds.desktopSessionToken, joinTokenExpiresAt: new Date(Date.now() + 3600e3).toISOString() });
      if (rf.status !== 200) throw new Error(`pair/refresh ${rf.status} ${rf.text}`);
    }
    phones.push(new Phone(relay, desktop, counts.phones++, j.body.deviceSessionToken, j.body.deviceID));
  }
  return { desktop, phones };
}

function leastSquares(points) { // [[tSeconds, kib]] -> {slopeKiBPerMin, mean, growthKiB, residualSd}
  const n = points.length;
  if (n < 3) return null;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0; let sxx = 0;
  for (const [x, y] of points) { sxy += (x - mx) * (y - my); sxx += (x - mx) ** 2; }
  const b = sxx ? sxy / sxx : 0;
  const res = points.map(([x, y]) => y - (my + b * (x - mx)));
  const sd = Math.sqrt(res.reduce((s, r) => s + r * r, 0) / Math.max(1, n - 2));
  return { slopeKiBPerMin: b * 60, meanKiB: my, growthKiB: b * (points[n - 1][0] - points[0][0]), residualSdKiB: sd };
}

async function main() {
  const t0 = Date.now();
  const relay = await startRelay({
    MAX_PAIR_REQUESTS_PER_MINUTE: '1000000',
    // Every phone and desktop of the soak comes from 127.0.0.1; real ones come from many
    // addresses. With the default per-address cap (256) the 300+ sockets were closed at accept.
    MAX_CONNECTIONS_PER_IP: '0',
  });
  const pid = relay.pid;
  const fdIdle = fdCount(pid);
  let result;
  const samples = [];
  try {
    // Pairing, bounded concurrency.
    const all = [];
    let next = 0;
    await Promise.all(Array.from({ length: PAIR_CONCURRENCY }, async () => {
      while (next < SESSIONS) { next++; all.push(await pairSession(relay)); }
    }));
    const desktops = all.map((s) => s.desktop);
    const phones = all.flatMap((s) => s.phones);
    const pairedS = (Date.now() - t0) / 1000;
    const m0 = await relay.metrics();
    const fd0 = fdCount(pid);
    for (const d of desktops) d.startUpdates();
    const churnStart = Date.now();
    churnEnd = churnStart + SECONDS * 1000;
    const sampler = setInterval(async () => {
      try {
        const m = await relay.metrics();
        samples.push({ t: (Date.now() - churnStart) / 1000, rssKiB: rssKiB(pid), fds: fdCount(pid), sockets: m.activeWebSockets, slow: m.slowConsumerDisconnects, sendFailures: m.outboundSendFailures });
      } catch (e) { error('sample', e.message); }
    }, SAMPLE_MS);
    samples.push({ t: 0, rssKiB: rssKiB(pid), fds: fd0, sockets: m0.activeWebSockets, slow: m0.slowConsumerDisconnects, sendFailures: m0.outboundSendFailures });
    const progress = setInterval(() => {
      const s = samples[samples.length - 1];
      console.error(`soak: t=${Math.round((Date.now() - churnStart) / 1000)}s connects=${counts.connects} commands=${counts.commandsAcked}/${counts.commandsSent} errors=${Object.values(errorKinds).reduce((a, b) => a + b, 0)} rss=${s?.rssKiB}KiB sockets=${s?.sockets}`);
    }, 30000);
    await Promise.all(phones.map((p, i) => delay((i * 1000) / phones.length * 5).then(() => p.run())));
    clearInterval(progress);
    clearInterval(sampler);
    stopping = true;
    for (const d of desktops) d.stop();
    const churnS = (Date.now() - churnStart) / 1000;
    // Sockets gone: the relay's fd count comes back (bounded wait).
    let fd1 = fdCount(pid);
    for (let i = 0; i < 50 && fd1 > fdIdle; i++) { await delay(100); fd1 = fdCount(pid); }
    const m1 = await relay.metrics();
    const post = samples.filter((s) => s.t >= WARMUP_S).map((s) => [s.t, s.rssKiB]);
    const fit = leastSquares(post);
    const slopeLimit = fit ? (fit.meanKiB * SLOPE_PCT) / 100 : 0;
    const slopeOk = !!fit && (fit.slopeKiBPerMin < slopeLimit || fit.growthKiB < GROWTH_FLOOR_KIB);
    const slowDelta = m1.slowConsumerDisconnects - m0.slowConsumerDisconnects;
    const authFailDelta = m1.wsAuthFailures - m0.wsAuthFailures;
    const errorTotal = Object.values(errorKinds).reduce((a, b) => a + b, 0);
    const checks = {
      noErrors: errorTotal === 0,
      noSlowConsumer: slowDelta === 0,
      noAuthFailures: authFailDelta === 0,
      rssSlopeWithinNoise: slopeOk,
      everyCommandAcked: counts.commandsAcked === counts.commandsSent,
      fdsBack: fd1 <= fdIdle + 64,
    };
    result = {
      ok: Object.values(checks).every(Boolean),
      checks,
      settings: { tolerateFramesBeforeAuthOk: TOLERATE_EARLY, seconds: SECONDS, phones: PHONES, sessions: SESSIONS, warmupSeconds: WARMUP_S, sampleMs: SAMPLE_MS, commandMs: COMMAND_MS, slopePct: SLOPE_PCT, growthFloorKiB: GROWTH_FLOOR_KIB },
      pairingSeconds: Number(pairedS.toFixed(1)),
      churnSeconds: Number(churnS.toFixed(1)),
      counts,
      errors: errorTotal,
      errorKinds,
      firstErrors: errors.slice(0, 20),
      relay: {
        slowConsumerDisconnects: slowDelta,
        wsAuthFailures: authFailDelta,
        wsAuthSuccesses: m1.wsAuthSuccesses - m0.wsAuthSuccesses,
        outboundSendFailures: m1.outboundSendFailures - m0.outboundSendFailures,
        messagesMobileToDesktop: m1.messagesMobileToDesktop - m0.messagesMobileToDesktop,
        messagesDesktopToMobile: m1.messagesDesktopToMobile - m0.messagesDesktopToMobile,
        disconnectReasons: Object.fromEntries(Object.entries(m1.disconnectReasons).map(([k, v]) => [k, v - (m0.disconnectReasons[k] || 0)]).filter(([, v]) => v)),
        fdsIdle: fdIdle,
        fdsBeforeChurn: fd0,
        fdsAfter: fd1,
      },
      rss: {
        firstKiB: samples[0]?.rssKiB,
        lastKiB: samples[samples.length - 1]?.rssKiB,
        maxKiB: Math.max(...samples.map((s) => s.rssKiB)),
        samplesAfterWarmup: post.length,
        slopeKiBPerMin: fit && Number(fit.slopeKiBPerMin.toFixed(1)),
        slopeLimitKiBPerMin: Number(slopeLimit.toFixed(1)),
        fittedGrowthKiB: fit && Number(fit.growthKiB.toFixed(0)),
        residualSdKiB: fit && Number(fit.residualSdKiB.toFixed(0)),
        meanKiB: fit && Math.round(fit.meanKiB),
      },
      samples: samples.map((s) => [Number(s.t.toFixed(1)), s.rssKiB, s.fds, s.sockets]),
    };
  } finally {
    stopping = true;
    const st = await relay.stop();
    if (result) result.relayExit = st;
  }
  const line = JSON.stringify(result);
  if (process.env.SOAK_JSON) fs.writeFileSync(process.env.SOAK_JSON, `${line}\n`);
  const { samples: _s, ...brief } = result;
  console.log(JSON.stringify(brief, null, 1));
  console.log(`soak: ${result.ok ? 'PASS' : 'FAIL'} ${SECONDS}s ${PHONES} phones: ${counts.connects} connects, ${counts.commandsAcked}/${counts.commandsSent} commands acked, ${counts.snapshotsAnswered}/${counts.snapshotsRequested} snapshots, ${counts.framesToPhones} frames to phones, errors ${result.errors}, slow consumers ${result.relay.slowConsumerDisconnects}, frames before auth_ok ${counts.framesBeforeAuthOk}${TOLERATE_EARLY ? ' (tolerated)' : ''}, RSS slope ${result.rss.slopeKiBPerMin} KiB/min (limit ${result.rss.slopeLimitKiBPerMin}, fitted growth ${result.rss.fittedGrowthKiB} KiB)`);
  process.exit(result.ok ? 0 : 1);
}

main().catch((e) => { console.error(`soak: ${e.stack || e}`); process.exit(1); });
