// A store that cannot be reached while an API call's session is loaded lazily: the call gets
// 503 state_store_unavailable, and the relay logs it (session id redacted, no token) and counts
// it (relay_store_load_failures_total). Before, the 503 left no trace in the logs or metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startRelay } from './lib/relay.mjs';
import { ROOMY } from './lib/setup.mjs';
import { redisAvailable, startRedis } from './lib/redis.mjs';
import { newCreds } from './lib/fixture.mjs';

const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

test('a lazy session load that fails is answered 503, logged without the token and counted',
  { timeout: 30000, skip: redisAvailable() ? false : 'redis-server not installed' }, async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const prefix = `rc-it-${crypto.randomBytes(4).toString('hex')}`;
    const relay = await startRelay({ ...ROOMY, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix });
    cleanup.push(() => relay.kill());
    await redis.stop();
    const c = newCreds();
    const r = await relay.post('/devices/list', { sessionID: c.sessionID, desktopSessionToken: c.desktopSessionToken });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error, 'state_store_unavailable');
    const prom = await relay.get('/metrics');
    assert.match(prom.text, /^relay_store_load_failures_total 1$/m);
    const line = relay.logs().split('\n').find((l) => l.includes('session load failed'));
    assert.ok(line, `a log line for the 503:\n${relay.logs().slice(-2000)}`);
    const entry = JSON.parse(line);
    assert.equal(entry.component, 'broker');
    assert.equal(entry.failures, 1);
    assert.ok(!line.includes(c.sessionID) && !line.includes(c.desktopSessionToken), line);
  });
