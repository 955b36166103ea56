// Chaos harness (issue 12 item 4): three relay nodes + redis-server + nats-server on loopback, a
// population of desktops and phones that behave like the reference clients, faults, and per
// message accounting.
//
// Clients:
// - a desktop sends an event {type:'event', seq} every EVENT_EVERY_MS while its socket is open
//   (seq counts only what it actually sent), answers relay.snapshot_request with
//   {type:'snapshot', seq: <last sent>}, approves pairing, records every command it receives;
// - a phone reconnects with the rotated token of each auth_ok (home node first, then the others,
//   like clients behind a load balancer), asks for a snapshot after every auth_ok, on a seq gap
//   and when desktop_status turns true (as pwa/src/core/clientConnection.ts does), and keeps one
//   request (command or snapshot request) in flight at a time, so that each relay.error belongs to
//   exactly one request.
// Accounting (every violation is recorded in `failures`):
// - events: per phone, seq must only grow (a repeated or older seq = duplicate/reordered); a
//   skipped range is a gap that a later snapshot covering it must heal;
// - commands: each is delivered to the desktop (exactly once) or answered with a relay.error, or
//   its phone's socket closed meanwhile (the client sees that; counted apart); none unanswered
//   for COMMAND_ANSWER_MS;
// - no socket closed with 1008 and no terminal disconnect reason (nobody is revoked here).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { execFileSync } from 'node:child_process';
import { startRedis, startNats, startNode, waitMembers } from './cluster.mjs';
import { newCreds, pairStart, pairRefresh, command, threadSelect, PWA_ORIGIN } from './fixture.mjs';
import { sleep, waitFor } from './relay.mjs';

const EVENT_EVERY_MS = 200;
const COMMAND_EVERY_MS = 400;
const SNAPSHOT_MIN_GAP_MS = 1100; // stays under MAX_SNAPSHOT_REQUESTS_PER_MINUTE (60)
// A node stalled by SIGSTOP answers after it resumes (10 s), plus the delivery timeout.
const COMMAND_ANSWER_MS = 20000;
const AUTH_ANSWER_MS = 4000;
const MAX_RECONNECT_ATTEMPTS = 400;
const TERMINAL = new Set(['session_expired', 'stopped_by_desktop', 'replaced_by_new_pair_start',
  'device_revoked', 'idle_timeout', 'removed_from_persistence']);

class Peer {
  constructor(h, label, home, token, origin) {
    Object.assign(this, { h, label, home, token, origin });
    this.ws = null;
    this.node = -1;
    this.reconnecting = false;
    this.auths = 0;
    this.down = false; // refused for good
  }

  /** One connection attempt on node `node`: 'ok' (authenticated), 'retry' or 'terminal'. */
  attempt(node) {
    return new Promise((resolve) => {
      const opts = { perMessageDeflate: false, handshakeTimeout: AUTH_ANSWER_MS };
      if (this.origin) opts.origin = this.origin;
      const ws = new WebSocket(this.h.url(node), opts);
      let authed = false;
      let settled = false;
      let refusal = null;
      const settle = (v) => { if (!settled) { settled = true; clearTimeout(t); resolve(v); } };
      const t = setTimeout(() => { ws.terminate(); settle('retry'); }, AUTH_ANSWER_MS + 500);
      ws.on('error', () => {});
      ws.on('open', () => { this.note?.(`auth on node ${node}`); ws.send(JSON.stringify({ type: 'relay.auth', token: this.token })); });
      ws.on('message', (data) => {
        let m;
        try { m = JSON.parse(data.toString()); } catch { return this.h.fail(`${this.label}: non-JSON frame`); }
        if (!authed) {
          if (m.type !== 'auth_ok') { refusal = m; return; }
          authed = true;
          this.ws = ws;
          this.node = node;
          ++this.auths;
          this.onAuthOk(m);
          settle('ok');
          return;
        }
        if (m.type === 'disconnect') this.note?.(`disconnect ${m.reason} on node ${node}`);
        if (m.type === 'disconnect' && TERMINAL.has(m.reason)) {
          this.h.fail(`${this.label}: terminal disconnect ${m.reason} on node ${node}`);
        }
        this.onMessage(m);
      });
      ws.on('close', (code, reason) => {
        const why = `${code} ${reason} ${refusal ? JSON.stringify(refusal) : ''}`;
        if (code === 1008) {
          this.down = true;
          this.h.fail(`${this.label}: refused with 1008 on node ${node} (${why}) after [${(this.history || []).join(', ')}]${this.h.tokenInRedis(this)}`);
        }
        if (!authed) return settle(code === 1008 ? 'terminal' : 'retry');
        if (this.ws === ws) {
          this.ws = null;
          this.note?.(`closed ${code} on node ${node}`);
          this.onClosed();
        }
        if (code !== 1008) this.reconnect();
      });
    });
  }

