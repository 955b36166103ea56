// E2EE primitives composed exactly as docs/E2EE.md says: WebCrypto only (P-256 ECDH/ECDSA,
// HKDF-SHA-256, AES-256-GCM, HMAC-SHA-256). No hand-written cryptography; no DOM, no I/O.

/** The WebCrypto object in use (browser: globalThis.crypto; Node 18 tests inject node:crypto's). */
let api: Crypto | null = typeof globalThis.crypto?.subtle === 'object' ? globalThis.crypto : null;
export function setCrypto(c: Crypto): void {
  api = c;
}
function subtle(): SubtleCrypto {
  if (!api) throw new Error('WebCrypto is not available');
  return api.subtle;
}
export function randomBytes(n: number): Bytes {
  if (!api) throw new Error('WebCrypto is not available');
  return api.getRandomValues(new Uint8Array(n));
}

export type Bytes = Uint8Array<ArrayBuffer>;
export const PROTO = 'rc-e2ee/1';
export const POINT_LEN = 65;
export const NONCE_LEN = 32;
export const SIG_LEN = 64;
export const TAG_LEN = 16;

// ---- encodings ---------------------------------------------------------------------------------
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const B64_INDEX = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64_CODES[i]] = i;
  return t;
})();
const ascii = new TextDecoder();
/** base64url without padding (table-driven: records are up to ~1 MiB, so this is on the hot path). */
export function b64u(b: Bytes): string {
  const out = new Uint8Array(Math.ceil((b.length * 4) / 3));
  const full = b.length - (b.length % 3);
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out[o] = B64_CODES[n >> 18];
    out[o + 1] = B64_CODES[(n >> 12) & 63];
    out[o + 2] = B64_CODES[(n >> 6) & 63];
    out[o + 3] = B64_CODES[n & 63];
    o += 4;
  }
  if (full < b.length) {
    const n = (b[full] << 16) | (full + 1 < b.length ? b[full + 1] << 8 : 0);
    out[o++] = B64_CODES[n >> 18];
    out[o++] = B64_CODES[(n >> 12) & 63];
    if (full + 1 < b.length) out[o++] = B64_CODES[(n >> 6) & 63];
  }
  return ascii.decode(out);
}
/** Strict base64url without padding; null on any other character or an impossible length. */
export function unb64u(s: string): Bytes | null {
  if (typeof s !== 'string' || s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  const idx = (i: number): number => {
    const code = s.charCodeAt(i);
    return code < 128 ? B64_INDEX[code] : -1;
  };
  const full = s.length - (s.length % 4);
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const a = idx(i), b = idx(i + 1), c = idx(i + 2), d = idx(i + 3);
    if ((a | b | c | d) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = n >> 16;
    out[o + 1] = (n >> 8) & 255;
    out[o + 2] = n & 255;
    o += 3;
  }
  const rest = s.length - full; // 0, 2 or 3 characters
  if (rest > 0) {
    const a = idx(full), b = idx(full + 1), c = rest === 3 ? idx(full + 2) : 0;
    if ((a | b | c) < 0) return null;
    const n = (a << 18) | (b << 12) | (c << 6);
    // non-canonical trailing bits would give two encodings of one value
    if ((rest === 2 && (n & 0xffff) !== 0) || (rest === 3 && (n & 0xff) !== 0)) return null;
    out[o++] = n >> 16;
    if (rest === 3) out[o++] = (n >> 8) & 255;
  }
  return out;
}
export const utf8 = (s: string): Bytes => new TextEncoder().encode(s);
export const hex = (b: Bytes): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** 2-byte big-endian length-prefixed concatenation (AAD, MACs, transcript). */
export function fields(...parts: (Bytes | string)[]): Bytes {
  const bs = parts.map((p) => (typeof p === 'string' ? utf8(p) : p));
  const out = new Uint8Array(bs.reduce((n, b) => n + 2 + b.length, 0));
  let o = 0;
  for (const b of bs) {
    if (b.length > 0xffff) throw new RangeError('e2ee: field longer than 65535 bytes');
    out[o++] = b.length >> 8;
    out[o++] = b.length & 255;
    out.set(b, o);
    o += b.length;
  }
  return out;
}

export async function sha256(b: Bytes): Promise<Bytes> {
  return new Uint8Array(await subtle().digest('SHA-256', b));
}

// ---- keys --------------------------------------------------------------------------------------
const EC = { namedCurve: 'P-256' } as const;

/** Identity key (ECDSA P-256). The private key is non-extractable unless `extractable` (vectors). */
export function generateIdentity(extractable = false): Promise<CryptoKeyPair> {
  return subtle().generateKey({ name: 'ECDSA', ...EC }, extractable, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}
/** Ephemeral ECDH P-256 key for one connection (non-extractable private key). */
export function generateEphemeral(extractable = false): Promise<CryptoKeyPair> {
  return subtle().generateKey({ name: 'ECDH', ...EC }, extractable, ['deriveBits']) as Promise<CryptoKeyPair>;
}
export async function exportPoint(pub: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await subtle().exportKey('raw', pub));
}
/** Imports an uncompressed SEC1 point; null when it is not one on P-256. */
export async function importPoint(point: Bytes, kind: 'ECDSA' | 'ECDH'): Promise<CryptoKey | null> {
  if (point.length !== POINT_LEN || point[0] !== 4) return null;
  try {
    return await subtle().importKey('raw', point, { name: kind, ...EC }, true, kind === 'ECDSA' ? ['verify'] : []);
  } catch {
    return null;
  }
}
/** Imports a private key from JWK (test vectors only). */
export function importPrivateJwk(jwk: JsonWebKey, kind: 'ECDSA' | 'ECDH'): Promise<CryptoKey> {
  return subtle().importKey('jwk', jwk, { name: kind, ...EC }, false, kind === 'ECDSA' ? ['sign'] : ['deriveBits']);
}

export async function ecdh(priv: CryptoKey, peer: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: peer }, priv, 256));
}
/** ECDSA P-256 / SHA-256, IEEE P1363 r‖s (64 bytes). */
export async function sign(priv: CryptoKey, data: Bytes): Promise<Bytes> {
  return new Uint8Array(await subtle().sign({ name: 'ECDSA', hash: 'SHA-256' }, priv, data));
}
export async function verify(pub: CryptoKey, sig: Bytes, data: Bytes): Promise<boolean> {
  if (sig.length !== SIG_LEN) return false;
  try {
    return await subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, sig, data);
  } catch {
    return false;
  }
}

