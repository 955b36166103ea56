// Minimal HTTP helpers on node:http (lets us set Origin and any other header).
import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';

function hasHeader(headers, name) {
  return Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase());
}

/**
 * request(port, method, path, {headers, json, body, timeoutMs})
 * -> {status, headers, text, body (parsed JSON or undefined)}
 */
export function request(port, method, path, opts = {}) {
  const p = doRequest(port, method, path, opts);
  p.catch(() => {}); // a test that bails out early must not leave an unhandled rejection behind
  return p;
}

function doRequest(port, method, path, { headers = {}, json, body, timeoutMs = 15000, origin } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (origin !== undefined) h.Origin = origin;
    let payload;
    if (json !== undefined) {
      payload = Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
      if (!hasHeader(h, 'content-type')) h['Content-Type'] = 'application/json';
    } else if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
    }
    if (payload && !hasHeader(h, 'content-length')) h['Content-Length'] = payload.length;
    let done = false;
    const finish = (fn, v) => { if (!done) { done = true; fn(v); } };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
        finish(resolve, { status: res.statusCode, headers: res.headers, text, body: parsed });
      });
      res.on('error', (e) => finish(reject, e));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => finish(reject, e));
    if (payload) req.write(payload);
    req.end();
  });
}

/** Assert a handler-level JSON error {error, message}. message may be a string or RegExp. */
export function assertError(res, status, code, message) {
  const ctx = `response ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.ok(res.body && typeof res.body === 'object', `expected JSON error body; ${ctx}`);
  assert.equal(res.body.error, code, ctx);
  if (message instanceof RegExp) assert.match(res.body.message, message, ctx);
  else if (message !== undefined) assert.equal(res.body.message, message, ctx);
}

/** Framework rejections carry a plain-text body, not the JSON error shape. */
export function assertFrameworkError(res, status) {
  const ctx = `response ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  const isJsonErrorShape = res.body && typeof res.body === 'object' && !Array.isArray(res.body) && 'error' in res.body;
  assert.ok(!isJsonErrorShape, `framework error must not use the JSON error shape; ${ctx}`);
}

export function assertOk(res) {
  assert.equal(res.status, 200, `response ${res.status} ${res.text}`);
  assert.equal(res.body?.accepted, true, `response ${res.text}`);
  return res.body;
}

export const MSG = Object.freeze({
  schema: 'Only schemaVersion 2 is supported.',
  origin: 'Origin is not allowed.',
  ratePairing: 'Too many pairing attempts. Try again in a minute.',
  rateMgmt: 'Too many relay management requests. Try again in a minute.',
  startTokens: 'sessionID, joinToken, and desktopSessionToken must be high-entropy opaque identifiers.',
  startExpiry: 'joinTokenExpiresAt must be a valid RFC3339 timestamp.',
  expiredJoin: 'joinTokenExpiresAt must be in the future.',
  sessionActive: 'sessionID is already active for another desktopSessionToken. Stop the active session or use a new sessionID.',
  joinTokens: 'sessionID and joinToken are required.',
  backpressure: 'Relay is handling too many pending pairing approvals. Retry shortly.',
  sessionNotFound: 'Remote session not found.',
  joinExpired: 'Join token has expired.',
  joinUsed: 'Join token has already been redeemed. Start a new session from desktop.',
  joinInvalid: 'Join token is invalid.',
  deviceCap: (n) => `This session allows at most ${n} connected devices.`,
  desktopNotConnected: 'Desktop is not connected to relay. Re-open Remote Control on desktop and retry.',
  inProgress: 'A pairing approval request is already pending on desktop.',
  desktopGone: 'Desktop disconnected before pairing could be approved.',
  timedOut: 'Desktop pairing approval timed out.',
  denied: 'Desktop denied this pairing request.',
  refreshTokens: 'sessionID, joinToken, and desktopSessionToken are required.',
  refreshExpiry: 'joinTokenExpiresAt must be a valid RFC3339 timestamp.',
  badDesktopToken: 'Desktop session token is invalid.',
  stopTokens: 'sessionID and desktopSessionToken are required.',
  listTokens: 'sessionID and desktopSessionToken are required.',
  revokeTokens: 'sessionID, desktopSessionToken, and deviceID are required.',
  deviceNotFound: 'Device is not linked to this session.',
});

/** Writes `bytes` on a new connection; resolves with everything read until the server closes. */
export function raw(port, bytes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no close within ${timeoutMs} ms: ${out}`)); }, timeoutMs);
    sock.on('connect', () => { if (bytes) sock.write(bytes); });
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}
