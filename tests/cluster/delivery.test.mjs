// Issue 12, "a command that cannot be delivered always gets a relay.error, never silence":
// three relay nodes + nats-server + redis-server. Pair on A, desktop on B, phone on C.
//   1. B is killed with SIGKILL; a command the phone sends before C has noticed (member timeout
//      3 s) is answered relay.error desktop_offline (it used to vanish).
//   2. NATS is down: a command published into the outage is answered the same way.
// Mechanism: the desktop's node answers each desktop-bound envelope with a signed `delivery`
// notice on the session subject; the phone's node waits 1 s for it (docs: README cluster section).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startNats, startNode, toolAvailable, waitMembers, crossPair, commandReaches,
} from './lib/cluster.mjs';
import { command, threadSelect } from './lib/fixture.mjs';
import { WsClient } from './lib/ws.mjs';

const skip = (!toolAvailable('redis-server') && 'redis-server not installed') ||
  (!toolAvailable('nats-server') && 'nats-server not installed');

/** The phone's next frame that is not presence/count is relay.error desktop_offline. */
async function refused(phone) {
  const m = await phone.nextSkipping(['relay.desktop_status', 'relay.device_count'], 8000);
  assert.equal(m.type, 'relay.error', JSON.stringify(m));
  assert.equal(m.error, 'desktop_offline');
}

describe('cross-node commands are delivered or refused (issue 12)', { skip }, () => {
  let redis, nats;
  const keyPrefix = `rc-delivery-${process.pid}`;
  const all = [];
  const node = async (name) => {
    const n = await startNode({ name, redis, nats, keyPrefix });
    all.push(n);
    return n;
  };

  before(async () => {
    redis = await startRedis();
    nats = await startNats();
  });
  after(async () => {
    WsClient.terminateAll();
    for (const n of all) await n.kill();
    await nats?.kill();
    await redis?.kill();
  });

  const trio = async (tag) => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((x) => node(`node-${x}${tag}`)));
    await waitMembers(nodes, 3);
    return nodes;
  };
  const stop = async (nodes) => {
    WsClient.terminateAll();
    for (const n of nodes) await n.kill();
  };

  it('a command sent right after the desktop node is killed gets relay.error desktop_offline', async () => {
    const nodes = await trio('1');
    const [A, B, C] = nodes;
    try {
      const f = await crossPair(A, B, C);
      assert.equal(f.phoneAuthOk.desktopConnected, true);
      await commandReaches(f, 1);
      await B.kill('SIGKILL');
      // Sent before C can notice (member timeout 3 s): it used to vanish without an answer.
      f.phone.send(command(f.creds.sessionID, 2, threadSelect('t2')));
      await refused(f.phone);
      const r = await C.admin('/admin/cluster');
      assert.ok(r.body.commandsUndelivered >= 1, JSON.stringify(r.body));
    } finally {
      await stop(nodes);
    }
  });

  it('a command sent into a NATS outage gets relay.error desktop_offline', async () => {
    const nodes = await trio('2');
    const [A, B, C] = nodes;
    const port = nats.port;
    let down = false;
    try {
      const f = await crossPair(A, B, C);
      assert.equal(f.phoneAuthOk.desktopConnected, true);
      await commandReaches(f, 1);
      down = true;
      await nats.kill();
      f.phone.send(command(f.creds.sessionID, 2, threadSelect('t2')));
      await refused(f.phone);
    } finally {
      if (down) nats = await startNats(port);
      await stop(nodes);
    }
  });
});
