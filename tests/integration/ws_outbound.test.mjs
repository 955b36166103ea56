// Issue 10 item 6: the per-socket outbound queue is bounded in bytes as well as messages, so a
// healthy phone is never kicked as a slow consumer by a burst of small frames; a phone that
// stops reading still is (lifecycle.test.mjs, "slow consumer").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay } from './lib/setup.mjs';
import { pairedFixture } from './lib/fixture.mjs';

const BURST = 1000; // > 256, the default MAX_SOCKET_OUTBOUND_QUEUE

describe('outbound queue (default bounds; desktop text budget raised for 3 bursts)', () => {
  const h = useRelay({ MAX_WS_MESSAGES_PER_MINUTE: '100000' });

  test('a desktop burst of 1000 small frames reaches a healthy phone, all in order, no slow_consumer', { timeout: 60000 }, async () => {
    const fx = await pairedFixture(h.relay);
    for (let round = 0; round < 3; round++) {
      // One synchronous loop: the frames leave the desktop in as few TCP writes as Node makes.
      for (let i = 0; i < BURST; i++) fx.desktop.send(`{"type":"event","round":${round},"n":${i},"pad":"${'x'.repeat(40)}"}`);
      for (let i = 0; i < BURST; i++) {
        const m = await fx.phone.next(10000);
        assert.equal(m.type, 'event', JSON.stringify(m));
        assert.deepEqual([m.round, m.n], [round, i], `frame ${i} of round ${round} out of order or lost`);
      }
    }
    assert.ok(fx.phone.isOpen, `phone closed: ${JSON.stringify(fx.phone.closeInfo)}`);
    assert.ok(fx.desktop.isOpen, `desktop closed: ${JSON.stringify(fx.desktop.closeInfo)}`);
    const m = await h.relay.metrics();
    assert.equal(m.slowConsumerDisconnects, 0);
    assert.equal(m.outboundSendFailures, 0);
  });
});
