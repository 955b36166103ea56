// Small concurrency smoke test (bounded; loopback only): N sessions paired in parallel, each
// exchanging traffic in both directions. Complements SCENARIOS §I (73) without being a load test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay } from './lib/setup.mjs';
import { pairedFixture, command, threadSelect, assertForwarded } from './lib/fixture.mjs';

const SESSIONS = 20;
const MESSAGES = 10;

describe(`${SESSIONS} parallel paired sessions`, () => {
  const h = useRelay();

  test('§9 every command reaches its own desktop, every desktop frame its own phone; no send failures', { timeout: 30000 }, async () => {
    const fixtures = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => pairedFixture(h.relay, { deviceName: `Phone ${i}` })));
    await Promise.all(fixtures.map(async (fx, i) => {
      for (let s = 1; s <= MESSAGES; s++) {
        const cmd = command(fx.creds.sessionID, s, threadSelect(`s${i}-t${s}`));
        fx.phone.send(cmd);
        assertForwarded(await fx.desktop.next(3000), cmd, fx.deviceID);
        const ev = `{"type":"event","session":${i},"n":${s}}`;
        fx.desktop.send(ev);
        assert.equal(await fx.phone.nextRaw(3000), ev);
      }
    }));
    const m = await h.relay.metrics();
    assert.equal(m.activeWebSockets, SESSIONS * 2);
    assert.equal(m.sessionsWithDesktop, SESSIONS);
    assert.equal(m.sessionsWithMobile, SESSIONS);
    assert.equal(m.outboundSendFailures, 0);
    assert.equal(m.slowConsumerDisconnects, 0);
    assert.equal(m.wsAuthFailures, 0);
    assert.equal(m.pairJoinSuccesses, SESSIONS);
  });
});