  async reconnect() {
    if (this.reconnecting || this.down || this.h.stopping) return;
    this.reconnecting = true;
    try {
      for (let a = 0; a < MAX_RECONNECT_ATTEMPTS && !this.h.stopping; ++a) {
        const r = await this.attempt((this.home + a) % 3);
        if (r === 'ok') return;
        if (r === 'terminal') return;
        await sleep(a < 3 ? 30 : 150); // reconnect pacing (client backoff), not synchronisation
      }
      if (!this.h.stopping) this.h.fail(`${this.label}: no reconnect in ${MAX_RECONNECT_ATTEMPTS} attempts`);
    } finally {
      this.reconnecting = false;
    }
  }

  send(m) { if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(m)); return true; } return false; }
  get connected() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }
  onAuthOk() {}
  onMessage() {}
  onClosed() {}
  terminate() { try { this.ws?.terminate(); } catch { /* gone */ } }
}

class Desktop extends Peer {
  constructor(h, i, creds) {
    super(h, `desktop#${i}`, i % 3, creds.desktopSessionToken, undefined);
    this.creds = creds;
    this.sid = creds.sessionID;
    this.seq = 0;
    this.commands = new Set();
    this.nextEventAt = 0;
  }

  onAuthOk() { if (this.h.verbose) this.h.log(`[chaos] ${Date.now() % 100000} ${this.label} auth_ok on node ${this.node}`); }

  onMessage(m) {
    if (m.type === 'relay.pair_request') {
      this.send({ type: 'relay.pair_decision', sessionID: this.sid, requestID: m.requestID, approved: true });
    } else if (m.type === 'relay.snapshot_request') {
      this.send({ type: 'snapshot', schemaVersion: 2, sessionID: this.sid, seq: this.seq });
      ++this.h.stats.snapshotsSent;
    } else if (m.payload?.type === 'command') {
      const id = m.payload.payload?.commandID;
      if (this.commands.has(id)) this.h.fail(`${this.label}: command ${id} delivered twice`);
      this.commands.add(id);
      this.h.delivered(id);
    }
  }

  tick(now) {
    if (now < this.nextEventAt || !this.connected || !this.h.eventsOn) return;
    this.nextEventAt = now + EVENT_EVERY_MS;
    const seq = this.seq + 1;
    if (this.send({ type: 'event', schemaVersion: 2, sessionID: this.sid, seq, payload: { type: 'thread.event' } })) {
      this.seq = seq;
      ++this.h.stats.eventsSent;
    }
  }
}

class Phone extends Peer {
  constructor(h, label, home, token, desktop) {
    super(h, label, home, token, PWA_ORIGIN);
    this.desktop = desktop;
    this.sid = desktop.sid;
    this.known = 0;       // highest seq known (event or snapshot)
    this.gaps = [];       // unhealed gaps: highest missing seq of each
    this.out = null;      // the request in flight {kind, id, at}
    this.wantSnapshot = false;
    this.lastSnapshotAt = 0;
    this.nextCommandAt = 0;
    this.connSeq = 0;
    this.desktopConnected = false;
    this.lastDeliveredAt = 0;
    this.history = []; // last frames of interest, for failure reports
  }

  note(what) {
    this.history.push(`${Date.now() % 100000} ${what}`);
    if (this.history.length > 12) this.history.shift();
  }

  onAuthOk(m) {
    if (typeof m.nextDeviceSessionToken !== 'string') this.h.fail(`${this.label}: auth_ok without a rotated token`);
    else this.token = m.nextDeviceSessionToken;
    this.connSeq = 0;
    this.desktopConnected = m.desktopConnected === true;
    this.note(`auth_ok desktopConnected ${m.desktopConnected}`);
    this.wantSnapshot = true; // initial_sync, as the PWA does on every connection
  }

  onClosed() {
    if (this.out) {
      ++this.h.stats[this.out.kind === 'cmd' ? 'commandsLostWithSocket' : 'snapshotsLostWithSocket'];
      this.h.settle(this.out);
      this.out = null;
    }
  }

