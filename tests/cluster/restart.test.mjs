// Restart recovery with Redis (SCENARIOS 39-42): a node killed with SIGKILL and restarted (or a
// second node on the same Redis) authenticates the desktop and the phone with their current
// tokens and traffic carries on. No NATS here.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startNode, toolAvailable } from './lib/cluster.mjs';
import {
  pairedFixture, connectDesktop, connectPhone, command, threadSelect, newCreds, pairStart,
  joinAndApprove,
} from './lib/fixture.mjs';
import { openAndAuth } from './lib/ws.mjs';
import { WsClient } from './lib/ws.mjs';

const skip = !toolAvailable('redis-server') && 'redis-server not installed';

function event(sessionID, seq) {
  return { type: 'event', schemaVersion: 2, sessionID, seq, payload: { type: 'thread.event', n: seq } };
}

async function exchange(desktop, phone, sessionID, seq) {
  desktop.send(event(sessionID, seq));
  const ev = await phone.nextOfType('event', 3000);
  assert.equal(ev.seq, seq);
  const cmd = threadSelect('t-' + seq);
  phone.send(command(sessionID, seq, cmd));
  const fwd = await desktop.nextSkipping(['relay.device_count'], 3000);
  assert.equal(fwd.payload.payload.commandID, cmd.commandID);
}

describe('restart recovery (Redis)', { skip }, () => {
  let redis;
  const keyPrefix = `rc-test-${process.pid}`;
  const nodes = [];
  const node = async (name, env) => {
    const n = await startNode({ name, redis, keyPrefix, env: { TOKEN_ROTATION_GRACE_MS: 30000, ...env } });
    nodes.push(n);
    return n;
  };
  before(async () => { redis = await startRedis(); });
  after(async () => {
    for (const w of WsClient.all) w.terminate?.();
    for (const n of nodes) await n.kill();
    await redis?.kill();
  });

  it('SIGKILL + restart: desktop and phone reconnect with current tokens and exchange messages', async () => {
    const a = await node('a');
    const f = await pairedFixture(a);
    await exchange(f.desktop, f.phone, f.creds.sessionID, 1);
    await a.kill(); // SIGKILL: no drain
    const a2 = await node('a-restarted');
    const health = await a2.health();
    assert.equal(health.redisConnected, true);
    assert.ok(health.sessions >= 1, JSON.stringify(health));
    const d = await connectDesktop(a2, f.creds.desktopSessionToken);
    assert.equal(d.authOk.sessionID, f.creds.sessionID);
    assert.equal(d.authOk.desktopConnected, true);
    const p = await connectPhone(a2, f.rotatedToken);
    assert.equal(p.authOk.desktopConnected, true);
    assert.notEqual(p.authOk.nextDeviceSessionToken, f.rotatedToken);
    await d.ws.nextOfType('relay.device_count', 3000);
    for (let i = 2; i <= 5; ++i) await exchange(d.ws, p.ws, f.creds.sessionID, i);
    // And once more: the token rotated on the restarted node survives another crash.
    const next = p.authOk.nextDeviceSessionToken;
    await a2.kill();
    const a3 = await node('a-restarted-twice');
    const p3 = await connectPhone(a3, next);
    assert.equal(p3.authOk.deviceID, f.deviceID);
  });

  it('S39: pair/start on A, A killed, desktop auth on B', async () => {
    const a = await node('s39-a');
    const creds = newCreds();
    await pairStart(a, creds);
    await a.kill();
    const b = await node('s39-b');
    const d = await connectDesktop(b, creds.desktopSessionToken);
    assert.equal(d.authOk.sessionID, creds.sessionID);
    assert.equal(d.authOk.desktopConnected, true);
  });

  it('S40: phone authenticated on A, A killed; the original (grace) token works on B', async () => {
    const a = await node('s40-a');
    const f = await pairedFixture(a);
    await a.kill();
    const b = await node('s40-b');
    const p = await connectPhone(b, f.joinToken);
    assert.ok(p.authOk.nextDeviceSessionToken);
    assert.equal(p.authOk.deviceID, f.deviceID);
  });

  it('S41/S42: A and B running: join-issued and rotated tokens authenticate at once on B', async () => {
    const a = await node('s41-a');
    const b = await node('s41-b');
    const creds = newCreds();
    await pairStart(a, creds);
    const d = await connectDesktop(a, creds.desktopSessionToken);
    const { join } = await joinAndApprove(a, creds, d.ws);
    // S42: fresh join token on B (B never saw the session: forced reload).
    const p1 = await connectPhone(b, join.body.deviceSessionToken);
    p1.ws.close();
    // S41: rotated on B, immediately used on A (A holds the session with its desktop socket:
    // the persisted device record is merged because it is newer).
    const p2 = await connectPhone(a, p1.authOk.nextDeviceSessionToken);
    assert.equal(p2.authOk.deviceID, join.body.deviceID);
    assert.equal(p2.authOk.desktopConnected, true);
  });

  it('lazy reload: /devices/list on a node that never saw the session', async () => {
    const a = await node('lazy-a');
    const b = await node('lazy-b');
    const f = await pairedFixture(a);
    const r = await b.post('/devices/list', {
      schemaVersion: 2, sessionID: f.creds.sessionID, desktopSessionToken: f.creds.desktopSessionToken,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.devices.length, 1);
    assert.equal(r.body.devices[0].deviceID, f.deviceID);
  });

  it('Redis down: /healthz says so, phone auth fails closed, recovers when Redis is back', async () => {
    const a = await node('down-a');
    const f = await pairedFixture(a);
    f.phone.close();
    const port = redis.port;
    await redis.kill();
    await new Promise((r) => setTimeout(r, 2500));
    const h = await a.health();
    assert.equal(h.redisPersistenceEnabled, true);
    assert.equal(h.redisConnected, false);
    const { ws, first } = await openAndAuth(a.wsURL, f.rotatedToken, { label: 'phone-down' });
    assert.ok(!first || first.type !== 'auth_ok', JSON.stringify(first));
    ws.terminate?.();
    redis = await startRedis(port);
    // The store is empty now (no persistence in the test redis): desktop still works locally.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await a.health()).redisConnected, true);
  });
});
