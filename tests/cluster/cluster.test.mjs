// Three relay-node processes + nats-server + redis-server on random loopback ports
// (SCENARIOS 43-44 and the multi-node issue): cross-node pairing and ordered routing, revoke
// and kill switch across nodes (timed), forged / replayed envelopes, kill -9 of the desktop's
// node, membership, NATS restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startNats, startNode, toolAvailable, waitMembers, RawNats, envelope, PREFIX, SECRET,
} from './lib/cluster.mjs';
import {
  newCreds, pairStart, connectDesktop, connectPhone, startJoin, command, threadSelect,
  snapshotRequest,
} from './lib/fixture.mjs';
import { WsClient, openAndAuth } from './lib/ws.mjs';
import { sleep, waitFor } from './lib/relay.mjs';

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed');

const ev = (sessionID, seq) =>
  ({ type: 'event', schemaVersion: 2, sessionID, seq, payload: { type: 'thread.event', n: seq } });

/** pair/start on `a`, desktop on `b`, join on `c` approved by the desktop, phone on `c`. */
async function crossPair(a, b, c) {
  const creds = newCreds();
  await pairStart(a, creds);
  const d = await connectDesktop(b, creds.desktopSessionToken);
  const joinP = startJoin(c, creds, { deviceName: 'Cross Phone' });
  const req = await d.ws.nextOfType('relay.pair_request', 5000);
  d.ws.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: req.requestID, approved: true });
  await d.ws.nextOfType('relay.pair_result', 3000);
  const join = await joinP;
  assert.equal(join.status, 200, join.text);
  const p = await connectPhone(c, join.body.deviceSessionToken);
  return { creds, desktop: d.ws, phone: p.ws, phoneAuthOk: p.authOk, deviceID: join.body.deviceID };
}

