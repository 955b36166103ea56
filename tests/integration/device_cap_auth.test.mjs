// RELAY_PROTOCOL §6.3 step 2 / §6.4 "mobile socket cap → device_cap_reached" at WS auth.
// In a single process the live-socket cap can only be exceeded by trusted devices that were admitted
// under a higher MAX_DEVICES_PER_SESSION, so this test pairs two devices on relay A (Redis persistence),
// kills A, and restarts relay B on the same Redis with MAX_DEVICES_PER_SESSION=1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startRelay } from './lib/relay.mjs';
import { ROOMY } from './lib/setup.mjs';
import { redisAvailable, startRedis } from './lib/redis.mjs';
import { WsClient, assertDropped, PWA_ORIGIN } from './lib/ws.mjs';
import { newCreds, pairStart, pairRefresh, connectDesktop, connectPhone, joinAndApprove } from './lib/fixture.mjs';

const cleanup = [];
after(async () => {
  WsClient.terminateAll();
  for (const f of cleanup.reverse()) await f();
});

test('§6.4 device_cap_reached at auth: live mobile sockets ≥ MAX_DEVICES_PER_SESSION → dropped silently',
  { timeout: 30000, skip: redisAvailable() ? false : 'redis-server not installed' }, async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const prefix = `rc-it-${crypto.randomBytes(4).toString('hex')}`;
    const a = await startRelay({ ...ROOMY, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, MAX_DEVICES_PER_SESSION: '2' });
    cleanup.push(() => a.kill());
    assert.equal((await a.health()).redisPersistenceEnabled, true);
    const c = newCreds();
    await pairStart(a, c);
    const { ws: desktopA } = await connectDesktop(a, c.desktopSessionToken);
    const j1 = (await joinAndApprove(a, c, desktopA, { deviceName: 'one' })).join;
    assert.equal(j1.status, 200, j1.text);
    await pairRefresh(a, c);
    const j2 = (await joinAndApprove(a, c, desktopA, { deviceName: 'two' })).join;
    assert.equal(j2.status, 200, j2.text);
    desktopA.terminate();
    await a.kill(); // no graceful shutdown (the reference deletes sessions from Redis on SIGTERM)

    const b = await startRelay({ ...ROOMY, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, MAX_DEVICES_PER_SESSION: '1' });
    cleanup.push(() => b.kill());
    const { ws: desktopB } = await connectDesktop(b, c.desktopSessionToken);
    const p1 = await connectPhone(b, j1.body.deviceSessionToken, { label: 'phone-one' });
    assert.equal(p1.authOk.deviceID, j1.body.deviceID);
    await desktopB.nextOfType('relay.device_count', 2000);
    const before = (await b.metrics()).wsAuthFailureReasons.device_cap_reached || 0;
    const p2 = await WsClient.connect(b.wsURL, { origin: PWA_ORIGIN, label: 'phone-two' });
    p2.send({ type: 'relay.auth', token: j2.body.deviceSessionToken });
    assertDropped(await p2.waitClose(3000));
    assert.equal(p2.queue.length, 0, `nothing sent: ${JSON.stringify(p2.queue)}`);
    const m = await b.metrics();
    assert.equal(m.wsAuthFailureReasons.device_cap_reached, before + 1, JSON.stringify(m.wsAuthFailureReasons));
    assert.equal(m.sessionsWithMobile, 1);
    assert.ok(p1.ws.isOpen, 'the first phone is unaffected');
  });
