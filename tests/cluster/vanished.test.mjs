// Issue 12 item 1, last clause: a forced reload closes local sessions that vanished from Redis
// (`removed_from_persistence`), but never after Redis lost its data. Nodes keep the store's
// epoch marker (P:epoch:v1, set once when missing); the marker unchanged → a session missing
// from a complete reload was removed by another node (revoke, stop, sweep) and is closed here;
// the marker changed or missing → Redis lost its data, and every node writes back the sessions
// it holds instead, so phones stay paired.
//   1. session keys deleted with redis-cli (as another node's stop would), the node holding the
//      idle session closes it on its next forced reload: its desktop token is refused with 1008.
//   2. Redis restarted without persistence: the sessions are written back, and the phone and
//      the desktop authenticate on a node that never held the session (no 1008).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startRedis, clusterServers, toolAvailable, waitMembers, crossPair } from './lib/cluster.mjs';
import { newCreds, pairStart, connectDesktop, connectPhone, joinAndApprove, b64url } from './lib/fixture.mjs';
import { openAndAuth } from './lib/ws.mjs';
import { waitFor } from './lib/relay.mjs';

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed') ||
  (!toolAvailable('redis-cli') && 'redis-cli not installed');

const cli = (redis, ...args) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args], { encoding: 'utf8', timeout: 5000 }).trim();

/** Every node has read the store's epoch marker (the first check runs 1 s after start). */
const epochKnown = (nodes) => waitFor(async () => {
  // (An older build has no storeEpoch field: nothing to wait for.)
  for (const n of nodes) if ((await n.admin('/admin/cluster')).body?.storeEpoch === '') return false;
  return true;
}, { what: 'every node read the epoch marker', timeoutMs: 10000 });

describe('sessions that vanished from Redis (issue 12 item 1)', { skip }, () => {
  const keyPrefix = `rc-vanished-${process.pid}`;
  const s = clusterServers(keyPrefix);
  const node = s.node;
  before(() => s.start());
  after(() => s.stop());

  it('a session deleted from Redis is closed by its node on the next forced reload', async () => {
    const [A, B] = await Promise.all([node('van-a1'), node('van-b1')]);
    await waitMembers([A, B], 2);
    await epochKnown([A, B]);
    const creds = newCreds();
    await pairStart(A, creds);
    const d = await connectDesktop(A, creds.desktopSessionToken);
    const { join } = await joinAndApprove(A, creds, d.ws, { deviceName: 'Phone' });
    assert.equal(join.status, 200, join.text);
    const sid = creds.sessionID;
    // Idle on A (no sockets): the case a stop or revoke on another node leaves behind.
    d.ws.close();
    await d.ws.waitClose();
    assert.equal(cli(s.redis, 'EXISTS', `${keyPrefix}:session:v1:${sid}`), '1');
    cli(s.redis, 'DEL', `${keyPrefix}:session:v1:${sid}`, `${keyPrefix}:session:version:v1:${sid}`);
    cli(s.redis, 'SREM', `${keyPrefix}:sessions:index:v1`, sid);
    // Any unknown token makes A run a forced reload.
    const unknown = await openAndAuth(A.wsURL, b64url(32), { label: 'unknown' });
    assert.equal(unknown.ws.closeInfo?.code ?? (await unknown.ws.waitClose()).code, 1008);
    await waitFor(() => /"msg":"session_closed"[^\n]*"reason":"removed_from_persistence"/.test(A.logs()),
      { what: 'A closed the session (removed_from_persistence)', timeoutMs: 5000 });
    // Gone on A too: the desktop token is refused like on every other node.
    const again = await openAndAuth(A.wsURL, creds.desktopSessionToken, { label: 'desktop-again' });
    assert.notEqual(again.first?.type, 'auth_ok', JSON.stringify(again.first));
    assert.equal((await again.ws.waitClose()).code, 1008);
    await A.kill();
    await B.kill();
  });

  it('after Redis lost its data the sessions are written back and phones stay paired', async () => {
    const [A, B, C] = await Promise.all([node('van-a2'), node('van-b2'), node('van-c2')]);
    await waitMembers([A, B, C], 3);
    await epochKnown([A, B, C]);
    const f = await crossPair(A, A, B); // pair and desktop on A, phone on B; C never sees it
    const sid = f.creds.sessionID;
    const before = (await A.admin('/admin/cluster')).body.storeEpoch;
    const port = s.redis.port;
    await s.redis.kill();
    s.redis = await startRedis(port); // same port, no persistence: everything is gone
    // The nodes notice the new marker and write their sessions back.
    const after = await waitFor(async () => {
      const b = (await A.admin('/admin/cluster')).body;
      return b.storeEpoch && b.storeEpoch !== before && b;
    }, { what: 'A saw the new epoch marker', timeoutMs: 10000 });
    assert.ok(after.storeWritebacks >= 1, JSON.stringify(after));
    await waitFor(() => { try { return cli(s.redis, 'EXISTS', `${keyPrefix}:session:v1:${sid}`) === '1'; } catch { return false; } },
      { what: 'the session is back in Redis', timeoutMs: 10000 });
    // Phone and desktop move to C, which must load the session from Redis.
    f.phone.close();
    await f.phone.waitClose();
    const p = await connectPhone(C, f.phoneAuthOk.nextDeviceSessionToken, { label: 'phone-on-c' });
    f.desktop.close();
    const d = await connectDesktop(C, f.creds.desktopSessionToken, { label: 'desktop-on-c' });
    // And the token rotated on C is durable: B accepts it.
    p.ws.close();
    const p2 = await connectPhone(B, p.authOk.nextDeviceSessionToken, { label: 'phone-on-b' });
    p2.ws.close();
    d.ws.close();
  });
});