async function hmacKey(secret: Bytes, usage: KeyUsage): Promise<CryptoKey> {
  return subtle().importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}
export async function hmac(secret: Bytes, data: Bytes): Promise<Bytes> {
  return new Uint8Array(await subtle().sign('HMAC', await hmacKey(secret, 'sign'), data));
}
/** Constant-time check (WebCrypto's HMAC verify). */
export async function hmacVerify(secret: Bytes, mac: Bytes, data: Bytes): Promise<boolean> {
  return subtle().verify('HMAC', await hmacKey(secret, 'verify'), mac, data);
}

export async function hkdf(ikm: Bytes, salt: Bytes, info: string, len = 32): Promise<Bytes> {
  const k = await subtle().importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) }, k, len * 8));
}

// ---- protocol values (docs/E2EE.md) ------------------------------------------------------------
export interface Ids {
  sessionID: string;
  deviceID: string;
}

/** Pairing proof: HMAC-SHA-256(ps, "rc-e2ee/1 pair" ‖ pk_P ‖ dk ‖ sessionID ‖ deviceID). */
export function pairMacInput(pkP: Bytes, dk: Bytes, ids: Ids): Bytes {
  return fields(`${PROTO} pair`, pkP, dk, ids.sessionID, ids.deviceID);
}

export interface Transcript extends Ids {
  dk: Bytes;
  pkP: Bytes;
  ephP: Bytes;
  nP: Bytes;
  ephD: Bytes;
  nD: Bytes;
}
export function transcriptHash(t: Transcript): Promise<Bytes> {
  return sha256(fields(`${PROTO} hs`, t.sessionID, t.deviceID, t.dk, t.pkP, t.ephP, t.nP, t.ephD, t.nD));
}
/** What each side signs: the role label keeps an accept signature from passing as a finish. */
export function signedInput(role: 'accept' | 'finish', h: Bytes): Bytes {
  return fields(`${PROTO} ${role}`, h);
}

