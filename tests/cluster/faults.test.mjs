// Issue 12 repros (cluster faults): three relay nodes + nats-server + redis-server on random
// loopback ports, servers killed and restarted by PID.
//   1. equal write versions: pair/start on A, desktop auth on B, unknown-token auth on C,
//      join on A approved, the phone's fresh token must be accepted on C.
//   2. first write after a quick Redis restart is not lost.
//   3. presence heals after a NATS outage longer than the member timeout.
//   4. device counts are cluster-wide.
//   5. a join right after /pair/refresh on another node is not refused by that node's stale
//      copy (found by chaos.test.mjs: 409 join_token_already_used).
//   6. a phone whose node missed the desktop's desktop_status true (here: a signed
//      desktop_status false put C in that state) is told true again by the desktop's next frame
//      (found by chaos.test.mjs: phones stuck "offline", every command refused, events flowing).
//   7. the same missed status with an idle desktop (no frame would ever prove it): the phone's
//      refused command makes its node probe the cluster, and desktop_status true follows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startNats, startNode, toolAvailable, waitMembers, crossPair, commandReaches,
  RawNats, envelope, PREFIX,
} from './lib/cluster.mjs';
import {
  newCreds, pairStart, pairRefresh, connectDesktop, connectPhone, joinAndApprove, b64url, command, threadSelect,
} from './lib/fixture.mjs';
import { WsClient, openAndAuth } from './lib/ws.mjs';
import { waitFor } from './lib/relay.mjs';

/** Next relay.desktop_status with desktopConnected === v (others skipped, bounded). */
async function statusIs(ws, v, timeoutMs) {
  for (let i = 0; i < 20; ++i) {
    const m = await ws.nextOfType('relay.desktop_status', timeoutMs);
    if (m.desktopConnected === v) return m;
  }
  throw new Error(`no desktop_status ${v}`);
}

/** Next relay.device_count with connectedDeviceCount === n (others skipped, bounded). */
async function countIs(ws, n, timeoutMs = 5000) {
  for (let i = 0; i < 20; ++i) {
    const m = await ws.nextOfType('relay.device_count', timeoutMs);
    if (m.connectedDeviceCount === n) return m;
  }
  throw new Error(`no relay.device_count ${n}`);
}

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed');

