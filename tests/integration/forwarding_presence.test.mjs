// SCENARIOS 14-18, 78 (desktop presence / offline gate) and §9.1/§9.2 forwarding rules, message_too_large.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import {
  pairedFixture, connectDesktop, connectPhone, pairRefresh, joinAndApprove, command, threadSelect,
  snapshotRequest, assertForwarded, nextCommandID,
} from './lib/fixture.mjs';

const OFFLINE = { type: 'relay.error', error: 'desktop_offline', message: 'Mac is offline. Reconnect desktop and try again.' };

async function desktopGone(fx) {
  fx.desktop.close();
  await fx.desktop.waitClose(2000);
  const st = await fx.phone.next(1500);
  assert.deepEqual(st, { type: 'relay.desktop_status', sessionID: fx.creds.sessionID, desktopConnected: false });
}

describe('desktop presence and forwarding', () => {
  const h = useRelay();

  test('S14 closing the desktop socket → phone receives relay.desktop_status desktopConnected:false within 1.5 s', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
  });

  test('S15 valid command while the desktop is offline → relay.error desktop_offline', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    fx.phone.send(command(fx.creds.sessionID, 1, threadSelect()));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
  });

  test('S16 desktop re-authenticates → auth_ok desktopConnected:true; phone receives desktop_status true', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    assert.deepEqual(d.authOk, { type: 'auth_ok', role: 'desktop', sessionID: fx.creds.sessionID, connectedDeviceCount: 1, desktopConnected: true });
    assert.deepEqual(await fx.phone.next(2000), { type: 'relay.desktop_status', sessionID: fx.creds.sessionID, desktopConnected: true });
  });

  test('S17 after desktop reconnect a phone command (seq 11 after rejected seq 10) reaches the new desktop', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    fx.phone.send(command(fx.creds.sessionID, 10, threadSelect('thread-A')));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    await fx.phone.nextOfType('relay.desktop_status', 2000);
    const cmd = command(fx.creds.sessionID, 11, { name: 'thread.select', commandID: nextCommandID(), threadID: '8C1E-thread-A' });
    fx.phone.send(cmd);
    const got = await d.ws.next(2000);
    assert.equal(got.payload.payload.name, 'thread.select');
    assert.equal(got.payload.payload.threadID, '8C1E-thread-A');
    assertForwarded(got, cmd, fx.deviceID);
  });

  test('S18 paired fixture, desktop closes → phone gets desktop_status false, then a command → desktop_offline', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    fx.phone.send(command(fx.creds.sessionID, 1, threadSelect()));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
  });

  test('S78 desktop status + offline rejection + reconnect + forwarded command (14-17 end to end)', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    fx.phone.send(command(fx.creds.sessionID, 1, threadSelect('t')));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    assert.equal(d.authOk.desktopConnected, true);
    assert.equal((await fx.phone.next(2000)).desktopConnected, true);
    const cmd = command(fx.creds.sessionID, 2, threadSelect('t'));
    fx.phone.send(cmd);
    assertForwarded(await d.ws.next(2000), cmd, fx.deviceID);
  });

  test('§9.3 offline gate comes before validation and consumes nothing', T, async () => {
    const fx = await pairedFixture(h.relay);
    await desktopGone(fx);
    const sid = fx.creds.sessionID;
    fx.phone.send(command(sid, 5, { name: 'terminal.exec', commandID: 'bad id!' }));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
    fx.phone.send(snapshotRequest(sid, { lastSeq: -1 }));
    assert.deepEqual(await fx.phone.next(2000), OFFLINE);
    fx.phone.send('not json at all');
    assert.equal((await fx.phone.next(2000)).error, 'invalid_payload');
    const d = await connectDesktop(h.relay, fx.creds.desktopSessionToken, { label: 'desktop2' });
    await fx.phone.nextOfType('relay.desktop_status', 2000);
    const cmd = command(sid, 5, threadSelect());
    fx.phone.send(cmd);
    assertForwarded(await d.ws.next(2000), cmd, fx.deviceID);
  });

  test('§9.2 desktop → mobile forwarded byte-for-byte (any text, JSON or not, any type)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const frames = [
      '{"schemaVersion":2,"sessionID":"' + fx.creds.sessionID + '","seq":1,"timestamp":"2026-03-12T06:25:01.442Z","payload":{"type":"snapshot","payload":{"projects":[]}}}',
      '{ "b" : 2 ,\n  "a":1,   "weird":"spacing"  }',
      'not json at all ✓ ünïcödé 🙂',
      '{"type":"relay.auth","token":"forwarded-after-auth-xxxxxxxxxxxx"}',
      '[1,2,3]',
      `{"type":"event","pad":"${'z'.repeat(40000)}"}`,
      '',
    ];
    for (const f of frames) fx.desktop.send(f);
    for (const f of frames) assert.equal(await fx.phone.nextRaw(2000), f);
    await fx.phone.expectNothing(100);
  });

  test('§8 [ref-quirk] pair_decision that does not parse as a decision (approved:"yes") is forwarded to mobiles', T, async () => {
    const fx = await pairedFixture(h.relay);
    const f = '{"type":"relay.pair_decision","requestID":"abcdefghijklmn","approved":"yes"}';
    fx.desktop.send(f);
    assert.equal(await fx.phone.nextRaw(2000), f);
    await fx.desktop.expectNothing(200); // no pair_result
  });

  test('§7.1 a valid pair_decision from the desktop is not forwarded to mobiles', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.desktop.send({ type: 'relay.pair_decision', sessionID: fx.creds.sessionID, requestID: 'abcdefghijklmn', approved: true });
    assert.equal((await fx.desktop.next(2000)).type, 'relay.pair_result');
    await fx.phone.expectNothing(250);
  });

  test('§9.2 ordering: 200 desktop frames and 100 phone commands arrive in order', T, async () => {
    const fx = await pairedFixture(h.relay);
    for (let i = 1; i <= 200; i++) fx.desktop.send(`{"type":"event","seq":${i}}`);
    for (let i = 1; i <= 200; i++) assert.equal(await fx.phone.nextRaw(2000), `{"type":"event","seq":${i}}`);
    for (let i = 1; i <= 100; i++) fx.phone.send(command(fx.creds.sessionID, i, threadSelect(`t-${i}`)));
    for (let i = 1; i <= 100; i++) {
      const got = await fx.desktop.next(2000);
      assert.equal(got.seq, i);
      assert.equal(got.payload.payload.threadID, `t-${i}`);
    }
    await fx.phone.expectNothing(100);
  });

  test('§9.2 desktop broadcast reaches every mobile socket of the session', T, async () => {
    const fx = await pairedFixture(h.relay);
    await pairRefresh(h.relay, fx.creds);
    const { join } = await joinAndApprove(h.relay, fx.creds, fx.desktop);
    const p2 = await connectPhone(h.relay, join.body.deviceSessionToken, { label: 'phone2' });
    assert.equal(p2.authOk.connectedDeviceCount, 2);
    assert.equal((await fx.desktop.nextOfType('relay.device_count', 2000)).connectedDeviceCount, 2);
    fx.desktop.send('{"type":"event","n":1}');
    assert.equal(await fx.phone.nextRaw(2000), '{"type":"event","n":1}');
    assert.equal(await p2.ws.nextRaw(2000), '{"type":"event","n":1}');
  });

  test('§9.1 desktop frames with a different string sessionID are dropped silently; binary ignored', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.desktop.send({ type: 'event', sessionID: 'AnotherSessionID_123456' });
    fx.desktop.sendBinary(Buffer.from('{"type":"event"}'));
    await fx.phone.expectNothing(300);
    await fx.desktop.expectNothing(10);
    fx.desktop.send({ type: 'event', sessionID: fx.creds.sessionID, ok: true });
    assert.deepEqual(await fx.phone.next(2000), { type: 'event', sessionID: fx.creds.sessionID, ok: true });
    // non-string sessionID is not a mismatch → forwarded
    fx.desktop.send('{"type":"event","sessionID":42}');
    assert.equal(await fx.phone.nextRaw(2000), '{"type":"event","sessionID":42}');
  });

  test('§9.2 desktop traffic with no mobile connected is dropped without error', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close();
    await fx.phone.waitClose(2000);
    await fx.desktop.nextOfType('relay.device_count', 2000);
    fx.desktop.send('{"type":"event"}');
    await fx.desktop.expectNothing(250);
    assert.ok(fx.desktop.isOpen);
  });

  test('§12.2 mobile socket loss → desktop gets relay.device_count 0', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.close();
    assert.deepEqual(await fx.desktop.next(2000), { type: 'relay.device_count', sessionID: fx.creds.sessionID, connectedDeviceCount: 0 });
  });
});

