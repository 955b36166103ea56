// SCENARIOS 29-33, 37, 79 (+ 62-66 black-box) and every §9.3 rule incl. runtime_request.respond.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelay, T } from './lib/setup.mjs';
import { pairedFixture, connectPhone, command, threadSelect, snapshotRequest, assertForwarded, nextCommandID } from './lib/fixture.mjs';

const ROOMY_WS = {
  MAX_REMOTE_COMMANDS_PER_MINUTE: '100000',
  MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE: '100000',
  MAX_SNAPSHOT_REQUESTS_PER_MINUTE: '100000',
  MAX_WS_MESSAGES_PER_MINUTE: '100000',
};
const TEXT_CAP = 16384;

describe('mobile → desktop validation (§9.3)', () => {
  const h = useRelay(ROOMY_WS);
  let fx;
  let seq = 0;
  const nextSeq = () => ++seq;

  // One long-lived paired session for the whole describe (sockets are re-created if a test killed them).
  async function ensure() {
    if (!fx || !fx.phone.isOpen || !fx.desktop.isOpen) {
      fx = await pairedFixture(h.relay);
      seq = 0;
    }
    return fx;
  }

  const sid = () => fx.creds.sessionID;
  const cmd = (inner, extraTop) => command(sid(), nextSeq(), inner, extraTop);

  /** Send msg; the phone gets relay.error {code, message}; then a sentinel proves nothing was forwarded. */
  async function expectRejected(msg, code, message) {
    await ensure();
    const m = typeof msg === 'function' ? msg() : msg;
    fx.phone.send(m);
    const err = await fx.phone.next(2000);
    const ctx = `sent ${typeof m === 'string' ? m : JSON.stringify(m)}; got ${JSON.stringify(err)}`.slice(0, 600);
    assert.equal(err.type, 'relay.error', ctx);
    assert.equal(err.error, code, ctx);
    if (message instanceof RegExp) assert.match(err.message, message, ctx);
    else if (message !== undefined) assert.deepEqual(err, { type: 'relay.error', error: code, message }, ctx);
    else assert.deepEqual(Object.keys(err).sort(), ['error', 'message', 'type'], ctx);
    const sentinel = command(sid(), nextSeq(), { name: 'thread.select', commandID: `sentinel-${seq}`, threadID: 'sentinel' });
    fx.phone.send(sentinel);
    const got = await fx.desktop.next(2000);
    assert.equal(got?.payload?.payload?.commandID, `sentinel-${seq}`, `rejected frame was forwarded: ${JSON.stringify(got).slice(0, 300)}`);
  }

  /** Send msg; the desktop receives it with injected metadata; the phone gets no error. */
  async function expectForwarded(msg) {
    await ensure();
    const m = typeof msg === 'function' ? msg() : msg;
    fx.phone.send(m);
    const got = await fx.desktop.next(2000);
    assertForwarded(got, m, fx.deviceID);
    assert.equal(fx.phone.queue.length, 0, `phone got ${JSON.stringify(fx.phone.queue)}`);
    return got;
  }

  test('S29 command name terminal.exec → relay.error invalid_command as next frame; not forwarded', T, async () => {
    await ensure();
    await expectRejected(() => cmd({ name: 'terminal.exec', commandID: nextCommandID(), threadID: 't1' }), 'invalid_command', 'Command name is not allowed.');
  });

  test('S30 thread.select with unexpectedField in the command payload → invalid_command; not forwarded', T, async () => {
    await ensure();
    await expectRejected(() => cmd({ ...threadSelect(), unexpectedField: true }), 'invalid_command', "Unexpected field 'unexpectedField' in command payload.");
  });

  test('S79 command without commandID → invalid_command mentioning commandID; not forwarded', T, async () => {
    await ensure();
    await expectRejected(() => cmd({ name: 'thread.select', threadID: 't1' }), 'invalid_command', 'commandID is required.');
  });

  test('S31 spoofed relayConnectionID / relayDeviceID (+ timestamp) are replaced by relay values', T, async () => {
    await ensure();
    const m = cmd(threadSelect(), { relayConnectionID: 'spoofed-connection', relayDeviceID: 'spoofed-device' });
    const got = await expectForwarded(m);
    assert.notEqual(got.relayConnectionID, 'spoofed-connection');
    assert.equal(got.relayDeviceID, fx.deviceID);
    assert.equal(got.timestamp, m.timestamp);
  });

  test('S76 forwarded command: string relayConnectionID ≠ spoofed, relayDeviceID = real deviceID, stable per connection', T, async () => {
    await ensure();
    const a = await expectForwarded(cmd(threadSelect(), { relayConnectionID: 'spoofed-connection' }));
    const b = await expectForwarded(cmd(threadSelect()));
    assert.equal(typeof a.relayConnectionID, 'string');
    assert.notEqual(a.relayConnectionID, 'spoofed-connection');
    assert.equal(a.relayConnectionID, b.relayConnectionID);
    assert.equal(a.relayDeviceID, fx.deviceID);
  });

  test('S32 relay.snapshot_request with lastSeq -1 → invalid_snapshot_request; not forwarded', T, async () => {
    await ensure();
    await expectRejected(() => snapshotRequest(sid(), { lastSeq: -1 }), 'invalid_snapshot_request', 'lastSeq must be numeric when provided.');
  });

  test('S33 relay.snapshot_request with lastSeq "42" → forwarded with type intact; no error', T, async () => {
    await ensure();
    const got = await expectForwarded(() => snapshotRequest(sid(), { lastSeq: '42' }));
    assert.equal(got.type, 'relay.snapshot_request');
    assert.equal(got.lastSeq, '42');
    await fx.phone.expectNothing(250);
  });

  test('S37 identical command twice (same seq 1) → first forwarded, second replayed_command; not forwarded', T, async () => {
    fx = null;
    await ensure();
    const m = command(sid(), 1, threadSelect());
    await expectForwarded(m);
    seq = 1;
    await expectRejected(m, 'replayed_command', 'Command sequence was replayed or out of order.');
  });

  test('§9.3 seq must be strictly increasing per connection; seq 0 always rejected; lower seq rejected', T, async () => {
    await ensure();
    await expectRejected(() => command(sid(), 0, threadSelect()), 'replayed_command', 'Command sequence was replayed or out of order.');
    seq += 10;
    const hi = seq;
    await expectForwarded(command(sid(), hi, threadSelect()));
    await expectRejected(command(sid(), hi - 3, threadSelect()), 'replayed_command', 'Command sequence was replayed or out of order.');
  });

  test('§9.3 seq is consumed before per-command checks', T, async () => {
    await ensure();
    const s = nextSeq();
    await expectRejected(command(sid(), s, { name: 'terminal.exec', commandID: nextCommandID() }), 'invalid_command', 'Command name is not allowed.');
    await expectRejected(command(sid(), s, threadSelect()), 'replayed_command', 'Command sequence was replayed or out of order.');
  });

  test('§9.3 reconnect starts a fresh sequence counter', T, async () => {
    await ensure();
    await expectForwarded(command(sid(), 50, threadSelect()));
    fx.phone.close();
    await fx.phone.waitClose(2000);
    await fx.desktop.nextOfType('relay.device_count', 2000);
    const p2 = await connectPhone(h.relay, fx.rotatedToken, { label: 'phone-reconnected' });
    await fx.desktop.nextOfType('relay.device_count', 2000);
    fx.phone = p2.ws;
    fx.rotatedToken = p2.authOk.nextDeviceSessionToken;
    seq = 1;
    await expectForwarded(command(sid(), 1, threadSelect()));
  });

  test('§9.3 invalid_payload: non-JSON and non-object frames', T, async () => {
    await ensure();
    await expectRejected('this is not json', 'invalid_payload', 'Payload must be valid JSON.');
    for (const f of ['[1,2,3]', '"str"', '42', 'null']) await expectRejected(f, 'invalid_payload', 'Payload must be a JSON object.');
  });

  test('§9.3 command envelope rules', T, async () => {
    await ensure();
    const base = () => cmd(threadSelect());
    const without = (k) => () => { const m = base(); delete m[k]; return m; };
    await expectRejected(() => ({ ...base(), foo: 1 }), 'invalid_command', "Unexpected field 'foo' in command envelope.");
    await expectRejected(without('sessionID'), 'invalid_command', 'Command envelope requires sessionID.');
    await expectRejected(without('schemaVersion'), 'invalid_command', 'schemaVersion is required for command envelopes.');
    await expectRejected(() => ({ ...base(), schemaVersion: '2' }), 'invalid_command', 'schemaVersion is required for command envelopes.');
    await expectRejected(() => ({ ...base(), schemaVersion: 1 }), 'unsupported_schema', 'Only schemaVersion 2 is supported.');
    await expectRejected(() => ({ ...base(), payload: { payload: threadSelect() } }), 'invalid_command', 'Command envelope payload.type is required.');
    await expectRejected(() => ({ ...base(), payload: { type: 'event', payload: threadSelect() } }), 'invalid_command', 'Only command payloads are accepted from mobile clients.');
    await expectRejected(() => ({ ...base(), payload: { type: 'command', payload: threadSelect(), extra: 1 } }), 'invalid_command', "Unexpected field 'extra' in command wrapper.");
    await expectRejected(() => ({ ...base(), payload: { type: 'command' } }), 'invalid_command', 'Command payload object is required.');
    await expectRejected(() => ({ ...base(), payload: { type: 'command', payload: 'x' } }), 'invalid_command', 'Command payload object is required.');
    await expectRejected(() => cmd({ commandID: nextCommandID(), threadID: 't' }), 'invalid_command', 'Command name is required.');
    await expectRejected(() => cmd({ name: 'thread.select', commandID: 5, threadID: 't' }), 'invalid_command', 'commandID is required.');
    await expectRejected(() => cmd({ name: 'thread.select', commandID: 'bad id', threadID: 't' }), 'invalid_command', 'commandID must be a compact identifier.');
    await expectRejected(() => cmd({ name: 'thread.select', commandID: 'c'.repeat(129), threadID: 't' }), 'invalid_command', 'commandID must be a compact identifier.');
    await expectRejected(without('seq'), 'invalid_command', 'Command envelopes must include numeric seq.');
    for (const s of [-1, 1.5, '9']) {
      await expectRejected(() => ({ ...base(), seq: s }), 'invalid_command', 'Command envelopes must include numeric seq.');
    }
    await expectForwarded(() => cmd({ name: 'thread.select', commandID: `a:B_c-${'9'.repeat(100)}`, threadID: 't' }));
  });

  test('§7.1 mobile relay.auth after authentication → invalid_command', T, async () => {
    await ensure();
    await expectRejected({ type: 'relay.auth', token: fx.rotatedToken }, 'invalid_command');
    await expectRejected({ type: 'relay.pair_decision', sessionID: sid(), requestID: 'abcdefghijklmn', approved: true }, 'invalid_command');
  });

  test('§9.3 PWA-style command with all eight keys (unused ones null) is forwarded', T, async () => {
    await ensure();
    await expectForwarded(() => cmd({
      name: 'thread.send_message', commandID: nextCommandID(), threadID: '8C1E-thread', projectID: null, text: 'Ship it',
      runtimeRequestID: null, runtimeRequestKind: null, runtimeRequestResponse: null,
    }));
  });

  test('§9.3 thread.send_message rules', T, async () => {
    await ensure();
    const sm = (x) => () => cmd({ name: 'thread.send_message', commandID: nextCommandID(), threadID: 't1', text: 'hi', ...x });
    const drop = (k) => () => { const m = sm({})(); delete m.payload.payload[k]; return m; };
    await expectRejected(drop('threadID'), 'invalid_command', 'thread.send_message requires threadID.');
    await expectRejected(sm({ threadID: 'bad id' }), 'invalid_command', 'threadID must be a compact identifier.');
    await expectRejected(drop('text'), 'invalid_command', 'thread.send_message requires text.');
    await expectRejected(sm({ text: '  \n\t ' }), 'invalid_command', 'Message text cannot be empty.');
    await expectRejected(sm({ text: 'x'.repeat(TEXT_CAP + 1) }), 'invalid_command', `Message text exceeds ${TEXT_CAP} bytes.`);
    await expectRejected(sm({ text: 'é'.repeat(TEXT_CAP / 2 + 1) }), 'invalid_command', `Message text exceeds ${TEXT_CAP} bytes.`);
    await expectForwarded(sm({ text: 'x'.repeat(TEXT_CAP) }));
    await expectForwarded(sm({ text: 'é'.repeat(TEXT_CAP / 2) }));
  });

  test('§9.3 thread.select / project.select rules', T, async () => {
    await ensure();
    await expectRejected(() => cmd({ name: 'thread.select', commandID: nextCommandID() }), 'invalid_command', 'thread.select requires threadID.');
    await expectRejected(() => cmd({ name: 'thread.select', commandID: nextCommandID(), threadID: 7 }), 'invalid_command', /^thread(\.select requires threadID|ID must be a compact identifier)\.$/);
    await expectRejected(() => cmd({ name: 'thread.select', commandID: nextCommandID(), threadID: 't'.repeat(129) }), 'invalid_command', 'threadID must be a compact identifier.');
    await expectRejected(() => cmd({ name: 'project.select', commandID: nextCommandID() }), 'invalid_command', 'project.select requires projectID.');
    await expectRejected(() => cmd({ name: 'project.select', commandID: nextCommandID(), projectID: 'bad/id' }), 'invalid_command', 'projectID must be a compact identifier.');
    await expectForwarded(() => cmd({ name: 'project.select', commandID: nextCommandID(), projectID: 'proj:1_A-b' }));
    await expectForwarded(() => cmd({ name: 'thread.select', commandID: nextCommandID(), threadID: 't'.repeat(128) }));
  });

  test('S63 legacy approval.respond is rejected (invalid_command)', T, async () => {
    await ensure();
    await expectRejected(() => cmd({ name: 'approval.respond', commandID: nextCommandID() }), 'invalid_command', 'Command name is not allowed.');
    await expectRejected(() => cmd({ name: 'approval.respond', commandID: nextCommandID(), approvalRequestID: '1', approvalDecision: 'approve' }), 'invalid_command');
  });

  const rr = (x = {}, resp = { decision: 'accept' }) => () => {
    const inner = { name: 'runtime_request.respond', commandID: nextCommandID(), runtimeRequestID: '42', runtimeRequestKind: 'approval', runtimeRequestResponse: resp, ...x };
    for (const [k, v] of Object.entries(inner)) if (v === undefined) delete inner[k];
    return cmd(inner);
  };

  test('S62 runtime_request.respond {decision:accept, optionID:accept} kind approval → forwarded intact', T, async () => {
    await ensure();
    const got = await expectForwarded(rr({}, { decision: 'accept', optionID: 'accept' }));
    assert.deepEqual(got.payload.payload.runtimeRequestResponse, { decision: 'accept', optionID: 'accept' });
  });

  test('§9.3 runtime_request.respond runtimeRequestID rules', T, async () => {
    await ensure();
    await expectRejected(rr({ runtimeRequestID: undefined }), 'invalid_command', 'runtime_request.respond requires runtimeRequestID.');
    for (const id of ['abc', '4a2', '-1', '1.5', ' 42', '٣', '1'.repeat(33)]) {
      await expectRejected(rr({ runtimeRequestID: id }), 'invalid_command', 'runtimeRequestID must be numeric.');
    }
    for (const id of ['0', '1'.repeat(32), '']) await expectForwarded(rr({ runtimeRequestID: id }));
  });

  test('§9.3 runtime_request.respond runtimeRequestKind rules', T, async () => {
    await ensure();
    await expectRejected(rr({ runtimeRequestKind: 'bogus' }), 'invalid_command', 'runtimeRequestKind is not recognized.');
    await expectRejected(rr({ runtimeRequestKind: 'Approval' }), 'invalid_command', 'runtimeRequestKind is not recognized.');
    for (const k of ['approval', 'permissionsApproval', 'userInput', 'mcpElicitation', 'dynamicToolCall', null, undefined]) {
      await expectForwarded(rr({ runtimeRequestKind: k }));
    }
  });

  test('§9.3 runtime_request.respond runtimeRequestResponse presence / type / keys', T, async () => {
    await ensure();
    await expectRejected(rr({ runtimeRequestResponse: undefined }), 'invalid_command', 'runtime_request.respond requires runtimeRequestResponse.');
    for (const v of ['x', [], 5, true]) {
      await expectRejected(rr({}, v), 'invalid_command', 'runtimeRequestResponse must be an object.');
    }
    await expectRejected(rr({}, {}), 'invalid_command', 'runtimeRequestResponse must include at least one response field.'); // S64
    await expectRejected(rr({}, { foo: 1 }), 'invalid_command', "Unexpected field 'foo' in runtimeRequestResponse.");
    await expectRejected(rr({}, { decision: 'accept', foo: 1 }), 'invalid_command', "Unexpected field 'foo' in runtimeRequestResponse.");
  });

  test('§9.3 runtimeRequestResponse.decision rules', T, async () => {
    await ensure();
    for (const d of ['approve_once', 'approve', 'Accept', '']) {
      await expectRejected(rr({}, { decision: d }), 'invalid_command', 'runtimeRequestResponse.decision is not recognized.');
    }
    for (const d of ['accept', 'acceptForSession', 'decline', 'cancel']) await expectForwarded(rr({}, { decision: d }));
    // validated only when it is a string
    await expectForwarded(rr({}, { decision: 5 }));
    await expectForwarded(rr({}, { decision: null }));
  });

  test('§9.3 runtimeRequestResponse.permissions rules', T, async () => {
    await ensure();
    for (const v of ['x', null, { a: 1 }, 3]) {
      await expectRejected(rr({}, { permissions: v }), 'invalid_command', 'runtimeRequestResponse.permissions must be an array.');
    }
    await expectRejected(rr({}, { permissions: [1] }), 'invalid_command', 'runtimeRequestResponse.permissions must contain strings.');
    await expectRejected(rr({}, { permissions: ['ok', null] }), 'invalid_command', 'runtimeRequestResponse.permissions must contain strings.');
    await expectRejected(rr({}, { permissions: ['  '] }), 'invalid_command', 'runtimeRequestResponse.permissions contains an invalid value.');
    await expectRejected(rr({}, { permissions: ['p'.repeat(257)] }), 'invalid_command', 'runtimeRequestResponse.permissions contains an invalid value.');
    await expectForwarded(rr({}, { permissions: ['p'.repeat(256), 'network'] }));
    await expectForwarded(rr({}, { permissions: [] }));
  });

  test('§9.3 runtimeRequestResponse.scope rules', T, async () => {
    await ensure();
    for (const v of [5, null, ['a']]) {
      await expectRejected(rr({}, { scope: v }), 'invalid_command', 'runtimeRequestResponse.scope must be a string.');
    }
    for (const v of ['', '   ', 's'.repeat(129)]) {
      await expectRejected(rr({}, { scope: v }), 'invalid_command', 'runtimeRequestResponse.scope is not valid.');
    }
    await expectForwarded(rr({}, { scope: 's'.repeat(128) }));
  });

  test('§9.3 runtimeRequestResponse.text rules', T, async () => {
    await ensure();
    for (const v of [5, null, {}]) {
      await expectRejected(rr({}, { text: v }), 'invalid_command', 'runtimeRequestResponse.text must be a string.');
    }
    await expectRejected(rr({}, { text: 't'.repeat(TEXT_CAP + 1) }), 'invalid_command', `runtimeRequestResponse.text exceeds ${TEXT_CAP} bytes.`);
    await expectRejected(rr({}, { text: 'é'.repeat(TEXT_CAP / 2 + 1) }), 'invalid_command', `runtimeRequestResponse.text exceeds ${TEXT_CAP} bytes.`);
    await expectForwarded(rr({}, { text: 't'.repeat(TEXT_CAP) }));
    await expectForwarded(rr({}, { text: '' }));
  });

  test('§9.3 runtimeRequestResponse.optionID rules', T, async () => {
    await ensure();
    for (const v of [5, null, true]) {
      await expectRejected(rr({}, { optionID: v }), 'invalid_command', 'runtimeRequestResponse.optionID must be a string.');
    }
    for (const v of ['bad id', '', 'o'.repeat(129)]) {
      await expectRejected(rr({}, { optionID: v }), 'invalid_command', 'runtimeRequestResponse.optionID must be a compact identifier.');
    }
    await expectForwarded(rr({}, { optionID: 'choice-b' }));
  });

  test('§9.3 runtimeRequestResponse.approved rules', T, async () => {
    await ensure();
    for (const v of ['yes', null, 1]) {
      await expectRejected(rr({}, { approved: v }), 'invalid_command', 'runtimeRequestResponse.approved must be a boolean.');
    }
    await expectForwarded(rr({}, { approved: false }));
    await expectForwarded(rr({ runtimeRequestKind: 'userInput' }, { text: 'Use the safer path.', optionID: 'choice-b' }));
    await expectForwarded(rr({ runtimeRequestKind: 'permissionsApproval' }, { decision: 'accept', permissions: ['fs.write'], scope: 'session', approved: true }));
  });

  test('§9.3 snapshot request rules', T, async () => {
    await ensure();
    await expectRejected(() => snapshotRequest(sid(), { relayConnectionID: 'x' }), 'invalid_snapshot_request', "Unexpected field 'relayConnectionID' in snapshot request.");
    await expectRejected(() => snapshotRequest(sid(), { foo: 1 }), 'invalid_snapshot_request', "Unexpected field 'foo' in snapshot request.");
    await expectRejected({ type: 'relay.snapshot_request', reason: 'x' }, 'invalid_snapshot_request', 'Snapshot request requires sessionID.');
    await expectRejected(() => snapshotRequest(sid(), { reason: 5 }), 'invalid_snapshot_request', 'Snapshot reason must be a string.');
    await expectRejected(() => snapshotRequest(sid(), { reason: 'r'.repeat(129) }), 'invalid_snapshot_request', 'Snapshot reason is too long.');
    for (const v of [null, 1.5, 'abc', '-1', '', '1'.repeat(21), '_12', [1], true]) {
      await expectRejected(() => snapshotRequest(sid(), { lastSeq: v }), 'invalid_snapshot_request', 'lastSeq must be numeric when provided.');
    }
    for (const v of [0, 12345, '0', '1'.repeat(20), '0042']) await expectForwarded(() => snapshotRequest(sid(), { lastSeq: v }));
    await expectForwarded(() => snapshotRequest(sid(), { reason: 'r'.repeat(128) }));
    await expectForwarded(() => ({ type: 'relay.snapshot_request', sessionID: sid() }));
  });

  test('§9.1 frames with a different string sessionID are dropped silently (no error, not forwarded)', T, async () => {
    await ensure();
    const other = 'OtherSessionID_12345678';
    fx.phone.send(command(other, nextSeq(), threadSelect()));
    fx.phone.send(snapshotRequest(other));
    fx.phone.send({ type: 'whatever', sessionID: other });
    await fx.phone.expectNothing(250);
    await fx.desktop.expectNothing(10);
    await expectForwarded(cmd(threadSelect()));
  });

  test('§9.1 binary frames from the phone are ignored', T, async () => {
    await ensure();
    fx.phone.sendBinary(Buffer.from('{"type":"relay.snapshot_request"}'));
    await fx.phone.expectNothing(250);
    await fx.desktop.expectNothing(10);
    assert.ok(fx.phone.isOpen);
  });
});
