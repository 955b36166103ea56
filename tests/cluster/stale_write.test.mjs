// Issue 12 item 1 (found by scripts/chaos.sh): a node whose write counter ran ahead (writes that
// never reached Redis while it was down) must not overwrite another node's newer write with its
// stale copy. Before the fix, Redis accepted any version above the stored one, so A's stale
// record replaced B's token rotation and the phone's current token vanished: 1008.
//   pair + desktop on A, phone on B; Redis down while the desktop reconnects on A three times
//   (A's writes fail, its counter advances); Redis back with its data; NATS down (A cannot hear
//   of B's write); the phone reconnects on B (rotation stored); the desktop reconnects on A (A
//   writes); the phone's new token must still work on C, which reads the session from Redis.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startRedis, startNats, startNode, toolAvailable, waitMembers } from './lib/cluster.mjs';
import { newCreds, pairStart, connectDesktop, connectPhone, joinAndApprove } from './lib/fixture.mjs';
import { WsClient } from './lib/ws.mjs';
import { waitFor } from './lib/relay.mjs';

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed') ||
  (!toolAvailable('redis-cli') && 'redis-cli not installed');

describe('a stale copy never overwrites a newer write (issue 12)', { skip }, () => {
  const keyPrefix = `rc-stale-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-stale-'));
  let redis, nats;
  const nodes = [];
  const versionOf = (sid) => Number(execFileSync('redis-cli',
    ['-h', '127.0.0.1', '-p', String(redis.port), 'GET', `${keyPrefix}:session:version:v1:${sid}`],
    { encoding: 'utf8', timeout: 5000 }).trim() || 0);

  before(async () => {
    redis = await startRedis(undefined, { dir });
    nats = await startNats();
    for (const name of ['stale-a', 'stale-b', 'stale-c']) {
      nodes.push(await startNode({ name, redis, nats, keyPrefix, env: { TOKEN_ROTATION_GRACE_MS: 0 } }));
    }
    await waitMembers(nodes, 3);
  });
  after(async () => {
    WsClient.terminateAll();
    for (const n of nodes) await n.kill();
    await nats?.kill();
    await redis?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the phone's token rotated on B survives A's write from a stale copy", async () => {
    const [A, B, C] = nodes;
    const creds = newCreds();
    await pairStart(A, creds);
    let d = await connectDesktop(A, creds.desktopSessionToken);
    const { join } = await joinAndApprove(A, creds, d.ws, { deviceName: 'Phone' });
    assert.equal(join.status, 200, join.text);
    let p = await connectPhone(B, join.body.deviceSessionToken, { label: 'phone-b1' });
    p.ws.close();
    await p.ws.waitClose();
    const sid = creds.sessionID;
    // Redis down: A's writes (desktop reconnects) fail, but its counter advances.
    const port = redis.port;
    await redis.kill();
    for (let i = 0; i < 3; ++i) {
      d.ws.close();
      await d.ws.waitClose();
      d = await connectDesktop(A, creds.desktopSessionToken, { label: `desktop-down-${i}` });
    }
    redis = await startRedis(port, { dir });
    await waitFor(async () => (await A.health()).redisConnected && (await B.health()).redisConnected,
      { what: 'A and B reconnected to Redis', timeoutMs: 10000 });
    // NATS down: A does not hear of B's next write (no session_refresh notice).
    await nats.kill();
    const before = versionOf(sid);
    p = await connectPhone(B, p.authOk.nextDeviceSessionToken, { label: 'phone-b2' });
    const token = p.authOk.nextDeviceSessionToken;
    p.ws.close();
    await waitFor(() => versionOf(sid) > before, { what: "B's rotation stored", timeoutMs: 5000 });
    const afterB = versionOf(sid);
    // A writes from its copy, which does not have B's rotation.
    d.ws.close();
    await d.ws.waitClose();
    d = await connectDesktop(A, creds.desktopSessionToken, { label: 'desktop-after' });
    await waitFor(() => versionOf(sid) > afterB, { what: "A's write stored", timeoutMs: 5000 });
    // C reads the session from Redis: the token B issued must be there.
    const c = await connectPhone(C, token, { label: 'phone-c' });
    assert.equal(c.authOk.type, 'auth_ok');
    c.ws.close();
    d.ws.close();
  });
});