  onMessage(m) {
    const s = this.h.stats;
    if (m.type === 'event') {
      if (m.seq <= this.known) {
        this.h.fail(`${this.label}: event ${m.seq} after ${this.known} (duplicate or out of order)`);
        return;
      }
      if (m.seq > this.known + 1) {
        this.gaps.push(m.seq - 1);
        ++s.gaps;
        this.wantSnapshot = true;
      }
      this.known = m.seq;
      ++s.eventsReceived;
    } else if (m.type === 'snapshot') {
      ++s.snapshotsReceived;
      const before = this.gaps.length;
      this.gaps = this.gaps.filter((g) => g > m.seq);
      s.gapsHealed += before - this.gaps.length;
      if (m.seq > this.known) this.known = m.seq;
      if (this.out?.kind === 'snap') this.finish();
    } else if (m.type === 'relay.desktop_status') {
      this.note(`status ${m.desktopConnected} on node ${this.node}`);
      if (m.desktopConnected === true && !this.desktopConnected) this.wantSnapshot = true;
      this.desktopConnected = m.desktopConnected === true;
      ++s[m.desktopConnected ? 'statusTrue' : 'statusFalse'];
    } else if (m.type === 'relay.error') {
      if (this.history[this.history.length - 1]?.includes('error')) this.errorsInRow = (this.errorsInRow || 0) + 1;
      else this.note(`error ${m.error} for ${this.out?.kind} (then more)`);
      s.errors[m.error] = (s.errors[m.error] || 0) + 1;
      if (!this.out) { ++s.errorsUnmatched; return; }
      if (this.out.kind === 'snap') this.wantSnapshot = true; // try again later
      else ++s.commandsRefused;
      this.finish();
    }
  }

  finish() {
    this.h.settle(this.out);
    this.out = null;
  }

  tick(now) {
    if (this.out && now - this.out.at > COMMAND_ANSWER_MS) {
      this.h.fail(`${this.label}: ${this.out.kind} ${this.out.id ?? ''} unanswered for ${COMMAND_ANSWER_MS} ms (node ${this.node})`);
      this.finish();
    }
    if (this.out || !this.connected) return;
    if (this.wantSnapshot && now - this.lastSnapshotAt >= SNAPSHOT_MIN_GAP_MS) {
      this.wantSnapshot = false;
      this.lastSnapshotAt = now;
      this.out = { kind: 'snap', at: now, phone: this };
      this.send({ type: 'relay.snapshot_request', sessionID: this.sid, reason: 'initial_sync' });
      ++this.h.stats.snapshotRequests;
    } else if (this.h.commandsOn && now >= this.nextCommandAt) {
      this.nextCommandAt = now + COMMAND_EVERY_MS;
      const c = threadSelect('t1');
      this.out = { kind: 'cmd', id: c.commandID, at: now, phone: this };
      this.h.pending.set(c.commandID, this.out);
      this.send(command(this.sid, ++this.connSeq, c));
      ++this.h.stats.commandsSent;
    }
  }
}

export class Chaos {
  constructor({ sessions = 30, log = console.log } = {}) {
    this.sessionCount = sessions;
    this.log = log;
    this.verbose = !!process.env.CHAOS_VERBOSE;
    this.failures = [];
    this.pending = new Map(); // commandID → request in flight
    this.stopping = false;
    this.eventsOn = true;
    this.commandsOn = true;
    this.desktops = [];
    this.phones = [];
    this.stats = {
      eventsSent: 0, eventsReceived: 0, gaps: 0, gapsHealed: 0, snapshotRequests: 0,
      snapshotsSent: 0, snapshotsReceived: 0, commandsSent: 0, commandsDelivered: 0,
      commandsRefused: 0, commandsLostWithSocket: 0, snapshotsLostWithSocket: 0,
      deliveredAfterAnswer: 0, errorsUnmatched: 0, statusTrue: 0, statusFalse: 0, errors: {},
    };
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-chaos-'));
    this.redisDirs = 0;
    this.keyPrefix = `rc-chaos-${process.pid}`;
  }

  fail(msg) {
    if (this.failures.length < 200) this.failures.push(msg);
  }

  url(i) { return `ws://127.0.0.1:${this.ports[i]}/ws`; }

