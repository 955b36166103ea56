// SCENARIOS §H (67-72) and CONFIG_REFERENCE §1/§3 startup validation.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runRelayToExit, startRelay } from './lib/relay.mjs';
import { newCreds, startBody } from './lib/fixture.mjs';

const SECRET = 's'.repeat(40);
const NATS = { NATS_URL: 'nats://127.0.0.1:4222', NATS_HMAC_SECRET: SECRET };

async function expectInvalid(env, needle) {
  const r = await runRelayToExit(env);
  const ctx = `exit=${r.code} signal=${r.signal} listened=${r.listened}\n${r.output.slice(-2000)}`;
  assert.ok(!r.timedOut, `relay did not exit on invalid config (${JSON.stringify(env)}): ${ctx}`);
  assert.ok(r.code !== 0 && r.code !== null, `expected non-zero exit: ${ctx}`);
  assert.equal(r.listened, false, `must not start listening: ${ctx}`);
  assert.match(r.output, /invalid configuration:/, ctx);
  assert.ok(r.output.includes(needle), `output should mention "${needle}": ${ctx}`);
  return r;
}

describe('startup validation', () => {
  test('S67 PUBLIC_BASE_URL=not-a-url → startup error mentioning PUBLIC_BASE_URL', { timeout: 10000 }, async () => {
    await expectInvalid({ PUBLIC_BASE_URL: 'not-a-url' }, 'PUBLIC_BASE_URL');
  });

  test('S68 MAX_PAIR_REQUESTS_PER_MINUTE=0 → error naming MAX_PAIR_REQUESTS_PER_MINUTE', { timeout: 10000 }, async () => {
    await expectInvalid({ MAX_PAIR_REQUESTS_PER_MINUTE: '0' }, 'MAX_PAIR_REQUESTS_PER_MINUTE');
  });

  test('S69 NATS_URL without NATS_HMAC_SECRET → error mentioning NATS_HMAC_SECRET', { timeout: 10000 }, async () => {
    await expectInvalid({ NATS_URL: 'nats://127.0.0.1:4222' }, 'NATS_HMAC_SECRET');
  });

  test('S70 NATS_HMAC_SECRET shorter than 32 chars → error containing "at least 32"', { timeout: 10000 }, async () => {
    await expectInvalid({ ...NATS, NATS_HMAC_SECRET: 'short-secret' }, 'at least 32');
  });

  test('S71 NATS enabled with NATS_REPLAY_WINDOW_MS=0 → error naming it', { timeout: 10000 }, async () => {
    await expectInvalid({ ...NATS, NATS_REPLAY_WINDOW_MS: '0' }, 'NATS_REPLAY_WINDOW_MS');
  });

  test('S72 NATS enabled with NATS_MAX_CLOCK_SKEW_MS=0 → error naming it', { timeout: 10000 }, async () => {
    await expectInvalid({ ...NATS, NATS_MAX_CLOCK_SKEW_MS: '0' }, 'NATS_MAX_CLOCK_SKEW_MS');
  });

  test('CONFIG §3 PUBLIC_BASE_URL with a non-http(s) scheme → error', { timeout: 10000 }, async () => {
    await expectInvalid({ PUBLIC_BASE_URL: 'ftp://relay.example' }, 'PUBLIC_BASE_URL');
  });

  test('CONFIG §3 every "<NAME> must be greater than 0" check', { timeout: 30000 }, async () => {
    const names = ['MAX_JSON_BYTES', 'MAX_DEVICES_PER_SESSION', 'SESSION_RETENTION_MS', 'PAIR_APPROVAL_TIMEOUT_MS',
      'WS_AUTH_TIMEOUT_MS', 'WS_HEARTBEAT_INTERVAL_MS', 'WS_HEARTBEAT_TIMEOUT_MS', 'MAX_PENDING_JOIN_WAITERS',
      'MAX_WS_MESSAGE_BYTES', 'MAX_SOCKET_OUTBOUND_QUEUE', 'MAX_ACTIVE_WEBSOCKET_CONNECTIONS',
      'MAX_REMOTE_COMMANDS_PER_MINUTE', 'MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE', 'MAX_SNAPSHOT_REQUESTS_PER_MINUTE',
      'MAX_WS_MESSAGES_PER_MINUTE', 'MAX_REMOTE_COMMAND_TEXT_BYTES'];
    await Promise.all(names.map(async (n) => {
      const r = await expectInvalid({ [n]: '0' }, n);
      assert.ok(r.output.includes(`${n} must be greater than 0`), `${n}: ${r.output.slice(-500)}`);
    }));
  });

  test('CONFIG §3 WS_HEARTBEAT_TIMEOUT_MS < WS_HEARTBEAT_INTERVAL_MS → error', { timeout: 10000 }, async () => {
    await expectInvalid({ WS_HEARTBEAT_INTERVAL_MS: '5000', WS_HEARTBEAT_TIMEOUT_MS: '4000' }, 'WS_HEARTBEAT_TIMEOUT_MS');
  });

  test('CONFIG §3 ALLOWED_ORIGINS set but empty / without a valid entry → error', { timeout: 10000 }, async () => {
    await expectInvalid({ ALLOWED_ORIGINS: '' }, 'ALLOWED_ORIGINS');
    await expectInvalid({ ALLOWED_ORIGINS: ' , ,' }, 'ALLOWED_ORIGINS');
  });

  test('CONFIG §3 empty HOST → error', { timeout: 10000 }, async () => {
    await expectInvalid({ HOST: '' }, 'HOST');
  });

  test('CONFIG §3 validation order: PUBLIC_BASE_URL is reported before MAX_* checks', { timeout: 10000 }, async () => {
    const r = await expectInvalid({ PUBLIC_BASE_URL: 'not-a-url', MAX_JSON_BYTES: '0' }, 'PUBLIC_BASE_URL');
    assert.ok(!r.output.includes('MAX_JSON_BYTES must be greater than 0'), r.output.slice(-500));
  });
});