describe('cluster faults (issue 12)', { skip }, () => {
  let redis, nats;
  const keyPrefix = `rc-faults-${process.pid}`;
  let A, B, C;
  const all = [];
  const node = async (name) => {
    const n = await startNode({ name, redis, nats, keyPrefix, env: { TOKEN_ROTATION_GRACE_MS: 30000 } });
    all.push(n);
    return n;
  };

  before(async () => {
    redis = await startRedis();
    nats = await startNats();
    [A, B, C] = await Promise.all([node('node-a'), node('node-b'), node('node-c')]);
    await waitMembers([A, B, C], 3);
  });
  after(async () => {
    WsClient.terminateAll();
    for (const n of all) await n.kill();
    await nats?.kill();
    await redis?.kill();
  });

  it('item 1: the phone token issued by a join on A is accepted on C after C reloaded', async () => {
    const creds = newCreds();
    await pairStart(A, creds);
    const d = await connectDesktop(B, creds.desktopSessionToken);
    // Any auth with an unknown token on C: C runs a forced reload and adopts the session.
    const unknown = await openAndAuth(C.wsURL, b64url(32), { label: 'unknown' });
    assert.notEqual(unknown.first?.type, 'auth_ok');
    unknown.ws.terminate();
    const { join } = await joinAndApprove(A, creds, d.ws, { deviceName: 'Phone' });
    assert.equal(join.status, 200, join.text);
    const { ws: p, first } = await openAndAuth(C.wsURL, join.body.deviceSessionToken, {
      label: 'phone-on-c', origin: 'http://localhost:4173',
    });
    assert.ok(first, `phone on C: closed ${JSON.stringify(p.closeInfo)}`);
    assert.equal(first.type, 'auth_ok', JSON.stringify(first));
    assert.equal(first.role, 'mobile');
    // The rotated token is durable: A (which wrote the join) accepts it too.
    p.close();
    const again = await connectPhone(A, first.nextDeviceSessionToken, { label: 'phone-on-a' });
    again.ws.close();
    d.ws.close();
  });

  it('item 2: the first write after a quick Redis restart reaches Redis', async () => {
    // Every node has used its Redis connections (item 1 above and the reload pings).
    const port = redis.port;
    await redis.kill();
    redis = await startRedis(port);  // same port, empty, nothing written between
    const creds = newCreds();
    await pairStart(A, creds);
    // B never saw the session: it must find it in Redis.
    const d = await connectDesktop(B, creds.desktopSessionToken, { label: 'desktop-after-restart' });
    d.ws.close();
    const h = await A.health();
    assert.equal(h.redisConnected, true);
  });

  it('item 3: presence heals after a NATS outage longer than the member timeout', async () => {
    const f = await crossPair(A, B, C);
    try {
      await commandReaches(f, 1);
      const port = nats.port;
      await nats.kill();
      // C misses B's heartbeats (> 3 s) and tells the phone the desktop is gone.
      await statusIs(f.phone, false, 10000);
      nats = await startNats(port);
      // Once the bus is back, B re-announces its desktop: the phone learns it is online again.
      await statusIs(f.phone, true, 15000);
      await commandReaches(f, 2);
    } finally {
      f.phone.close();
      f.desktop.close();
    }
  });

  it('item 4: device counts include phones on other nodes', async () => {
    await waitMembers([A, B, C], 3, 15000);
    const creds = newCreds();
    await pairStart(A, creds);
    let d = await connectDesktop(B, creds.desktopSessionToken);
    const j1 = await joinAndApprove(C, creds, d.ws, { deviceName: 'Phone C' });
    const p1 = await connectPhone(C, j1.join.body.deviceSessionToken, { label: 'phone-c' });
    await countIs(d.ws, 1);
    await pairRefresh(A, creds);  // a fresh join token for the second phone
    const j2 = await joinAndApprove(A, creds, d.ws, { deviceName: 'Phone A' });
    const p2 = await connectPhone(A, j2.join.body.deviceSessionToken, { label: 'phone-a' });
    await countIs(d.ws, 2);
    assert.equal(p2.authOk.connectedDeviceCount >= 1, true);
    // A desktop reconnecting on B counts both phones in auth_ok once B has seen the heartbeats.
    await waitFor(async () => {
      const r = await B.admin('/admin/cluster');
      const sid = creds.sessionID;
      const mine = `${sid.slice(0, 6)}...${sid.slice(-4)}`;  // admin view redacts session ids
      const held = r.body.members.filter((m) => !m.self).flatMap((m) => m.held || []);
      return held.filter((h) => h.sessionID === mine && h.mobiles > 0).length >= 2;
    }, { what: 'node-b sees both phones in heartbeats', timeoutMs: 10000 });
    d.ws.close();
    d = await connectDesktop(B, creds.desktopSessionToken, { label: 'desktop-again' });
    assert.equal(d.authOk.connectedDeviceCount, 2, JSON.stringify(d.authOk));
    // One phone leaves: the count drops to 1.
    p1.ws.close();
    await countIs(d.ws, 1);
    p2.ws.close();
    d.ws.close();
  });

  it('item 5: a join through a node with a stale copy right after /pair/refresh is accepted', async () => {
    // The first phone joins through B, the refresh is on A, the second phone joins through C,
    // which reads the session from Redis (or holds a copy from a forced reload): the refresh must
    // be stored before it is answered, and C must not refuse the new token from a stale copy.
    // Five sessions: the old code answered the refresh before its write and C read the old record.
    const refused = [];
    for (let i = 0; i < 5; ++i) {
      const creds = newCreds();
      await pairStart(A, creds);
      const d = await connectDesktop(A, creds.desktopSessionToken, { label: `desktop-${i}` });
      const j1 = await joinAndApprove(B, creds, d.ws, { deviceName: 'Phone 1' });
      assert.equal(j1.join.status, 200, j1.join.text);
      await pairRefresh(A, creds);
      const j2 = await joinAndApprove(C, creds, d.ws, { deviceName: 'Phone 2' }).catch((e) => ({ error: e.message }));
      if (j2.join?.status !== 200) refused.push(j2.join ? `${j2.join.status} ${j2.join.text}` : j2.error);
      d.ws.close();
    }
    assert.deepEqual(refused, []);
  });

  // Publishes, as B (the desktop's node, by the instance id C knows it by), a desktop_status false
  // that B never sent, and waits for the phone on C to be told it: a missed "true" in miniature.
  async function spoofDesktopOffline(f, B) {
    const sid = f.creds.sessionID;
    const bInstance = (await B.admin('/admin/cluster')).body.instanceID;
    const nc = await RawNats.connect(nats.port);
    try {
      nc.pub(`${PREFIX}.session.${sid}`, envelope({
        sessionID: sid, target: 'mobile', source: bInstance,
        payload: { type: 'relay.desktop_status', sessionID: sid, desktopConnected: false },
      }));
      await nc.flush();
    } finally {
      nc.close();
    }
    await statusIs(f.phone, false, 5000);
  }

  it('item 6: a phone told "desktop offline" by a missed status heals on the next desktop frame', async () => {
    const f = await crossPair(A, B, C);
    const sid = f.creds.sessionID;
    try {
      await commandReaches(f, 1);
      await spoofDesktopOffline(f, B);
      // The desktop is on B all along; its next frame proves it to C.
      f.desktop.send({ type: 'event', schemaVersion: 2, sessionID: sid, seq: 1, payload: { type: 'thread.event' } });
      const m = await f.phone.nextSkipping(['relay.device_count'], 5000);
      assert.deepEqual([m.type, m.desktopConnected], ['relay.desktop_status', true], JSON.stringify(m));
      assert.equal((await f.phone.nextOfType('event', 5000)).seq, 1);
      await commandReaches(f, 2);
    } finally {
      f.phone.close();
      f.desktop.close();
    }
  });

  it('item 7: with an idle desktop, a command refused "desktop offline" heals presence within 2 s', async () => {
    const f = await crossPair(A, B, C);
    const sid = f.creds.sessionID;
    try {
      await commandReaches(f, 1);
      await spoofDesktopOffline(f, B);
      // The desktop sends nothing. The old relay refused this command and every later one until
      // the phone reconnected; now the refusal is followed by desktop_status true.
      f.phone.send(command(sid, 2, threadSelect('t2')));
      const e = await f.phone.nextSkipping(['relay.device_count'], 5000);
      assert.deepEqual([e.type, e.error], ['relay.error', 'desktop_offline'], JSON.stringify(e));
      const m = await f.phone.nextSkipping(['relay.device_count'], 2000);  // the bound: 2 s
      assert.deepEqual([m.type, m.desktopConnected], ['relay.desktop_status', true], JSON.stringify(m));
      await commandReaches(f, 3);
    } finally {
      f.phone.close();
      f.desktop.close();
    }
  });
});
