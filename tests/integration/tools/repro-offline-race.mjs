// Stress repro (not part of `npm test`): after the phone has received relay.desktop_status
// {desktopConnected:false}, a command it sends must be answered with relay.error desktop_offline
// (SCENARIOS 15/18). Run it while the machine is busy (e.g. alongside `npm test`):
//   node tools/repro-offline-race.mjs [iterations=400]
// Prints "lost N/M"; every lost command got no reply at all within 4 s (phone socket still open).
import { startRelay } from '../lib/relay.mjs';
import { pairedFixture, command, threadSelect } from '../lib/fixture.mjs';
import { WsClient } from '../lib/ws.mjs';

const N = Number(process.argv[2] || 400);
const relay = await startRelay({ MAX_PAIR_REQUESTS_PER_MINUTE: '100000' });
let lost = 0;
try {
  for (let i = 0; i < N; i++) {
    const fx = await pairedFixture(relay);
    fx.desktop.close();
    await fx.desktop.waitClose(2000);
    const st = await fx.phone.next(1500);
    if (st.type !== 'relay.desktop_status' || st.desktopConnected !== false) throw new Error(`unexpected ${JSON.stringify(st)}`);
    fx.phone.send(command(fx.creds.sessionID, 1, threadSelect()));
    let reply = null;
    try { reply = await fx.phone.next(4000); } catch { /* no reply */ }
    if (!reply || reply.error !== 'desktop_offline') {
      lost++;
      console.log(`iteration ${i}: reply=${JSON.stringify(reply)} phoneOpen=${fx.phone.isOpen} sid=${fx.creds.sessionID.slice(0, 6)}...${fx.creds.sessionID.slice(-4)}`);
    }
    WsClient.terminateAll();
  }
} finally {
  await relay.stop();
}
console.log(`lost ${lost}/${N}`);
process.exit(lost ? 1 : 0);