describe('parsing fallbacks', () => {
  const started = [];
  after(async () => { for (const r of started) await r.kill(); });

  // Deliberate deviation from the reference (README "Deviations"): an unparsable value is refused
  // at start-up with a message naming the key, instead of silently falling back to the default.
  for (const [key, value] of [['MAX_JSON_BYTES', 'abc'], ['MAX_DEVICES_PER_SESSION', '-1'],
    ['MAX_PAIR_REQUESTS_PER_MINUTE', ' 60'], ['MAX_WS_MESSAGE_BYTES', '99999999999999999999999'],
    ['PORT', '70000'], ['TRUST_PROXY', 'maybe']]) {
    test(`CONFIG §1 (fail closed) ${key}=${JSON.stringify(value)} is refused naming the key`, { timeout: 15000 }, async () => {
      await expectInvalid({ [key]: value }, key);
    });
  }

  test('CONFIG §1 booleans: 1/true/yes/on (trimmed, any case) enable, 0/false/no/off/empty disable', { timeout: 15000 }, async () => {
    const relay = await startRelay({ TRUST_PROXY: ' Off ', ALLOW_LEGACY_QUERY_TOKEN_AUTH: ' TRUE ' });
    started.push(relay);
    assert.equal((await relay.health()).ok, true);
  });

  test('CONFIG §2 NATS secret / replay settings are ignored when NATS_URL is unset', { timeout: 15000 }, async () => {
    const relay = await startRelay({ NATS_HMAC_SECRET: 'short', NATS_REPLAY_WINDOW_MS: '0', REDIS_URL: '   ' });
    started.push(relay);
    const hz = await relay.health();
    assert.equal(hz.crossInstanceBusEnabled, false);
    assert.equal(hz.redisPersistenceEnabled, false);
  });
});
