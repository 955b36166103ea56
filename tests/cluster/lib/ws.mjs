// WebSocket client wrapper with a message queue: next(timeoutMs) / expectNothing(ms) / waitClose().
import WebSocket from 'ws';
import assert from 'node:assert/strict';

export const PWA_ORIGIN = 'http://localhost:4173';

export class WsClient {
  static all = new Set();

  constructor(ws, label) {
    this.ws = ws;
    this.label = label || 'ws';
    this.queue = [];
    this.waiters = [];
    this.pings = [];
    this.closeInfo = null;
    this.error = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    WsClient.all.add(this);
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.queue.push({ text: buf.toString('utf8'), isBinary, at: Date.now() });
      this._wake();
    });
    ws.on('ping', (data) => { this.pings.push({ at: Date.now(), data: Buffer.from(data) }); });
    this.pongs = [];
    ws.on('pong', (data) => { this.pongs.push({ at: Date.now(), data: Buffer.from(data) }); });
    ws.on('error', (err) => { this.error = err; });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
      this._resolveClosed(this.closeInfo);
      this._wake();
    });
  }

  static connect(url, { origin, headers, autoPong = true, label, timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const opts = { perMessageDeflate: false, autoPong, handshakeTimeout: timeoutMs };
      if (origin !== undefined) opts.origin = origin;
      if (headers) opts.headers = headers;
      const ws = new WebSocket(url, opts);
      const client = new WsClient(ws, label);
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${client.label}: connect timeout ${url}`)); }, timeoutMs);
      ws.once('open', () => { clearTimeout(timer); resolve(client); });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`${client.label}: unexpected upgrade response ${res.statusCode}`));
      });
      ws.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  _wake() {
    const ws = this.waiters; this.waiters = [];
    for (const w of ws) w();
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  send(msg) {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  ping(payload = Buffer.alloc(0)) { this.ws.ping(payload); }

  sendBinary(buf) { this.ws.send(buf, { binary: true }); }

  /** Next raw frame {text, isBinary}; throws on timeout or if the socket closed with an empty queue. */
  async nextFrame(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.queue.length) return this.queue.shift();
      if (this.closeInfo) {
        throw new Error(`${this.label}: socket closed (code ${this.closeInfo.code} "${this.closeInfo.reason}") while waiting for a message`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for a message`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async nextRaw(timeoutMs = 3000) { return (await this.nextFrame(timeoutMs)).text; }

  /** Next frame parsed as JSON. */
  async next(timeoutMs = 3000) {
    const text = await this.nextRaw(timeoutMs);
    try { return JSON.parse(text); } catch {
      throw new Error(`${this.label}: received non-JSON frame: ${text.slice(0, 200)}`);
    }
  }

  /** Skip frames until one with the given type arrives. */
  async nextOfType(type, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    const skipped = [];
    for (;;) {
      const left = Math.max(1, deadline - Date.now());
      let msg;
      try { msg = await this.next(left); } catch (e) {
        e.message += ` (waiting for type ${type}; skipped ${JSON.stringify(skipped).slice(0, 500)})`;
        throw e;
      }
      if (msg && msg.type === type) return msg;
      skipped.push(msg);
    }
  }

  /** Next JSON frame whose type is not in skipTypes (e.g. ['relay.device_count']). */
  async nextSkipping(skipTypes, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const msg = await this.next(Math.max(1, deadline - Date.now()));
      if (!(msg && skipTypes.includes(msg.type))) return msg;
    }
  }

  /** Assert nothing arrives within ms (default 250 ms = "not forwarded"). */
  async expectNothing(ms = 250) {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.queue.length, 0,
      `${this.label}: expected no message within ${ms} ms, got ${JSON.stringify(this.queue.map((m) => m.text)).slice(0, 500)}`);
  }

  /** Resolve with {code, reason} once closed; throws on timeout. */
  async waitClose(timeoutMs = 3000) {
    if (this.closeInfo) return this.closeInfo;
    let t;
    const res = await Promise.race([
      this.closed,
      new Promise((r) => { t = setTimeout(() => r(null), timeoutMs); }),
    ]);
    clearTimeout(t);
    if (!res) throw new Error(`${this.label}: socket not closed within ${timeoutMs} ms`);
    return res;
  }

  /** Drain and return everything queued (after waiting ms). */
  async drain(ms = 0) {
    if (ms) await new Promise((r) => setTimeout(r, ms));
    const out = this.queue.map((m) => m.text); this.queue = [];
    return out;
  }

  /** Terminate every client created in this process (use in afterEach). */
  static terminateAll() {
    for (const c of WsClient.all) c.terminate();
    WsClient.all.clear();
  }

  close(code = 1000) { try { this.ws.close(code); } catch { /* ignore */ } }
  terminate() { try { this.ws.terminate(); } catch { /* ignore */ } }
}

/** Open a socket, send relay.auth with token, return {ws, first} (first = first frame parsed, or null if closed). */
export async function openAndAuth(url, token, { origin, label, timeoutMs = 3000, autoPong } = {}) {
  const ws = await WsClient.connect(url, { origin, label, autoPong });
  ws.send({ type: 'relay.auth', token });
  let first = null;
  try { first = await ws.next(timeoutMs); } catch (e) {
    if (!ws.closeInfo) throw e;
  }
  return { ws, first };
}

/** A socket the relay "dropped": closed without a close frame (ws reports 1006). */
export function assertDropped(closeInfo, ctx = '') {
  assert.equal(closeInfo.code, 1006, `expected the relay to drop the socket without a close frame (1006), got ${closeInfo.code} "${closeInfo.reason}" ${ctx}`);
}
