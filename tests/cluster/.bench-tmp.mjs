import { startRedis, startNats, startNode, waitMembers } from './lib/cluster.mjs';
import { pairedFixture, newCreds, pairStart, connectDesktop, connectPhone, startJoin, command, threadSelect } from './lib/fixture.mjs';
import { WsClient } from './lib/ws.mjs';
const ev = (s, q) => ({ type: 'event', schemaVersion: 2, sessionID: s, seq: q, payload: { n: q } });
async function measure(desktop, phone, sid, label) {
  const r = [];
  for (let i = 1; i <= 200; ++i) {
    const s = performance.now();
    desktop.send(ev(sid, i)); await phone.nextOfType('event', 3000);
    phone.send(command(sid, i, threadSelect('x'))); await desktop.nextSkipping(['relay.device_count'], 3000);
    r.push(performance.now() - s);
  }
  r.sort((a, b) => a - b);
  const N = 2000; const t0 = performance.now();
  for (let i = 1000; i < 1000 + N; ++i) desktop.send(ev(sid, i));
  for (let i = 0; i < N; ++i) await phone.nextOfType('event', 5000);
  const dt = performance.now() - t0;
  console.log(`${label}: RTT p50 ${r[100].toFixed(2)} ms p95 ${r[190].toFixed(2)} ms; ${N} desktop events in ${dt.toFixed(0)} ms = ${(N / dt * 1000).toFixed(0)}/s`);
}
const redis = await startRedis(); const nats = await startNats();
const kp = 'bench' + process.pid;
const single = await startNode({ name: 's', redis, keyPrefix: kp, env: { MAX_WS_MESSAGES_PER_MINUTE: 100000, MAX_REMOTE_COMMANDS_PER_MINUTE: 100000, MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: 100000, MAX_SOCKET_OUTBOUND_QUEUE: 4096 } });
const f = await pairedFixture(single);
await measure(f.desktop, f.phone, f.creds.sessionID, 'single node');
const env = { MAX_WS_MESSAGES_PER_MINUTE: 100000, MAX_REMOTE_COMMANDS_PER_MINUTE: 100000, MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: 100000, MAX_SOCKET_OUTBOUND_QUEUE: 4096 };
const A = await startNode({ name: 'a', redis, nats, keyPrefix: kp, env });
const B = await startNode({ name: 'b', redis, nats, keyPrefix: kp, env });
await waitMembers([A, B], 2);
const creds = newCreds(); await pairStart(A, creds);
const d = await connectDesktop(A, creds.desktopSessionToken);
const jp = startJoin(B, creds); const rq = await d.ws.nextOfType('relay.pair_request', 5000);
d.ws.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: rq.requestID, approved: true });
const j = await jp; const p = await connectPhone(B, j.body.deviceSessionToken);
await measure(d.ws, p.ws, creds.sessionID, 'cross node (desktop A, phone B)');
WsClient.terminateAll();
for (const n of [single, A, B]) await n.kill(); await nats.kill(); await redis.kill();
process.exit(0);
