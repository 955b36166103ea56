// Real nats-server / redis-server / relay-node processes on random loopback ports, started and
// killed by PID, plus a tiny raw-TCP NATS client (enough to publish forged envelopes and to
// capture real ones for replay).
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { startRelay } from './relay.mjs';
import { request } from './http.mjs';
import { WsClient } from './ws.mjs';
import assert from 'node:assert/strict';
import {
  newCreds, pairStart, connectDesktop, connectPhone, joinAndApprove, command, threadSelect,
} from './fixture.mjs';

export const SECRET = 'cluster-test-secret-0123456789-abcdefghijklmnop';
export const PREFIX = 'codexchat.remote.relay';

const live = new Set();
process.on('exit', () => {
  for (const pid of live) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export function toolAvailable(bin) {
  try { execFileSync(bin, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function startServer(bin, args, readyRe, { timeoutMs = 8000 } = {}) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc.pid);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('exit', () => { live.delete(proc.pid); r(); }));
  const deadline = Date.now() + timeoutMs;
  while (!readyRe.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`${bin} did not start: ${out.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: proc.pid,
    async kill(sig = 'SIGKILL') {
      try { process.kill(proc.pid, sig); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    },
  };
}

export async function startNats(port) {
  port = port || await freePort();
  const s = await startServer('nats-server', ['-a', '127.0.0.1', '-p', String(port)],
    /Server is ready/i);
  return { ...s, port, url: `nats://127.0.0.1:${port}` };
}

/**
 * redis-server on `port` (a free one if omitted). With `dir`, persistence is on: append-only file
 * in `dir`, fsync on every write (a SIGKILL loses nothing); without, nothing survives a restart.
 */
export async function startRedis(port, { dir } = {}) {
  port = port || await freePort();
  const persistence = dir
    ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  const s = await startServer('redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    /Ready to accept connections/i);
  return { ...s, port, url: `redis://127.0.0.1:${port}` };
}

export const ADMIN_TOKEN = 'cluster-admin-token-0123456789abcdef';

/** One relay node of the cluster; returns the relay handle plus `admin(path)`. */
export async function startNode({ name, redis, nats, keyPrefix, env = {} }) {
  // ADMIN_PORT 0: the node binds an ephemeral port and logs it. A port picked here and bound later
  // can meanwhile become the local port of another node's outbound Redis/NATS connection.
  const e = {
    NODE_NAME: name,
    ADMIN_TOKEN,
    ADMIN_PORT: 0,
    ADMIN_HOST: '127.0.0.1',
    SWEEP_INTERVAL_MS: 1000,
    ...env,
  };
  if (redis) Object.assign(e, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: keyPrefix });
  if (nats) Object.assign(e, { NATS_URL: nats.url, NATS_HMAC_SECRET: SECRET });
  const relay = await startRelay(e);
  relay.name = name;
  const { adminPort } = relay;
  relay.admin = (p, method = 'GET') => request(adminPort, method, p, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return relay;
}

/**
 * Redis + NATS for one describe block: `await s.start()` in before(), nodes from `s.node(name)`,
 * `await s.stop()` in after() ends sockets, nodes and servers. `s.redis` may be replaced.
 */
export function clusterServers(keyPrefix, env = { TOKEN_ROTATION_GRACE_MS: 30000 }) {
  const s = { redis: null, nats: null, nodes: [] };
  s.start = async () => { s.redis = await startRedis(); s.nats = await startNats(); };
  s.node = async (name) => {
    const n = await startNode({ name, redis: s.redis, nats: s.nats, keyPrefix, env });
    s.nodes.push(n);
    return n;
  };
  s.stop = async () => {
    WsClient.terminateAll();
    for (const n of s.nodes) await n.kill();
    await s.nats?.kill();
    await s.redis?.kill();
  };
  return s;
}

/** Waits until every node lists `n` members on /admin/cluster. */
export async function waitMembers(nodes, n, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = true;
    for (const node of nodes) {
      const r = await node.admin('/admin/cluster');
      if (r.status !== 200 || !r.body || r.body.members.length !== n) { ok = false; break; }
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`cluster did not reach ${n} members`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- raw NATS client ------------------------------------------------------------------------

export class RawNats {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const c = new RawNats();
      c.sock = net.connect(port, '127.0.0.1');
      c.buf = Buffer.alloc(0);
      c.msgs = [];
      c.waiters = [];
      c.sock.once('error', reject);
      c.sock.on('data', (d) => c.onData(d));
      c.sock.once('connect', () => {
        c.sock.write('CONNECT {"verbose":false,"pedantic":false,"name":"cluster-test"}\r\nPING\r\n');
        c.pong = resolve.bind(null, c);
      });
    });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i < 0) return;
      const line = this.buf.subarray(0, i).toString();
      if (line.startsWith('MSG ')) {
        const parts = line.split(' ');
        const len = Number(parts[parts.length - 1]);
        if (this.buf.length < i + 2 + len + 2) return;
        const data = this.buf.subarray(i + 2, i + 2 + len).toString();
        this.buf = this.buf.subarray(i + 2 + len + 2);
        const m = { subject: parts[1], data };
        this.msgs.push(m);
        for (const w of this.waiters.splice(0)) w();
        continue;
      }
      this.buf = this.buf.subarray(i + 2);
      if (line === 'PING') this.sock.write('PONG\r\n');
      if (line === 'PONG' && this.pong) { const p = this.pong; this.pong = null; p(); }
    }
  }

  sub(subject, sid = 1) { this.sock.write(`SUB ${subject} ${sid}\r\n`); }

  pub(subject, data) {
    const b = Buffer.from(data);
    this.sock.write(`PUB ${subject} ${b.length}\r\n`);
    this.sock.write(b);
    this.sock.write('\r\n');
  }

  flush() { return new Promise((r) => { this.pong = r; this.sock.write('PING\r\n'); }); }

  async waitMsg(pred, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.msgs.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error('no matching NATS message');
      await new Promise((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  close() { this.sock.destroy(); }
}

// ---- envelopes (CONFIG_REFERENCE §5.3) -------------------------------------------------------

function signingString(e) {
  // JSON.stringify escapes exactly '"', '\' and control characters; '/' and non-ASCII verbatim.
  return JSON.stringify({
    schema_version: e.schema_version,
    session_id: e.session_id,
    source_instance_id: e.source_instance_id,
    target: e.target,
    target_device_id: e.target_device_id ?? null,
    payload: e.payload,
    issued_at_ms: e.issued_at_ms,
    nonce: e.nonce,
  });
}

export function envelope({ sessionID, target, payload, deviceID = null, source = 'forger-instance',
  secret = SECRET, issuedAt = Date.now(), nonce = crypto.randomBytes(10).toString('base64url') }) {
  const e = {
    schema_version: 1,
    session_id: sessionID,
    source_instance_id: source,
    target,
    target_device_id: deviceID,
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    issued_at_ms: issuedAt,
    nonce,
  };
  e.signature = crypto.createHmac('sha256', secret).update(signingString(e)).digest('base64url');
  return JSON.stringify(e);
}

// ---- fixtures across nodes ------------------------------------------------------------------

/** pair/start on `a`, desktop on `b`, join through `c` approved, phone on `c`. */
export async function crossPair(a, b, c) {
  const creds = newCreds();
  await pairStart(a, creds);
  const d = await connectDesktop(b, creds.desktopSessionToken);
  const { join } = await joinAndApprove(c, creds, d.ws, { deviceName: 'Phone' });
  assert.equal(join.status, 200, join.text);
  const p = await connectPhone(c, join.body.deviceSessionToken);
  return { creds, desktop: d.ws, phone: p.ws, phoneAuthOk: p.authOk, deviceID: join.body.deviceID };
}

/** Command `n` from the fixture's phone reaches its desktop. */
export async function commandReaches(f, n) {
  const c = threadSelect('t' + n);
  f.phone.send(command(f.creds.sessionID, n, c));
  const m = await f.desktop.nextSkipping(['relay.device_count'], 5000);
  assert.equal(m.payload?.payload?.commandID, c.commandID, JSON.stringify(m));
}