  /** For failure reports: is the token a refused client presented in its stored record? */
  tokenInRedis(peer) {
    if (!peer.sid && !peer.desktop) return '';
    const sid = peer.sid ?? peer.desktop.sid;
    try {
      const rec = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.redis.port), 'MGET',
        `${this.keyPrefix}:session:version:v1:${sid}`, `${this.keyPrefix}:session:v1:${sid}`], { encoding: 'utf8', timeout: 3000 });
      return ` [stored version ${rec.split('\n')[0]}, token ${rec.includes(peer.token) ? 'in' : 'NOT in'} the stored record]`;
    } catch { return ' [stored record unreadable]'; }
  }

  newRedisDir() {
    const d = path.join(this.tmp, `redis-${++this.redisDirs}`);
    fs.mkdirSync(d);
    return d;
  }

  nodeEnv(i) {
    return {
      TOKEN_ROTATION_GRACE_MS: 30000,
      MAX_PAIR_REQUESTS_PER_MINUTE: 100000,
      ...(this.ports ? { PORT: this.ports[i] } : {}),
    };
  }

  async startNode(i) {
    return startNode({ name: `chaos-${i}`, redis: this.redis, nats: this.nats, keyPrefix: this.keyPrefix, env: this.nodeEnv(i) });
  }

  async start() {
    this.redisDir = this.newRedisDir();
    this.redis = await startRedis(undefined, { dir: this.redisDir });
    this.nats = await startNats();
    this.nodes = [];
    for (let i = 0; i < 3; ++i) this.nodes.push(await this.startNode(i));
    this.ports = this.nodes.map((n) => n.port);
    await waitMembers(this.nodes, 3, 15000);
    this.ticker = setInterval(() => this.tick(), 50);
    // Pair every session: pair/start on its home node, desktop there, phone 1 joins through the
    // next node and connects there; every third session gets a second phone on the third node.
    const one = async (i) => {
      const creds = newCreds({ ttlMs: 600000 });
      await pairStart(this.nodes[i % 3], creds);
      const d = new Desktop(this, i, creds);
      this.desktops.push(d);
      await d.reconnect();
      const phones = i % 3 === 0 ? 2 : 1;
      for (let k = 1; k <= phones; ++k) {
        const via = (i + k) % 3;
        if (k > 1) await pairRefresh(this.nodes[i % 3], creds);
        const join = await this.nodes[via].post('/pair/join', { sessionID: creds.sessionID, joinToken: creds.joinToken, deviceName: `phone ${i}.${k}` }, { origin: PWA_ORIGIN });
        if (join.status !== 200) throw new Error(`join ${i}.${k}: ${join.status} ${join.text}`);
        const p = new Phone(this, `phone#${i}.${k}`, via, join.body.deviceSessionToken, d);
        this.phones.push(p);
        await p.reconnect();
      }
    };
    for (let i = 0; i < this.sessionCount; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, this.sessionCount - i) }, (_, k) => one(i + k)));
    }
    if (this.failures.length) throw new Error(`setup: ${this.failures.join('; ')}`);
  }

  delivered(id) {
    const r = this.pending.get(id);
    if (!r) { ++this.stats.deliveredAfterAnswer; return; }
    ++this.stats.commandsDelivered;
    this.pending.delete(id);
    r.phone.lastDeliveredAt = Date.now();
    if (r.phone.out === r) r.phone.finish();
  }

  settle(r) {
    if (r?.kind === 'cmd') this.pending.delete(r.id);
  }

  tick() {
    const now = Date.now();
    for (const d of this.desktops) d.tick(now);
    for (const p of this.phones) p.tick(now);
  }

  /** Every node lists 3 members with the bus up; every client connected. */
  async settled(what, timeoutMs = 30000) {
    await waitMembers(this.nodes, 3, timeoutMs);
    await waitFor(() => [...this.desktops, ...this.phones].every((c) => c.connected || c.down),
      { what: `${what}: every client reconnected`, timeoutMs, intervalMs: 100 });
  }

  /**
   * Checkpoint after a fault: each phone knows (by events or a snapshot) everything its desktop
   * had sent when the checkpoint began, every gap it saw was healed by a snapshot, and a command
   * it sent after the checkpoint began was delivered (presence healed: no lasting desktop_offline).
   */
  async converged(what, timeoutMs = 30000) {
    const t0 = Date.now();
    await this.settled(what, timeoutMs);
    const t1 = Date.now();
    const target = new Map(this.phones.map((p) => [p, p.desktop.seq]));
    const lagging = () => this.phones.filter((p) => !p.down &&
      (p.known < target.get(p) || p.gaps.length || (this.commandsOn && p.lastDeliveredAt < t1)));
    try {
      await waitFor(() => lagging().length === 0, { what: `${what}: phones converged`, timeoutMs, intervalMs: 100 });
    } catch (e) {
      const lag = lagging();
      const l = lag.slice(0, 5).map((p) => `${p.label} on node ${p.node} (desktop on ${p.desktop.node}, connected ${p.desktop.connected}) knows ${p.known}/${target.get(p)}, ${p.gaps.length} gaps, last command delivered ${p.lastDeliveredAt - t1} ms after the checkpoint, in flight ${p.out?.kind}, wants snapshot ${p.wantSnapshot}, desktopConnected ${p.desktopConnected}, history [${p.history.join(', ')}]`);
      this.fail(`${what}: ${lag.length} phones not converged: ${l.join('; ')}`);
      throw new Error(`${e.message}\n${this.failures.join('\n')}`);
    }
    return Date.now() - t0;
  }

  // ---- faults --------------------------------------------------------------------------------

  async killNode(i) {
    await this.nodes[i].kill();
    this.keepLogs(this.nodes[i]);
    this.nodes[i] = await this.startNode(i);
  }

  /** Node logs are written out (CHAOS_LOGS=dir, last 4 MiB of each) when the run fails. */
  keepLogs(n) {
    (this.oldLogs ||= []).push({ name: `${n.name}-${n.pid}`, text: n.logs().slice(-4 << 20) });
    if (this.oldLogs.length > 30) this.oldLogs.shift();
  }

  async restartNats(downMs = 0) {
    const port = this.nats.port;
    await this.nats.kill();
    if (downMs) await sleep(downMs); // the outage itself is the fault
    this.nats = await startNats(port);
  }

  /** Every node's view of the store's epoch marker (/admin/cluster storeEpoch). */
  async epochs() {
    return Promise.all(this.nodes.map(async (n) => (await n.admin('/admin/cluster')).body?.storeEpoch ?? ''));
  }

  /**
   * Redis SIGKILLed and restarted on its port: with its data (fsync always) or empty. After a
   * data loss the fault ends when every node has seen the new epoch marker (and so has written
   * back the sessions it holds): that is the cluster's recovery, bounded.
   */
  async restartRedis({ keepData }) {
    const port = this.redis.port;
    const before = await this.epochs();
    await this.redis.kill();
    if (!keepData) this.redisDir = this.newRedisDir();
    this.redis = await startRedis(port, { dir: this.redisDir });
    if (keepData) return;
    await waitFor(async () => (await this.epochs()).every((e, i) => e && e !== before[i]),
      { what: 'every node saw the new epoch marker', timeoutMs: 15000, intervalMs: 100 });
  }

  async stall(i, ms) {
    process.kill(this.nodes[i].pid, 'SIGSTOP');
    try { await sleep(ms); } finally { process.kill(this.nodes[i].pid, 'SIGCONT'); }
  }

  faults(round) {
    const r = round % 3;
    return [
      ['kill -9 node 0', () => this.killNode(0)],
      ['kill -9 node 1', () => this.killNode(1)],
      ['kill -9 node 2', () => this.killNode(2)],
      ['NATS restart < 1 s', () => this.restartNats(0)],
      ['NATS down 3.5 s', () => this.restartNats(3500)],
      ['Redis restart with persistence', () => this.restartRedis({ keepData: true })],
      ['Redis restart without persistence', () => this.restartRedis({ keepData: false })],
      // After the data loss, every node's sessions must be back in Redis: a killed node's
      // clients re-authenticate on nodes that load them from there.
      [`kill -9 node ${r} after the Redis data loss`, () => this.killNode(r)],
      [`SIGSTOP node ${(r + 1) % 3} for 10 s`, () => this.stall((r + 1) % 3, 10000)],
    ];
  }

  async stop() {
    this.stopping = true;
    clearInterval(this.ticker);
    const dir = process.env.CHAOS_LOGS;
    if (dir && this.failures.length) {
      fs.mkdirSync(dir, { recursive: true });
      for (const n of this.nodes || []) {
        try { fs.writeFileSync(path.join(dir, `${n.name}-${n.pid}.metrics.json`), JSON.stringify(await n.metrics(), null, 1)); } catch { /* gone */ }
      }
      for (const n of this.nodes || []) this.keepLogs(n);
      for (const l of this.oldLogs || []) fs.writeFileSync(path.join(dir, `${l.name}.log`), l.text);
      fs.writeFileSync(path.join(dir, 'failures.txt'), this.failures.join('\n'));
    }
    for (const c of [...this.desktops, ...this.phones]) c.terminate();
    for (const n of this.nodes || []) await n.kill();
    await this.nats?.kill();
    await this.redis?.kill();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
