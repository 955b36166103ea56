// SCENARIOS 34-36, 38 and §10 budgets (command / snapshot / socket message rate limits).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { pairedFixture, connectPhone, command, threadSelect, snapshotRequest, assertForwarded, nextCommandID } from './lib/fixture.mjs';

const DEVICE_MSG = 'Too many remote commands from this device. Retry shortly.';
const SESSION_MSG = 'Remote command throughput for this session is temporarily saturated.';
const SNAP_MSG = 'Too many snapshot requests from this device. Retry shortly.';

async function forwardedOk(fx, msg) {
  fx.phone.send(msg);
  assertForwarded(await fx.desktop.next(2000), msg, fx.deviceID);
}
async function rejected(fx, msg, error, message) {
  fx.phone.send(msg);
  assert.deepEqual(await fx.phone.next(2000), { type: 'relay.error', error, message });
  await fx.desktop.expectNothing(250);
}

describe('MAX_REMOTE_COMMANDS_PER_MINUTE=2, MAX_SNAPSHOT_REQUESTS_PER_MINUTE=2', () => {
  const h = useRelay({ MAX_REMOTE_COMMANDS_PER_MINUTE: '2', MAX_SNAPSHOT_REQUESTS_PER_MINUTE: '2' });

  test('S34 three valid commands → first two forwarded, third command_rate_limited and not forwarded', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
    await rejected(fx, command(sid, 3, threadSelect()), 'command_rate_limited', DEVICE_MSG);
    const m = await h.relay.metrics();
    assert.ok(m.commandRateLimitBuckets >= 1, `commandRateLimitBuckets=${m.commandRateLimitBuckets}`);
  });

  test('S36 three snapshot requests → two forwarded, third snapshot_rate_limited', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    await forwardedOk(fx, snapshotRequest(sid));
    await forwardedOk(fx, snapshotRequest(sid, { lastSeq: 3 }));
    await rejected(fx, snapshotRequest(sid), 'snapshot_rate_limited', SNAP_MSG);
    // snapshot budget is separate from the command budget
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    const m = await h.relay.metrics();
    assert.ok(m.snapshotRateLimitBuckets >= 1, `snapshotRateLimitBuckets=${m.snapshotRateLimitBuckets}`);
  });

  test('§10 per-device command budget survives a reconnect', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
    fx.phone.close();
    await fx.phone.waitClose(2000);
    const p2 = await connectPhone(h.relay, fx.rotatedToken);
    await fx.desktop.drain(200);
    await rejected({ ...fx, phone: p2.ws }, command(sid, 1, threadSelect()), 'command_rate_limited', DEVICE_MSG);
  });

  test('§9.3 budget is consumed before per-command checks', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    fx.phone.send(command(sid, 1, { name: 'terminal.exec', commandID: nextCommandID() }));
    assert.deepEqual(await fx.phone.next(2000), { type: 'relay.error', error: 'invalid_command', message: 'Command name is not allowed.' });
    await forwardedOk(fx, command(sid, 2, threadSelect()));
    await rejected(fx, command(sid, 3, threadSelect()), 'command_rate_limited', DEVICE_MSG);
  });

  test('§9.3 structural rejections do not consume the budget', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    fx.phone.send(command(sid, 1, { name: 'thread.select', threadID: 't' })); // no commandID
    assert.equal((await fx.phone.next(2000)).error, 'invalid_command');
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
  });
});

describe('MAX_REMOTE_COMMANDS_PER_MINUTE=10, MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE=2', () => {
  const h = useRelay({ MAX_REMOTE_COMMANDS_PER_MINUTE: '10', MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: '2' });

  test('S35 three valid commands → third command_rate_limited (session message)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
    await rejected(fx, command(sid, 3, threadSelect()), 'command_rate_limited', SESSION_MSG);
  });
});

describe('MAX_WS_MESSAGES_PER_MINUTE=2 (command limits raised)', () => {
  const h = useRelay({ MAX_WS_MESSAGES_PER_MINUTE: '2', MAX_REMOTE_COMMANDS_PER_MINUTE: '1000', MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: '1000' });

  test('S38 three commands → two forwarded, then disconnect socket_rate_limited (or close)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
    fx.phone.send(command(sid, 3, threadSelect()));
    let msg = null;
    try { msg = await fx.phone.next(2000); } catch { /* closed without a frame is acceptable */ }
    if (msg) assert.deepEqual(msg, { type: 'disconnect', reason: 'socket_rate_limited' });
    const ci = await fx.phone.waitClose(2000);
    assert.notEqual(ci.code, 1008);
    const rest = (await fx.desktop.drain(250)).map((t) => JSON.parse(t)).filter((m) => m.type !== 'relay.device_count');
    assert.deepEqual(rest, [], 'third command must not be forwarded');
  });

  test('§9.1 binary / ping frames are not counted against MAX_WS_MESSAGES_PER_MINUTE', T, async () => {
    const fx = await pairedFixture(h.relay);
    const sid = fx.creds.sessionID;
    for (let i = 0; i < 5; i++) { fx.phone.sendBinary(Buffer.from([i])); fx.phone.ping(); }
    await forwardedOk(fx, command(sid, 1, threadSelect()));
    await forwardedOk(fx, command(sid, 2, threadSelect()));
  });
});
