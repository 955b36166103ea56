// Integration test: REAL relay-node + REAL desktop-bridge --json + this scripted phone.
// Usage: node phone.mjs [--bridge PATH] [--relay-bin PATH]
// Exits 0 on success, 1 on failure, 77 (ctest SKIP) when relay-node is not built.
// RC_BRIDGE_MOCK_RELAY=1 uses mock-relay.mjs instead (development only).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createHarness, parseJoin, sleep, step, results, MOCK_RELAY } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const BRIDGE = path.resolve(argOf('--bridge', process.env.BRIDGE_BIN || path.join(here, '../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', process.env.RELAY_BIN || path.join(here, '../../build/bin/relay-node')));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-bridge-it-'));
const H = createHarness({ relayBin: RELAY_BIN, bridgeBin: BRIDGE, tmp, WebSocket });
process.on('exit', () => { H.killAll(); fs.rmSync(tmp, { recursive: true, force: true }); });

if (!fs.existsSync(BRIDGE)) { console.error(`desktop-bridge not found at ${BRIDGE}`); process.exit(1); }
if (!MOCK_RELAY && !fs.existsSync(RELAY_BIN)) {
  console.log(`SKIP: relay-node not built yet (${RELAY_BIN}); build it and re-run.`);
  process.exit(77);
}

const startRelay = H.startRelay;
const post = H.post;
const startBridge = (relay, extra = [], stateFile = null) =>
  H.startBridge(relay, ['--demo-delay-ms', '5', ...extra], undefined, { stateFile, strict: true });

async function pair(relay, bridge, joinURL, name, decision = 'approve') {
  const { sid, jt } = parseJoin(joinURL);
  const from = bridge.mark();
  const joinP = post(relay, '/pair/join', { sessionID: sid, joinToken: jt, deviceName: name });
  if (decision) {
    const req = await bridge.wait('pair_request', (e) => e.deviceName === name, from);
    assert.ok(req.requesterIP, 'pair_request has requesterIP');
    bridge.send(`${decision} ${req.requestID}`);
  }
  return joinP;
}