describe('three-node cluster (NATS + Redis)', { skip }, () => {
  let redis, nats;
  const keyPrefix = `rc-cluster-${process.pid}`;
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

  it('healthz reports the bus; /admin/cluster lists the three members', async () => {
    for (const n of [A, B, C]) {
      const h = await n.health();
      assert.equal(h.crossInstanceBusEnabled, true);
      assert.equal(h.busConnected, true);
      assert.equal(h.redisConnected, true);
    }
    const r = await A.admin('/admin/cluster');
    assert.equal(r.status, 200);
    const names = r.body.members.map((m) => m.nodeName).sort();
    assert.deepEqual(names, ['node-a', 'node-b', 'node-c']);
    assert.ok(r.body.members.every((m) => m.healthy), JSON.stringify(r.body.members));
  });

  it('S43/S44: pair on A, desktop on B, phone on C; 10 events each way in order', async () => {
    const f = await crossPair(A, B, C);
    assert.equal(f.phoneAuthOk.desktopConnected, true);
    const N = 10;
    const t0 = performance.now();
    for (let i = 1; i <= N; ++i) f.desktop.send(ev(f.creds.sessionID, i));
    for (let i = 1; i <= N; ++i) {
      const m = await f.phone.nextOfType('event', 3000);
      assert.equal(m.seq, i);
    }
    const cmds = [];
    for (let i = 1; i <= N; ++i) {
      const c = threadSelect('t' + i);
      cmds.push(c);
      f.phone.send(command(f.creds.sessionID, i, c));
    }
    for (let i = 1; i <= N; ++i) {
      const m = await f.desktop.nextSkipping(['relay.device_count'], 3000);
      assert.equal(m.payload.payload.commandID, cmds[i - 1].commandID);
      assert.equal(m.relayDeviceID, f.deviceID);
    }
    // Round-trip latency across nodes (desktop on B → phone on C → desktop on B).
    const rtts = [];
    for (let i = N + 1; i <= N + 30; ++i) {
      const s = performance.now();
      f.desktop.send(ev(f.creds.sessionID, i));
      await f.phone.nextOfType('event', 3000);
      f.phone.send(command(f.creds.sessionID, i, threadSelect('r' + i)));
      await f.desktop.nextSkipping(['relay.device_count'], 3000);
      rtts.push(performance.now() - s);
    }
    rtts.sort((x, y) => x - y);
    console.log(`[cluster] cross-node ordered exchange ${N}+${N} in ${(performance.now() - t0).toFixed(1)} ms; ` +
      `round trip p50 ${rtts[15].toFixed(2)} ms p95 ${rtts[28].toFixed(2)} ms`);
    // /admin/cluster shows who holds the sockets.
    const r = await A.admin('/admin/cluster');
    const byName = Object.fromEntries(r.body.members.map((m) => [m.nodeName, m]));
    await waitFor(async () => {
      const x = (await A.admin('/admin/cluster')).body.members.find((m) => m.nodeName === 'node-b');
      return x.held.some((h) => h.desktop);
    }, { what: 'node-b holds a desktop' });
    assert.ok(byName['node-c']);
    f.desktop.close();
    f.phone.close();
  });

  it('revoke on A disconnects the phone on C within 1 s', async () => {
    const f = await crossPair(A, B, C);
    const t0 = performance.now();
    const res = await A.post('/devices/revoke', {
      schemaVersion: 2, sessionID: f.creds.sessionID, desktopSessionToken: f.creds.desktopSessionToken,
      deviceID: f.deviceID,
    });
    assert.equal(res.status, 200, res.text);
    const m = await f.phone.nextOfType('disconnect', 1000);
    const ms = performance.now() - t0;
    assert.equal(m.reason, 'device_revoked');
    console.log(`[cluster] revoke on node-a → phone on node-c disconnected after ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1000);
    // The revoked token no longer authenticates anywhere.
    const { ws, first } = await openAndAuth(C.wsURL, f.phoneAuthOk.nextDeviceSessionToken, { label: 'revoked' });
    assert.ok(!first || first.type !== 'auth_ok', JSON.stringify(first));
    ws.terminate();
    f.desktop.close();
  });

  it('kill switch on A ends the session on B and C within 1 s', async () => {
    const f = await crossPair(A, B, C);
    const t0 = performance.now();
    const r = await A.admin(`/admin/sessions/${f.creds.sessionID}/kill`, 'POST');
    assert.equal(r.status, 200, r.text);
    const [dm, pm] = await Promise.all([
      f.desktop.nextOfType('disconnect', 1000), f.phone.nextOfType('disconnect', 1000)]);
    const ms = performance.now() - t0;
    assert.equal(dm.reason, 'session_expired');
    assert.equal(pm.reason, 'session_expired');
    console.log(`[cluster] kill switch on node-a → sockets on node-b/node-c closed after ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1000);
  });

  it('forged and replayed envelopes have no effect', async () => {
    const f = await crossPair(A, B, C);
    await f.desktop.nextOfType('relay.device_count', 3000);
    const nc = await RawNats.connect(nats.port);
    const subject = `${PREFIX}.session.${f.creds.sessionID}`;
    nc.sub(subject);
    await nc.flush();
    // A real envelope to replay later: desktop event published by B.
    f.desktop.send(ev(f.creds.sessionID, 1));
    assert.equal((await f.phone.nextOfType('event', 3000)).seq, 1);
    const real = await nc.waitMsg((m) => m.data.includes('thread.event'));
    // 1. forged (wrong secret), 2. unsigned, 3. replayed, 4. stale, 5. revoke with bad signature.
    nc.pub(subject, envelope({ sessionID: f.creds.sessionID, target: 'mobile', payload: ev(f.creds.sessionID, 99), secret: 'x'.repeat(40) }));
    const unsigned = JSON.parse(envelope({ sessionID: f.creds.sessionID, target: 'mobile', payload: ev(f.creds.sessionID, 98) }));
    delete unsigned.signature;
    nc.pub(subject, JSON.stringify(unsigned));
    nc.pub(subject, real.data);
    nc.pub(subject, envelope({ sessionID: f.creds.sessionID, target: 'mobile', payload: ev(f.creds.sessionID, 97), issuedAt: Date.now() - 10 * 60 * 1000 }));
    nc.pub(subject, envelope({ sessionID: f.creds.sessionID, target: 'mobile', deviceID: f.deviceID,
      payload: { type: 'disconnect', reason: 'device_revoked' }, secret: 'y'.repeat(40) }));
    nc.pub(subject, envelope({ sessionID: f.creds.sessionID, target: 'desktop',
      payload: { type: 'disconnect', reason: 'stopped_by_desktop' }, secret: 'z'.repeat(40) }));
    await nc.flush();
    await f.phone.expectNothing(500);
    await f.desktop.expectNothing(100);
    // A correctly signed fresh envelope IS delivered (the check above is not vacuous).
    nc.pub(subject, envelope({ sessionID: f.creds.sessionID, target: 'mobile', payload: ev(f.creds.sessionID, 2), secret: SECRET }));
    assert.equal((await f.phone.nextOfType('event', 2000)).seq, 2);
    const stats = (await C.admin('/admin/cluster')).body.dropped;
    assert.ok(stats.bad_signature >= 3, JSON.stringify(stats));
    assert.ok(stats.replayed >= 1, JSON.stringify(stats));
    assert.ok(stats.too_old >= 1, JSON.stringify(stats));
    nc.close();
    f.desktop.close();
    f.phone.close();
  });

  it('kill -9 of the desktop node: desktop reconnects to A, phone on C resyncs', async () => {
    const victim = await node('node-d');
    await waitMembers([A, C, victim], 4);
    const f = await crossPair(A, victim, C);
    await victim.kill();
    // Presence: C learns from the missed heartbeats that the desktop is gone.
    const st = await f.phone.nextOfType('relay.desktop_status', 6000);
    assert.equal(st.desktopConnected, false);
    const d2 = await connectDesktop(A, f.creds.desktopSessionToken);
    assert.equal(d2.authOk.sessionID, f.creds.sessionID);
    const st2 = await f.phone.nextOfType('relay.desktop_status', 3000);
    assert.equal(st2.desktopConnected, true);
    f.phone.send(snapshotRequest(f.creds.sessionID));
    const snap = await d2.ws.nextSkipping(['relay.device_count'], 3000);
    assert.equal(snap.type, 'relay.snapshot_request');
    d2.ws.send(ev(f.creds.sessionID, 1));
    assert.equal((await f.phone.nextOfType('event', 3000)).seq, 1);
    await waitMembers([A, B, C], 3, 8000);
    d2.ws.close();
    f.phone.close();
  });

  it('graceful stop: the member leaves at once and keeps its sessions in Redis', async () => {
    const e = await node('node-e');
    await waitMembers([A, e], 4);
    const creds = newCreds();
    await pairStart(e, creds);
    await e.stop();
    const t0 = performance.now();
    await waitMembers([A, B, C], 3, 2000);
    console.log(`[cluster] graceful leave seen by all members after ${(performance.now() - t0).toFixed(0)} ms`);
    const d = await connectDesktop(B, creds.desktopSessionToken);
    assert.equal(d.authOk.sessionID, creds.sessionID);
    d.ws.close();
  });

  it('NATS restart: nodes report the outage and traffic flows again', async () => {
    const f = await crossPair(A, B, C);
    await nats.kill();
    await waitFor(async () => (await A.health()).busConnected === false, { timeoutMs: 5000, what: 'busConnected false' });
    nats = await startNats(nats.port);
    const t0 = performance.now();
    await waitFor(async () => {
      for (const n of [A, B, C]) if (!(await n.health()).busConnected) return false;
      return true;
    }, { timeoutMs: 10000, what: 'busConnected true' });
    // Traffic flows again (retry: subscriptions may be re-sent a moment after the reconnect).
    let seq = 1;
    await waitFor(async () => {
      f.desktop.send(ev(f.creds.sessionID, seq++));
      try { await f.phone.nextOfType('event', 300); return true; } catch { return false; }
    }, { timeoutMs: 8000, what: 'events across nodes after NATS restart' });
    console.log(`[cluster] NATS restart: traffic flowing again ${(performance.now() - t0).toFixed(0)} ms after nats-server came back`);
    const c = threadSelect('after-restart');
    f.phone.send(command(f.creds.sessionID, 1, c));
    const m = await f.desktop.nextSkipping(['relay.device_count', 'relay.desktop_status'], 3000);
    assert.equal(m.payload.payload.commandID, c.commandID);
    await waitMembers([A, B, C], 3, 5000);
  });
});
