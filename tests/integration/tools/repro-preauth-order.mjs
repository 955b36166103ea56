// Stress repro (not part of `npm test`; found by the churn soak, issue 10): a phone's new socket
// receives a desktop frame forwarded to the session BEFORE its own auth_ok (RELAY_PROTOCOL §6.3:
// auth_ok is the reply to relay.auth; simple clients that take the first frame as the auth answer
// fail). A paired session whose desktop broadcasts continuously; the phone reconnects with its
// rotated token N times; prints how many connects saw another frame first (10/300 on 2 cores).
//   node tools/repro-preauth-order.mjs [iterations=300]
import WebSocket from 'ws';
import { startRelay } from '../lib/relay.mjs';
import { pairedFixture, PWA_ORIGIN } from '../lib/fixture.mjs';
const N = Math.min(Number(process.argv[2] || 300), 100000);
const relay = await startRelay({ MAX_PAIR_REQUESTS_PER_MINUTE: '100000', MAX_WS_MESSAGES_PER_MINUTE: '1000000' });
const fx = await pairedFixture(relay);
let stop = false;
(async () => { let i = 0; while (!stop && i < 10_000_000) { fx.desktop.send(JSON.stringify({ type: 'x', sessionID: fx.creds.sessionID, i: ++i })); await new Promise((r) => setImmediate(r)); } })();
let token = fx.rotatedToken; let bad = 0;
for (let i = 0; i < N; i++) {
  const first = await new Promise((resolve) => {
    const ws = new WebSocket(relay.wsURL, { origin: PWA_ORIGIN, perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'relay.auth', token })));
    ws.on('error', () => {});
    let got = null;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (!got) got = m;
      if (m.type === 'auth_ok') { token = m.nextDeviceSessionToken; ws.terminate(); resolve(got); }
    });
  });
  if (first.type !== 'auth_ok') { bad++; if (bad <= 3) console.log(`connect ${i}: first frame ${JSON.stringify(first)}`); }
}
stop = true;
console.log(`${bad}/${N} connects got a forwarded desktop frame before their auth_ok`);
await relay.kill(); process.exit(0);