// ---- scenarios ----------------------------------------------------------------------------------
async function main() {
  let relay = await startRelay();
  const bridge = startBridge(relay);
  let started; let phone; let threads; let selected;

  await step('session starts, join link and relay connection', async () => {
    started = await bridge.wait('session_started');
    const j = parseJoin(started.joinURL);
    assert.equal(j.sid, started.sessionID);
    assert.ok(j.jt && j.jt.length >= 43, 'join token in link');
    assert.equal(j.relay, `http://127.0.0.1:${relay.port}`);
    assert.ok(started.joinURL.startsWith('http://localhost:4173/#sid='));
    await bridge.wait('relay_connected');
    const st = fs.statSync(bridge.stateFile);
    assert.equal(st.mode & 0o777, 0o600, 'state file mode 0600');
  });

  await step('pairing denied', async () => {
    const r = await pair(relay, bridge, started.joinURL, 'Denied Phone', 'deny');
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'pair_request_denied');
  });

  await step('pairing approved, device_paired, phone authenticates', async () => {
    const from = bridge.mark();
    const r = await pair(relay, bridge, started.joinURL, 'Test Phone', 'approve');
    assert.equal(r.status, 200, r.text);
    await bridge.wait('pair_result', (e) => e.approved === true, from);
    await bridge.wait('device_paired', (e) => e.deviceName === 'Test Phone', from);
    phone = H.phone(relay, started.sessionID, r.body.deviceSessionToken);
    const ok = await phone.connect();
    assert.equal(ok.desktopConnected, true);
  });

  await step('hello and snapshot after a snapshot request', async () => {
    const from = phone.mark();
    phone.requestSnapshot();
    const hello = await phone.wait((m) => m.payload?.type === 'hello', 'hello', from);
    assert.equal(hello.payload.payload.supportsRuntimeRequests, false);
    const snap = await phone.wait((m) => m.payload?.type === 'snapshot', 'snapshot', from);
    const s = snap.payload.payload;
    assert.equal(s.projects.length, 2);
    assert.ok(s.threads.length >= 3);
    assert.ok(s.selectedThreadID);
    assert.deepEqual(s.pendingRuntimeRequests, []);
    threads = s.threads; selected = s.selectedThreadID;
    assert.equal(snap.sessionID, started.sessionID);
  });

  await step('command executed once, acked, deltas in order, replay acked identically', async () => {
    const from = phone.mark();
    const seq = phone.command({ name: 'thread.send_message', commandID: 'cmd-hello', threadID: selected, text: 'hello there' });
    const ack = await phone.ack('cmd-hello', from);
    assert.equal(ack.payload.payload.status, 'accepted');
    assert.equal(ack.payload.payload.commandSeq, seq);
    assert.equal(ack.payload.payload.threadID, selected);
    const ackIdx = phone.msgs.indexOf(ack);
    const snap = await phone.snapshotWhere((s) => s.messages.some((m) => m.role === 'user' && m.text === 'hello there'), ackIdx);
    assert.ok(phone.msgs.indexOf(snap) > ackIdx, 'snapshot after ack');
    await phone.snapshotWhere((s) => s.messages.some((m) => m.role === 'assistant' && m.text.includes('streamed word by word')) && !s.turnState.isTurnInProgress, from);
    const events = phone.msgs.slice(from).filter((m) => m.payload?.type === 'event').map((m) => m.payload.payload);
    assert.ok(events.some((e) => e.name === 'thread.message.append' && e.role === 'assistant'), 'assistant append event');
    const st = events.filter((e) => e.name === 'turn.status.update').map((e) => e.body);
    assert.deepEqual(st.slice(-1), ['idle']);
    // desktop seq strictly +1 across everything the phone received from the desktop
    const seqs = phone.msgs.filter((m) => typeof m.seq === 'number' && m.schemaVersion === 2).map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `seq contiguous at ${i}: ${seqs[i - 1]} -> ${seqs[i]}`);
    // the same command again (new seq, as after a reconnect): identical ack, not applied twice
    const from2 = phone.mark();
    const b0 = bridge.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-hello', threadID: selected, text: 'hello there' });
    const ack2 = await phone.ack('cmd-hello', from2);
    assert.deepEqual(ack2.payload.payload, ack.payload.payload);
    await bridge.wait('command_received', (e) => e.commandID === 'cmd-hello' && e.replay === true, b0);
    phone.requestSnapshot('visibility_resume');
    const snap2 = await phone.snapshotWhere(() => true, phone.mark());
    assert.equal(snap2.payload.payload.messages.filter((m) => m.text === 'hello there').length, 1, 'user message once');
  });

  await step('unknown thread rejected', async () => {
    const from = phone.mark();
    phone.command({ name: 'thread.select', commandID: 'cmd-badthread', threadID: 'NOPE-THREAD' });
    const ack = await phone.ack('cmd-badthread', from);
    assert.equal(ack.payload.payload.status, 'rejected');
    assert.equal(ack.payload.payload.reason, 'unknown_thread');
  });

  await step('approvals off: requests hidden and responses refused; on: answered', async () => {
    const other = threads.find((t) => t.id !== selected).id;
    let from = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-approve', threadID: other, text: 'please approve this' });
    assert.equal((await phone.ack('cmd-approve', from)).payload.payload.status, 'accepted');
    await sleep(300);
    phone.requestSnapshot();
    const s = await phone.snapshotWhere(() => true, phone.mark());
    assert.deepEqual(s.payload.payload.pendingRuntimeRequests, []);
    from = phone.mark();
    phone.command({ name: 'runtime_request.respond', commandID: 'cmd-resp1', threadID: other, runtimeRequestID: '1', runtimeRequestKind: 'approval', runtimeRequestResponse: { decision: 'accept', optionID: 'accept' } });
    const rej = await phone.ack('cmd-resp1', from);
    assert.equal(rej.payload.payload.status, 'rejected');
    assert.equal(rej.payload.payload.reason, 'remote_runtime_requests_disabled');
    from = phone.mark();
    bridge.send('approvals on');
    await bridge.wait('approvals', (e) => e.enabled === true);
    const hello = await phone.wait((m) => m.payload?.type === 'hello', 'hello', from);
    assert.equal(hello.payload.payload.supportsRuntimeRequests, true);
    const s2 = await phone.snapshotWhere((x) => x.pendingRuntimeRequests.length === 1, from);
    const req = s2.payload.payload.pendingRuntimeRequests[0];
    assert.equal(req.kind, 'approval');
    from = phone.mark();
    phone.command({ name: 'runtime_request.respond', commandID: 'cmd-resp2', threadID: other, runtimeRequestID: req.requestID, runtimeRequestKind: 'approval', runtimeRequestResponse: { decision: 'accept', optionID: 'accept' } });
    const ok = await phone.ack('cmd-resp2', from);
    assert.equal(ok.payload.payload.status, 'accepted', JSON.stringify(ok.payload.payload));
    await phone.wait((m) => m.payload?.type === 'event' && m.payload.payload.name === 'runtime_request.responded', 'responded event', from);
    await phone.snapshotWhere((x) => x.pendingRuntimeRequests.length === 0, from);
    bridge.send('approvals off');
    await bridge.wait('approvals', (e) => e.enabled === false);
  });

  let phone2; let dev2;
  await step('add device rotates the join token; old token refused; new device pairs', async () => {
    const from = bridge.mark();
    bridge.send('add-device');
    const ev = await bridge.wait('add_device', () => true, from);
    assert.equal(ev.sessionID, started.sessionID);
    assert.notEqual(parseJoin(ev.joinURL).jt, parseJoin(started.joinURL).jt);
    const old = await post(relay, '/pair/join', { sessionID: started.sessionID, joinToken: parseJoin(started.joinURL).jt, deviceName: 'Old Link' });
    assert.ok(old.status === 403 || old.status === 409, `old link refused (${old.status})`);
    const r = await pair(relay, bridge, ev.joinURL, 'Second Phone', 'approve');
    assert.equal(r.status, 200, r.text);
    dev2 = r.body.deviceID;
    phone2 = H.phone(relay, started.sessionID, r.body.deviceSessionToken);
    await phone2.connect();
  });

  await step('devices list and revoke', async () => {
    let from = bridge.mark();
    bridge.send('devices');
    const list = await bridge.wait('devices', () => true, from);
    assert.equal(list.devices.length, 2);
    assert.ok(list.devices.some((d) => d.deviceID === dev2 && d.connected));
    from = bridge.mark();
    bridge.send(`revoke ${dev2}`);
    await bridge.wait('device_revoked', (e) => e.deviceID === dev2, from);
    await phone2.wait((m) => m.type === 'disconnect' && m.reason === 'device_revoked', 'device_revoked');
  });

  await step('bridge restart resumes the session (refresh + reconnect, no pair/start)', async () => {
    bridge.proc.kill('SIGTERM');
    assert.equal(await bridge.exited, 0);
    assert.ok(fs.existsSync(bridge.stateFile), 'session kept on teardown');
    const b2 = startBridge(relay, [], bridge.stateFile);
    const s = await b2.wait('session_started');
    assert.equal(s.restored, true);
    assert.equal(s.sessionID, started.sessionID);
    await b2.wait('relay_connected');
    const from = phone.mark();
    phone.command({ name: 'thread.select', commandID: 'cmd-after-restart', threadID: selected });
    assert.equal((await phone.ack('cmd-after-restart', from, 15000)).payload.payload.status, 'accepted');
    Object.assign(bridge, b2);
  });

  await step('relay restart: bridge reconnects', async () => {
    const port = relay.port;
    const from = bridge.mark();
    await relay.stop();
    await bridge.wait('relay_disconnected', () => true, from);
    relay = await startRelay(port);
    // in-memory relay: the session is gone → the bridge starts a fresh one and connects
    await bridge.wait('relay_connected', () => true, from, 30000);
  });

  await step('stop (kill switch) ends the session and the process', async () => {
    bridge.send('stop');
    await bridge.wait('stopped', (e) => e.reason === 'stopped_by_user');
    assert.equal(await bridge.exited, 0);
    assert.ok(!fs.existsSync(bridge.stateFile), 'state file removed');
  });

  await step('exec runtime runs a real command per message', async () => {
    const b = startBridge(relay, ['--auto-approve', '--runtime', 'exec', '--', 'sh', '-c', 'tr a-z A-Z']);
    const s = await b.wait('session_started');
    await b.wait('relay_connected');
    const r = await pair(relay, b, s.joinURL, 'Exec Phone', null);
    assert.equal(r.status, 200, r.text);
    const p = H.phone(relay, s.sessionID, r.body.deviceSessionToken);
    await p.connect();
    p.requestSnapshot();
    const snap = await p.snapshotWhere(() => true, 0);
    const tid = snap.payload.payload.selectedThreadID;
    const from = p.mark();
    p.command({ name: 'thread.send_message', commandID: 'cmd-exec', threadID: tid, text: 'make me loud' });
    assert.equal((await p.ack('cmd-exec', from)).payload.payload.status, 'accepted');
    await p.snapshotWhere((x) => x.messages.some((m) => m.role === 'assistant' && m.text.trim() === 'MAKE ME LOUD') && !x.turnState.isTurnInProgress, from);
    b.send('stop');
    assert.equal(await b.exited, 0);
    p.close();
  });

  phone.close();
  if (phone2) phone2.close();
  await relay.stop();
}

main().then(() => { console.log(`PASS ${results.length} steps`); process.exit(0); })
  .catch(() => { console.log('FAILED'); process.exit(1); });
