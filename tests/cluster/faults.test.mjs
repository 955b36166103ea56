// Issue 12 repros (cluster faults): three relay nodes + nats-server + redis-server on random
// loopback ports, servers killed and restarted by PID.
//   1. equal write versions: pair/start on A, desktop auth on B, unknown-token auth on C,
//      join on A approved, the phone's fresh token must be accepted on C.
//   2. first write after a quick Redis restart is not lost.
//   3. presence heals after a NATS outage longer than the member timeout.
//   4. device counts are cluster-wide.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startNats, startNode, toolAvailable, waitMembers } from './lib/cluster.mjs';
import {
  newCreds, pairStart, connectDesktop, connectPhone, joinAndApprove, b64url,
} from './lib/fixture.mjs';
import { WsClient, openAndAuth } from './lib/ws.mjs';

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
});
