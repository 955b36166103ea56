// A websocket client on a bare TCP socket, for frames a conforming client library never sends
// (reserved opcodes, unmasked client frames, fragmented control frames, invalid UTF-8, oversize
// headers). Reads the server's frames back (text, close code) until the server ends the socket.
import net from 'node:net';
import crypto from 'node:crypto';

export const OP = Object.freeze({ cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa });

/** One frame as a client would write it. `mask: false` leaves it unmasked (a protocol error). */
export function frame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0, lengthOverride } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = lengthOverride ?? data.length;
  let head;
  if (len < 126) {
    head = Buffer.alloc(2);
    head[1] = len;
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; ++i) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export function upgradeRequest({ key = WS_KEY, version = '13', origin, extra = '' } = {}) {
  let r = 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  if (key !== null) r += `Sec-WebSocket-Key: ${key}\r\n`;
  if (version !== null) r += `Sec-WebSocket-Version: ${version}\r\n`;
  if (origin) r += `Origin: ${origin}\r\n`;
  return `${r}${extra}\r\n`;
}

/**
 * A raw websocket: `RawWs.open(port, opts)` resolves once the 101 arrived (or rejects with the
 * HTTP status line). `frames` collects {opcode, payload}; `ended` resolves when the server ends
 * the socket, with {closeCode, closeReason} of its close frame (null when it sent none).
 */
export class RawWs {
  static async open(port, opts = {}, { timeoutMs = 5000 } = {}) {
    const ws = new RawWs(port);
    await ws._handshake(upgradeRequest(opts), timeoutMs);
    return ws;
  }

  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.buf = Buffer.alloc(0);
    this.upgraded = false;
    this.response = '';
    this.frames = [];
    this.closeFrame = null;
    this.waiters = [];
    this.ended = new Promise((resolve) => {
      this.sock.on('close', () => {
        this.isEnded = true;
        resolve(this.closeFrame);
        this._wake();
      });
    });
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._parse(); });
  }

  _wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  _parse() {
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.response = this.buf.subarray(0, end + 4).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      this.upgraded = this.response.startsWith('HTTP/1.1 101');
      this._wake();
      if (!this.upgraded) return;
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const op = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (op === OP.close) {
        this.closeFrame = {
          closeCode: payload.length >= 2 ? payload.readUInt16BE(0) : 1005,
          closeReason: payload.subarray(2).toString('utf8'),
        };
      } else this.frames.push({ opcode: op, text: payload.toString('utf8') });
      this._wake();
    }
  }

  _handshake(req, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.sock.destroy(); reject(new Error('no upgrade answer')); }, timeoutMs);
      const check = () => {
        if (this.response) {
          clearTimeout(timer);
          if (this.upgraded) resolve();
          else { this.sock.destroy(); reject(new Error(`upgrade refused: ${this.response.split('\r\n', 1)[0]}`)); }
        } else if (this.isEnded) {
          clearTimeout(timer);
          reject(new Error('socket ended before the upgrade answer'));
        } else this.waiters.push(check);
      };
      this.sock.once('connect', () => this.sock.write(req));
      check();
    });
  }

  write(bytes) { if (!this.sock.destroyed) this.sock.write(bytes); }
  text(s) { this.write(frame(OP.text, Buffer.from(s))); }

  /** Next text frame (parsed JSON when it parses), or throws when the socket ended first. */
  async nextText(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.opcode === OP.text);
      if (i >= 0) {
        const [f] = this.frames.splice(i, 1);
        try { return JSON.parse(f.text); } catch { return f.text; }
      }
      if (this.isEnded) throw new Error('socket ended while waiting for a text frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no text frame within ${timeoutMs} ms`);
      await new Promise((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** Resolves with the server's close frame (or null) once it ended the socket; rejects on timeout. */
  async waitEnd(timeoutMs = 5000) {
    let t;
    const r = await Promise.race([this.ended.then((c) => ({ c })), new Promise((res) => { t = setTimeout(() => res(null), timeoutMs); })]);
    clearTimeout(t);
    if (!r) { this.sock.destroy(); throw new Error(`server did not end the socket within ${timeoutMs} ms`); }
    return r.c;
  }

  destroy() { this.sock.destroy(); }
}

/** Opens a raw websocket and authenticates it with `token`; resolves with {ws, authOk}. */
export async function rawAuth(port, token, { origin } = {}) {
  const ws = await RawWs.open(port, { origin });
  ws.text(JSON.stringify({ type: 'relay.auth', token }));
  const authOk = await ws.nextText();
  if (!authOk || authOk.type !== 'auth_ok') throw new Error(`no auth_ok: ${JSON.stringify(authOk)}`);
  return { ws, authOk };
}