describe('MAX_WS_MESSAGE_BYTES=1024', () => {
  const h = useRelay({ MAX_WS_MESSAGE_BYTES: '1024' });

  /** The oversize sender is closed (not 1008) and nothing is forwarded; returns the frames it received. */
  async function expectClosedNotForwarded(sock, other) {
    const ci = await sock.waitClose(3000);
    assert.notEqual(ci.code, 1008, 'message_too_large is transient, never 1008');
    const rest = (await other.drain(250)).map((t) => JSON.parse(t)).filter((m) => !['relay.device_count', 'relay.desktop_status'].includes(m.type));
    assert.deepEqual(rest, [], 'oversized frame must not be forwarded');
    return (await sock.drain(0)).map((t) => JSON.parse(t));
  }

  test('§9.1 mobile text frame over MAX_WS_MESSAGE_BYTES → socket ended, frame not forwarded', T, async () => {
    const fx = await pairedFixture(h.relay);
    const ok = command(fx.creds.sessionID, 1, threadSelect('t'));
    fx.phone.send(ok);
    assertForwarded(await fx.desktop.next(2000), ok, fx.deviceID);
    fx.phone.send(command(fx.creds.sessionID, 2, { name: 'thread.send_message', commandID: 'c2', threadID: 't', text: 'x'.repeat(2000) }));
    await expectClosedNotForwarded(fx.phone, fx.desktop);
  });

  test('§9.1/§7.4 oversize mobile frame → text disconnect message_too_large before the socket ends', T, async () => {
    const fx = await pairedFixture(h.relay);
    fx.phone.send(command(fx.creds.sessionID, 1, { name: 'thread.send_message', commandID: 'c1', threadID: 't', text: 'x'.repeat(2000) }));
    const frames = await expectClosedNotForwarded(fx.phone, fx.desktop);
    assert.deepEqual(frames, [{ type: 'disconnect', reason: 'message_too_large' }], `close code ${fx.phone.closeInfo.code}`);
  });

  test('§5 the inbound limit applies to desktop frames too (outbound unlimited)', T, async () => {
    const fx = await pairedFixture(h.relay);
    const small = `{"type":"event","pad":"${'y'.repeat(900)}"}`;
    fx.desktop.send(small);
    assert.equal(await fx.phone.nextRaw(2000), small);
    // outbound frames are not limited: a 3000-byte relay.error/echo to the phone is fine
    fx.desktop.send(`{"type":"event","pad":"${'y'.repeat(3000)}"}`);
    await expectClosedNotForwarded(fx.desktop, fx.phone);
  });
});
