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

/** A client written like the simplest reference client: one `once('message')` listener at a time,
 * registered only when that step is awaited; a frame that arrives with no listener is lost. */
function oneShot(ws, label, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', on); reject(new Error(`${label}: no frame in ${timeoutMs} ms`)); }, timeoutMs);
    function on(d) { clearTimeout(timer); resolve(JSON.parse(d.toString())); }
    ws.once('message', on);
  });
}

function openRaw(relay, origin) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(relay.wsURL, { origin, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Busy loops on every core for the duration of the test (bounded by `ms`), so the relay's two
 * sockets' writes and the client's reads interleave as they would on a loaded machine. */
async function cpuContention(ms) {
  const { spawn } = await import('node:child_process');
  const os = await import('node:os');
  const procs = Array.from({ length: os.cpus().length }, () =>
    spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end);`], { stdio: 'ignore' }));
  return () => { for (const p of procs) p.kill('SIGKILL'); };
}

const ONE_SHOT_ROUNDS = 50;

test('a one-shot-listener client follows RELAY_PROTOCOL §14 step by step, 50 of 50 under CPU contention', async (t) => {
  const relay = await startRelay({ MAX_WS_MESSAGES_PER_MINUTE: '1000000', MAX_SNAPSHOT_REQUESTS_PER_MINUTE: '1000000' });
  t.after(() => relay.kill());
  const fx = await pairedFixture(relay);
  const sid = fx.creds.sessionID;
  fx.phone.terminate();
  fx.desktop.terminate();
  const stopLoad = await cpuContention(120_000);
  t.after(stopLoad);
  const desktop = await openRaw(relay);
  t.after(() => desktop.terminate());
  desktop.send(JSON.stringify({ type: 'relay.auth', token: fx.creds.desktopSessionToken }));
  const dOk = await oneShot(desktop, 'desktop auth_ok');
  assert.equal(dOk.type, 'auth_ok');
  let token = fx.rotatedToken;
  const wrong = [];
  for (let i = 0; i < ONE_SHOT_ROUNDS; i++) {
    // M ⇄ WS /ws: relay.auth → auth_ok; then D ← relay.device_count 1 (ack first, announcement after).
    const phone = await openRaw(relay, PWA_ORIGIN);
    phone.send(JSON.stringify({ type: 'relay.auth', token }));
    const ok = await oneShot(phone, `round ${i} phone auth_ok`);
    if (ok.type !== 'auth_ok') { wrong.push(`${i}: phone got ${ok.type} first`); phone.terminate(); break; }
    token = ok.nextDeviceSessionToken;
    const count = await oneShot(desktop, `round ${i} device_count`);
    if (count.type !== 'relay.device_count' || count.connectedDeviceCount !== 1) wrong.push(`${i}: desktop got ${count.type} ${count.connectedDeviceCount} for device_count`);
    // M → snapshot_request; D ← it; D → snapshot; M ← same bytes.
    phone.send(JSON.stringify({ type: 'relay.snapshot_request', sessionID: sid, reason: 'initial_sync' }));
    const req = await oneShot(desktop, `round ${i} snapshot_request`);
    if (req.type !== 'relay.snapshot_request') wrong.push(`${i}: desktop got ${req.type} for the snapshot request`);
    const snap = { schemaVersion: 2, sessionID: sid, seq: i + 1, timestamp: new Date().toISOString(), payload: { type: 'snapshot', payload: { round: i } } };
    desktop.send(JSON.stringify(snap));
    const got = await oneShot(phone, `round ${i} snapshot`);
    if (got.seq !== i + 1) wrong.push(`${i}: phone got ${got.type ?? got.payload?.type} seq ${got.seq} for the snapshot`);
    // The phone leaves: D ← relay.device_count 0 before the next round starts.
    const gone = oneShot(desktop, `round ${i} device_count 0`);
    phone.close();
    const zero = await gone;
    if (zero.type !== 'relay.device_count' || zero.connectedDeviceCount !== 0) wrong.push(`${i}: desktop got ${zero.type} after the phone left`);
    if (wrong.length) break;
  }
  assert.deepEqual(wrong, [], 'every step saw the frame the protocol example shows');
});

test('a one-shot-listener phone sees desktop_status true after each desktop auth_ok, 50 of 50 under CPU contention', async (t) => {
  const relay = await startRelay({ MAX_WS_MESSAGES_PER_MINUTE: '1000000' });
  t.after(() => relay.kill());
  const fx = await pairedFixture(relay);
  fx.phone.terminate();
  fx.desktop.terminate();
  const stopLoad = await cpuContention(120_000);
  t.after(stopLoad);
  const phone = await openRaw(relay, PWA_ORIGIN);
  t.after(() => phone.terminate());
  phone.send(JSON.stringify({ type: 'relay.auth', token: fx.rotatedToken }));
  assert.equal((await oneShot(phone, 'phone auth_ok')).type, 'auth_ok');
  const wrong = [];
  for (let i = 0; i < ONE_SHOT_ROUNDS && !wrong.length; i++) {
    const desktop = await openRaw(relay);
    desktop.send(JSON.stringify({ type: 'relay.auth', token: fx.creds.desktopSessionToken }));
    const ok = await oneShot(desktop, `round ${i} desktop auth_ok`);
    if (ok.type !== 'auth_ok') wrong.push(`${i}: desktop got ${ok.type} first`);
    const on = await oneShot(phone, `round ${i} desktop_status true`);
    if (on.type !== 'relay.desktop_status' || on.desktopConnected !== true) wrong.push(`${i}: phone got ${on.type} ${on.desktopConnected}`);
    const off = oneShot(phone, `round ${i} desktop_status false`);
    desktop.close();
    const got = await off;
    if (got.type !== 'relay.desktop_status' || got.desktopConnected !== false) wrong.push(`${i}: phone got ${got.type} ${got.desktopConnected} after the desktop left`);
  }
  assert.deepEqual(wrong, [], 'every step saw the frame the protocol shows');
});
