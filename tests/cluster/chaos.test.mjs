// Chaos test (issue 12 item 4): three relay nodes + redis-server + nats-server, CHAOS_SESSIONS
// (30) paired sessions (desktops and phones spread over the nodes, 40 phones) with desktop events
// and phone commands flowing all the time, and then, CHAOS_ROUNDS (1) times, each fault in turn:
// kill -9 of each node (restarted on its port), NATS restarted at once and after 3.5 s down, Redis
// SIGKILLed and restarted with its data (append-only, fsync always) and without (empty), a node
// killed after that data loss, and a node stalled 10 s with SIGSTOP. After every fault: every
// client is reconnected (phones with the rotated token of their last auth_ok) and every phone
// knows all its desktop had sent (events in order, or the gap healed by a snapshot).
// Accounting in lib/chaos.mjs: no event twice or out of order, every gap healed, every command
// delivered or answered with relay.error (or its socket closed), no 1008, no terminal disconnect.
// The long version: scripts/chaos.sh (CHAOS_ROUNDS, CHAOS_SESSIONS).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { toolAvailable } from './lib/cluster.mjs';
import { Chaos } from './lib/chaos.mjs';

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed');
const rounds = Number(process.env.CHAOS_ROUNDS || 1);
const sessions = Number(process.env.CHAOS_SESSIONS || 30);

describe('chaos: faults under traffic, per-message accounting (issue 12 item 4)', { skip }, () => {
  let h;
  before(async () => {
    h = new Chaos({ sessions });
    await h.start();
    console.log(`[cluster] chaos: ${h.desktops.length} desktops, ${h.phones.length} phones on 3 nodes`);
    await h.converged('after pairing');
  }, { timeout: 120000 });
  after(async () => { await h?.stop(); });

  for (let round = 0; round < rounds; ++round) {
    it(`round ${round + 1}/${rounds}: every fault in turn`, { timeout: 300000 }, async () => {
      for (const [what, fault] of h.faults(round)) {
        const t0 = Date.now();
        const s0 = { ...h.stats };
        await fault();
        const faultMs = Date.now() - t0;
        const convMs = await h.converged(what);
        const d = (k) => h.stats[k] - s0[k];
        console.log(`[cluster] chaos round ${round + 1}: ${what}: fault ${faultMs} ms, converged ${convMs} ms after it; ` +
          `events ${d('eventsReceived')} received, ${d('gaps')} gaps healed by snapshots; commands ${d('commandsDelivered')} delivered, ` +
          `${d('commandsRefused')} refused (relay.error), ${d('commandsLostWithSocket')} lost with their socket`);
        assert.deepEqual(h.failures, [], what);
      }
    });
  }

  it('accounting over the whole run', { timeout: 90000 }, async () => {
    h.eventsOn = false;
    h.commandsOn = false;
    await h.converged('final');
    // Commands still in flight get their answer (bounded by the answer timeout in the harness).
    const { waitFor } = await import('./lib/relay.mjs');
    await waitFor(() => h.phones.every((p) => !p.out), { what: 'every request answered', timeoutMs: 25000 });
    const s = h.stats;
    console.log(`[cluster] chaos totals: ${JSON.stringify(s)}`);
    assert.deepEqual(h.failures, []);
    assert.ok(s.commandsSent > 0 && s.eventsReceived > 0, JSON.stringify(s));
    assert.equal(s.commandsSent,
      s.commandsDelivered + s.commandsRefused + s.commandsLostWithSocket, JSON.stringify(s));
    assert.equal(s.gaps, s.gapsHealed, JSON.stringify(s));
    for (const p of h.phones) assert.equal(p.down, false, p.label);
  });
});
