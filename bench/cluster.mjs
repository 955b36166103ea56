#!/usr/bin/env node
// Cluster figures for the README's "Several nodes (cluster)" section (issue 12): three relay
// nodes + redis-server + nats-server on loopback (tests/cluster/lib), measured from the client
// side. Figures only: nothing here is asserted beyond "the step completed". Every wait is bounded.
//
//   node bench/cluster.mjs                  RELAY_BIN (default build/bin/relay-node)
//   node bench/cluster.mjs --json out.json  also write the raw figures
//   BENCH_SAMPLES=500 node bench/cluster.mjs   latency samples per path (default 300)
//
// 1. message latency, desktop → phone (event) and phone → desktop (command), one at a time:
//    phone on the desktop's node vs on another node (NATS hop);
// 2. revoke on node A → the phone on node C gets `disconnect device_revoked`;
// 3. kill -9 of node B holding 20 phones and 20 desktops: time from the kill to each client's
//    auth_ok on another node (clients reconnect at once with their current/rotated token):
//    desktops to A (holds their sessions), phones to C (loads them from Redis);
// 4. NATS down until every phone on node C was told desktop_status false for its desktop on
//    node A, then back: time from nats-server ready to each phone's desktop_status true.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = path.dirname(fileURLToPath(import.meta.url));
process.env.RELAY_BIN ||= path.join(here, '..', 'build', 'bin', 'relay-node');
const { startRedis, startNats, startNode, waitMembers, crossPair } = await import('../tests/cluster/lib/cluster.mjs');
const { command, threadSelect, connectPhone, connectDesktop } = await import('../tests/cluster/lib/fixture.mjs');
const { WsClient } = await import('../tests/cluster/lib/ws.mjs');

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const SAMPLES = Math.min(5000, Math.max(10, Number(process.env.BENCH_SAMPLES || 300)));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
const fmt = (s) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms (n=${s.n})`;
const statusIs = async (ws, v, timeoutMs) => {
  for (let i = 0; i < 50; ++i) {
    const m = await ws.nextOfType('relay.desktop_status', timeoutMs);
    if (m.desktopConnected === v) return m;
  }
  throw new Error(`no desktop_status ${v}`);
};

const keyPrefix = `rc-bench-cluster-${process.pid}`;
let redis = await startRedis();
let nats = await startNats();
// Budgets out of the way: the latency loop sends more commands than a phone may per minute.
const env = {
  TOKEN_ROTATION_GRACE_MS: 30000, MAX_PAIR_REQUESTS_PER_MINUTE: 100000, MAX_WS_MESSAGES_PER_MINUTE: 100000,
  MAX_REMOTE_COMMANDS_PER_MINUTE: 100000, MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: 100000,
};
const node = (name, extra = {}) => startNode({ name, redis, nats, keyPrefix, env: { ...env, ...extra } });
let [A, B, C] = await Promise.all([node('bench-a'), node('bench-b'), node('bench-c')]);
const results = {};

try {
  await waitMembers([A, B, C], 3, 15000);

  // 1. latency
  async function latency(phoneNode) {
    const f = await crossPair(A, A, phoneNode);
    const sid = f.creds.sessionID;
    const down = [];
    const up = [];
    for (let i = 1; i <= SAMPLES; ++i) {
      let t = performance.now();
      f.desktop.send({ type: 'event', schemaVersion: 2, sessionID: sid, seq: i, payload: { type: 'thread.event' } });
      for (;;) { const m = await f.phone.next(5000); if (m.type === 'event' && m.seq === i) break; }
      down.push(performance.now() - t);
      t = performance.now();
      const c = threadSelect('t1');
      f.phone.send(command(sid, i, c));
      for (;;) { const m = await f.desktop.next(5000); if (m.payload?.payload?.commandID === c.commandID) break; }
      up.push(performance.now() - t);
    }
    f.phone.close();
    f.desktop.close();
    return { desktopToPhone: summary(down), phoneToDesktop: summary(up) };
  }
  results.singleNode = await latency(A);
  results.crossNode = await latency(C);

  // 2. revoke across nodes
  const revoke = [];
  for (let i = 0; i < 100; ++i) {
    const f = await crossPair(A, B, C);
    const t0 = performance.now();
    const res = await A.post('/devices/revoke', {
      schemaVersion: 2, sessionID: f.creds.sessionID, desktopSessionToken: f.creds.desktopSessionToken, deviceID: f.deviceID,
    });
    if (res.status !== 200) throw new Error(`revoke ${res.status} ${res.text}`);
    const m = await f.phone.nextOfType('disconnect', 5000);
    revoke.push(performance.now() - t0);
    if (m.reason !== 'device_revoked') throw new Error(JSON.stringify(m));
    f.desktop.close();
  }
  results.revokeAcrossNodes = summary(revoke);
  WsClient.terminateAll();

  // 3. reconnect after kill -9 of a node (20 desktops and 20 phones on B)
  const fx = [];
  for (let i = 0; i < 20; ++i) fx.push(await crossPair(A, B, B));
  const t0 = performance.now();
  const reconnect = await Promise.all([
    B.kill(),
    ...fx.flatMap((f) => [
      f.desktop.waitClose(5000).then(async () => { await connectDesktop(A, f.creds.desktopSessionToken); return performance.now() - t0; }),
      f.phone.waitClose(5000).then(async () => { await connectPhone(C, f.phoneAuthOk.nextDeviceSessionToken); return performance.now() - t0; }),
    ]),
  ]);
  // Desktops go to A, which holds their sessions; phones to C, which has to load them from Redis
  // (a forced reload on the unknown token, coalesced: at most one per 250 ms).
  results.reconnectAfterKill9 = {
    desktopToNodeHoldingSession: summary(reconnect.slice(1).filter((_, i) => i % 2 === 0)),
    phoneToNodeLoadingFromRedis: summary(reconnect.slice(1).filter((_, i) => i % 2 === 1)),
  };
  WsClient.terminateAll();
  B = await node('bench-b2');
  await waitMembers([A, B, C], 3, 15000);

  // 4. presence convergence after a NATS outage (20 sessions: desktop on A, phone on C)
  const px = [];
  for (let i = 0; i < 20; ++i) px.push(await crossPair(A, A, C));
  const presence = [];
  for (let round = 0; round < 3; ++round) {
    const port = nats.port;
    await nats.kill();
    await Promise.all(px.map((f) => statusIs(f.phone, false, 15000)));
    nats = await startNats(port);
    const back = performance.now();
    const ts = await Promise.all(px.map((f) => statusIs(f.phone, true, 15000).then(() => performance.now() - back)));
    presence.push(...ts);
    await waitMembers([A, B, C], 3, 15000);
  }
  results.presenceAfterNatsOutage = summary(presence);
} finally {
  WsClient.terminateAll();
  for (const n of [A, B, C]) await n?.kill();
  await nats.kill();
  await redis.kill();
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
results.machine = `${cpu}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, Node ${process.version}, ${new Date().toISOString()}`;
console.log(`[bench cluster] ${results.machine}`);
console.log(`[bench cluster] event desktop→phone, same node:  ${fmt(results.singleNode.desktopToPhone)}`);
console.log(`[bench cluster] event desktop→phone, cross node: ${fmt(results.crossNode.desktopToPhone)}`);
console.log(`[bench cluster] command phone→desktop, same node:  ${fmt(results.singleNode.phoneToDesktop)}`);
console.log(`[bench cluster] command phone→desktop, cross node: ${fmt(results.crossNode.phoneToDesktop)}`);
console.log(`[bench cluster] revoke on A → phone on C disconnected: ${fmt(results.revokeAcrossNodes)}`);
console.log(`[bench cluster] kill -9 of a node → desktop auth_ok on a node holding its session: ${fmt(results.reconnectAfterKill9.desktopToNodeHoldingSession)}`);
console.log(`[bench cluster] kill -9 of a node → phone auth_ok on a node loading it from Redis: ${fmt(results.reconnectAfterKill9.phoneToNodeLoadingFromRedis)}`);
console.log(`[bench cluster] NATS back → desktop_status true at phones: ${fmt(results.presenceAfterNatsOutage)}`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results, null, 2));
process.exit(0);
