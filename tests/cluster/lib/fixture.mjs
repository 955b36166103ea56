// Session credentials, pairing helpers and the "paired fixture" of SCENARIOS.md (preamble).
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { WsClient, openAndAuth, PWA_ORIGIN } from './ws.mjs';
import { assertOk } from './http.mjs';

export { PWA_ORIGIN };
export const EVIL_ORIGIN = 'https://evil.example';

export const b64url = (n) => crypto.randomBytes(n).toString('base64url');
export const isoIn = (ms) => new Date(Date.now() + ms).toISOString();

/** Fresh random credentials: session 16 bytes, tokens 32 bytes, expiry now + 2 min. */
export function newCreds({ ttlMs = 120000 } = {}) {
  return {
    sessionID: b64url(16),
    joinToken: b64url(32),
    desktopSessionToken: b64url(32),
    joinTokenExpiresAt: isoIn(ttlMs),
  };
}

export function startBody(creds, extra = {}) {
  return {
    schemaVersion: 2,
    sessionID: creds.sessionID,
    joinToken: creds.joinToken,
    desktopSessionToken: creds.desktopSessionToken,
    joinTokenExpiresAt: creds.joinTokenExpiresAt,
    idleTimeoutSeconds: 1800,
    ...extra,
  };
}

export async function pairStart(relay, creds, extra = {}) {
  const res = await relay.post('/pair/start', startBody(creds, extra));
  assertOk(res);
  return res.body;
}

export async function pairRefresh(relay, creds, newJoinToken = b64url(32), extra = {}) {
  const res = await relay.post('/pair/refresh', {
    schemaVersion: 2,
    sessionID: creds.sessionID,
    joinToken: newJoinToken,
    desktopSessionToken: creds.desktopSessionToken,
    joinTokenExpiresAt: isoIn(120000),
    ...extra,
  });
  assertOk(res);
  creds.joinToken = newJoinToken;
  return res.body;
}

export async function connectDesktop(relay, token, { label = 'desktop', origin, autoPong } = {}) {
  const { ws, first } = await openAndAuth(relay.wsURL, token, { label, origin, autoPong });
  assert.ok(first, `${label}: no auth_ok (closed ${JSON.stringify(ws.closeInfo)})`);
  assert.equal(first.type, 'auth_ok', `${label}: ${JSON.stringify(first)}`);
  assert.equal(first.role, 'desktop', `${label}: ${JSON.stringify(first)}`);
  return { ws, authOk: first };
}

export async function connectPhone(relay, token, { label = 'phone', origin = PWA_ORIGIN, autoPong } = {}) {
  const { ws, first } = await openAndAuth(relay.wsURL, token, { label, origin, autoPong });
  assert.ok(first, `${label}: no auth_ok (closed ${JSON.stringify(ws.closeInfo)})`);
  assert.equal(first.type, 'auth_ok', `${label}: ${JSON.stringify(first)}`);
  assert.equal(first.role, 'mobile', `${label}: ${JSON.stringify(first)}`);
  return { ws, authOk: first };
}

export function joinBody(creds, deviceName) {
  const b = { sessionID: creds.sessionID, joinToken: creds.joinToken };
  if (deviceName !== undefined) b.deviceName = deviceName;
  return b;
}

/** Start a /pair/join (phone origin) without awaiting it. */
export function startJoin(relay, creds, { deviceName, origin = PWA_ORIGIN, headers, timeoutMs = 15000 } = {}) {
  const p = relay.post('/pair/join', joinBody(creds, deviceName), { origin, headers, timeoutMs });
  p.catch(() => {}); // never an unhandled rejection if a test bails out before awaiting it
  return p;
}

/**
 * pair/join, wait for relay.pair_request on the desktop, approve, expect pair_result, await join 200.
 * Returns {join, pairRequest, pairResult}.
 */
export async function joinAndApprove(relay, creds, desktop, { deviceName, approved = true } = {}) {
  const joinP = startJoin(relay, creds, { deviceName });
  let pairRequest;
  try {
    pairRequest = await desktop.nextOfType('relay.pair_request', 5000);
  } catch (e) {
    const r = await Promise.race([joinP, new Promise((res) => setTimeout(() => res(null), 100))]);
    if (r) e.message += ` (join already answered ${r.status} ${r.text})`;
    throw e;
  }
  desktop.send({ type: 'relay.pair_decision', sessionID: creds.sessionID, requestID: pairRequest.requestID, approved });
  const pairResult = await desktop.nextOfType('relay.pair_result', 3000);
  const join = await joinP;
  return { join, pairRequest, pairResult };
}

/**
 * Paired fixture: pair/start -> desktop WS auth -> pair/join -> desktop approves ->
 * phone WS auth with the join-issued token; desktop frames drained.
 */
export async function pairedFixture(relay, { deviceName = 'Test Phone', creds = newCreds() } = {}) {
  const start = await pairStart(relay, creds);
  const desktop = await connectDesktop(relay, creds.desktopSessionToken);
  const { join, pairRequest, pairResult } = await joinAndApprove(relay, creds, desktop.ws, { deviceName });
  assertOk(join);
  const phone = await connectPhone(relay, join.body.deviceSessionToken);
  const deviceCount = await desktop.ws.nextOfType('relay.device_count', 3000);
  await desktop.ws.drain(50);
  return {
    creds,
    start,
    desktop: desktop.ws,
    desktopAuthOk: desktop.authOk,
    phone: phone.ws,
    phoneAuthOk: phone.authOk,
    pairRequest,
    pairResult,
    deviceCount,
    join: join.body,
    deviceID: join.body.deviceID,
    joinToken: join.body.deviceSessionToken,
    rotatedToken: phone.authOk.nextDeviceSessionToken,
  };
}

/** Mobile command envelope (schema v2). `cmd` is the inner command payload. */
export function command(sessionID, seq, cmd, extraTop = {}) {
  return {
    schemaVersion: 2,
    sessionID,
    seq,
    timestamp: new Date().toISOString(),
    payload: { type: 'command', payload: cmd },
    ...extraTop,
  };
}

let cmdCounter = 0;
export const nextCommandID = () => `cmd-${process.pid}-${++cmdCounter}`;

export function threadSelect(threadID = 'thread-1') {
  return { name: 'thread.select', commandID: nextCommandID(), threadID };
}

export function snapshotRequest(sessionID, extra = {}) {
  return { type: 'relay.snapshot_request', sessionID, reason: 'initial_sync', ...extra };
}

/** Forwarded = original + relayConnectionID + relayDeviceID (both overwritten by the relay). */
export function assertForwarded(forwarded, original, deviceID) {
  assert.equal(typeof forwarded.relayConnectionID, 'string', JSON.stringify(forwarded));
  assert.match(forwarded.relayConnectionID, /^[A-Za-z0-9_-]{14}$/);
  if (deviceID !== undefined) assert.equal(forwarded.relayDeviceID, deviceID);
  const { relayConnectionID: _a, relayDeviceID: _b, ...rest } = forwarded;
  const { relayConnectionID: _c, relayDeviceID: _d, ...orig } = original;
  assert.deepEqual(rest, orig);
}

export const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
export const DEVICE_ID_RE = /^[A-Za-z0-9_-]{16}$/;
export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{14}$/;
export const RFC3339_UTC_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|\+00:00)$/;

export { WsClient };