export interface DirectionKeys {
  p2d: Bytes;
  d2p: Bytes;
}
export async function deriveKeys(secret: Bytes, h: Bytes): Promise<DirectionKeys> {
  return { p2d: await hkdf(secret, h, `${PROTO} p2d`), d2p: await hkdf(secret, h, `${PROTO} d2p`) };
}

/** 9-digit safety code "ddd ddd ddd" from both identity keys. */
export async function safetyCode(dk: Bytes, pkP: Bytes): Promise<string> {
  const d = await sha256(fields(`${PROTO} safety`, dk, pkP));
  const n = (((d[0] << 24) >>> 0) + (d[1] << 16) + (d[2] << 8) + d[3]) % 1_000_000_000;
  const s = n.toString().padStart(9, '0');
  return `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6)}`;
}

// ---- record layer ------------------------------------------------------------------------------
export type Direction = 'p2d' | 'd2p';
export type RecordReject = 'replayed_record' | 'record_gap' | 'bad_record_tag' | 'malformed_record';
export const MAX_RECORD_PLAINTEXT = 1 << 20;

function nonce(ctr: number): Bytes {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(ctr));
  return n;
}

/**
 * One direction of a record stream: AES-256-GCM, nonce = 0⁴‖ctr₆₄, AAD binds direction, session,
 * device and counter; the receiver requires ctr == expected. Callers serialise seal/open.
 */
export class RecordStream {
  private next = 0;
  private key: Promise<CryptoKey>;
  private readonly prefix: Bytes;
  constructor(key: Bytes, dir: Direction, ids: Ids) {
    this.key = subtle().importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    this.prefix = fields(`${PROTO} rec`, dir, ids.sessionID, ids.deviceID);
  }
  get expected(): number {
    return this.next;
  }
  private aad(ctr: number): Bytes {
    const c = fields(String(ctr));
    const a = new Uint8Array(this.prefix.length + c.length);
    a.set(this.prefix);
    a.set(c, this.prefix.length);
    return a;
  }
  async seal(plaintext: string): Promise<{ c: number; ct: Bytes }> {
    const c = this.next++;
    const ct = await subtle().encrypt({ name: 'AES-GCM', iv: nonce(c), additionalData: this.aad(c), tagLength: 128 }, await this.key, utf8(plaintext));
    return { c, ct: new Uint8Array(ct) };
  }
  async open(c: number, ct: Bytes): Promise<{ ok: true; text: string } | { ok: false; reason: RecordReject }> {
    if (!Number.isSafeInteger(c) || c < 0 || ct.length < TAG_LEN || ct.length - TAG_LEN > MAX_RECORD_PLAINTEXT) return { ok: false, reason: 'malformed_record' };
    if (c < this.next) return { ok: false, reason: 'replayed_record' };
    if (c > this.next) return { ok: false, reason: 'record_gap' };
    let pt: ArrayBuffer;
    try {
      pt = await subtle().decrypt({ name: 'AES-GCM', iv: nonce(c), additionalData: this.aad(c), tagLength: 128 }, await this.key, ct);
    } catch {
      return { ok: false, reason: 'bad_record_tag' };
    }
    this.next++;
    try {
      return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(pt) };
    } catch {
      return { ok: false, reason: 'malformed_record' };
    }
  }
}
