// A phone's auth_ok is the first frame on its socket (RELAY_PROTOCOL §6.3: auth_ok answers
// relay.auth; SCENARIOS S10/S13), even while its desktop broadcasts without pause. Found by the
// churn soak (issue 10): the desktop's route table listed the new socket before its auth_ok was
// queued, so a forwarded desktop frame could overtake it (47 of 400 reconnects on 2 cores).
// Likewise a desktop's auth_ok comes before any phone command forwarded to its new socket: device
// actors used to learn of the new desktop before its auth_ok was queued (issue 10 item 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startRelay } from './lib/relay.mjs';
import { pairedFixture, command, threadSelect, PWA_ORIGIN } from './lib/fixture.mjs';

const RECONNECTS = 400;
const DESKTOP_RECONNECTS = 100;

/** Opens a socket, sends relay.auth, resolves with the first frame once auth_ok arrived. */
function authFirstFrame(relay, token, label, origin) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(relay.wsURL, { origin, perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${label}: no auth_ok in 5 s`)); }, 5000);
    let got = null;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'relay.auth', token })));
    ws.on('error', () => {});
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (!got) got = m;
      if (m.type === 'auth_ok') {
        clearTimeout(timer);
        ws.terminate();
        resolve({ first: got, authOk: m });
      }
    });
  });
}

/** Runs `send` on every turn of the event loop (bounded) until the returned stop() is awaited. */
function pumpUntilStopped(send) {
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop && n < 5_000_000) {
      send(++n);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return async () => { stop = true; await done; return n; };
}

test('auth_ok is the first frame of every phone reconnect while the desktop broadcasts', async (t) => {
  const relay = await startRelay({ MAX_WS_MESSAGES_PER_MINUTE: '1000000' });
  t.after(() => relay.kill());
  const fx = await pairedFixture(relay);
  const stop = pumpUntilStopped((i) => fx.desktop.send(JSON.stringify({ type: 'x', sessionID: fx.creds.sessionID, i })));
  let token = fx.rotatedToken;
  const early = [];
  let sent = 0;
  try {
    for (let i = 0; i < RECONNECTS; i++) {
      const { first, authOk } = await authFirstFrame(relay, token, `reconnect ${i}`, PWA_ORIGIN);
      token = authOk.nextDeviceSessionToken;
      if (first.type !== 'auth_ok') early.push(i);
    }
  } finally {
    sent = await stop();
  }
  assert.ok(sent > RECONNECTS, `the desktop broadcast during the reconnects (${sent} frames)`);
  assert.deepEqual(early, [], `reconnects whose first frame was a forwarded desktop frame: ${early.length}/${RECONNECTS}`);
});

const LIMITS = {
  MAX_WS_MESSAGES_PER_MINUTE: '1000000',
  MAX_REMOTE_COMMANDS_PER_MINUTE: '1000000',
  MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: '1000000',
};

test('auth_ok is the first frame of every desktop reconnect while a phone sends commands', async (t) => {
  const relay = await startRelay(LIMITS);
  t.after(() => relay.kill());
  const fx = await pairedFixture(relay);
  const stop = pumpUntilStopped((seq) => fx.phone.send(JSON.stringify(command(fx.creds.sessionID, seq, threadSelect()))));
  const early = [];
  let seq = 0;
  try {
    for (let i = 0; i < DESKTOP_RECONNECTS; i++) {
      const { first } = await authFirstFrame(relay, fx.creds.desktopSessionToken, `desktop reconnect ${i}`);
      if (first.type !== 'auth_ok') early.push(`${i}:${first.type}`);
    }
  } finally {
    seq = await stop();
  }
  assert.ok(seq > RECONNECTS, `the phone sent commands during the reconnects (${seq})`);
  assert.deepEqual(early, [], `desktop reconnects whose first frame was not auth_ok: ${early.length}/${DESKTOP_RECONNECTS}`);
});
