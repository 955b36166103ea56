// Join link parsing / building (APP_SCHEMA §9). No DOM.

export interface JoinLink {
  sessionID: string;
  joinToken: string;
  /** relay HTTP origin, when the link carried a valid http(s) one */
  relayBaseURL?: string;
  /** E2EE (docs/E2EE.md): desktop identity key, base64url SEC1 point (65 bytes) */
  dk?: string;
  /** E2EE: single-use pairing secret, base64url (32 bytes) */
  ps?: string;
}

const B64U = /^[A-Za-z0-9_-]+$/;
/** 65-byte uncompressed point → 87 chars starting with 'B' (0x04); 32 bytes → 43 chars. */
const validDk = (v: string): boolean => v.length === 87 && v[0] === 'B' && B64U.test(v);
const validPs = (v: string): boolean => v.length === 43 && B64U.test(v);

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function parseParams(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : part.slice(eq + 1);
    // `relay` may be unescaped (desktop) and contain no '&', so plain split is fine.
    if (!m.has(k)) m.set(k, safeDecode(v));
  }
  return m;
}

/** Reduce to an http(s) origin, or undefined. */
export function relayOrigin(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    const u = new URL(raw.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

function fromParamString(s: string): JoinLink | null {
  const p = parseParams(s);
  const sessionID = p.get('sid')?.trim();
  const joinToken = p.get('jt')?.trim();
  if (!sessionID || !joinToken) return null;
  const link: JoinLink = { sessionID, joinToken };
  const relay = relayOrigin(p.get('relay'));
  if (relay) link.relayBaseURL = relay;
  // E2EE keys come together or not at all; a malformed one refuses the link (fail closed:
  // never pair in plaintext because a key was damaged).
  const dk = p.get('dk')?.trim();
  const ps = p.get('ps')?.trim();
  if (dk !== undefined || ps !== undefined) {
    if (!dk || !ps || !validDk(dk) || !validPs(ps)) return null;
    link.dk = dk;
    link.ps = ps;
  }
  return link;
}

/**
 * Accepts a bare `#…` / `?…` parameter string, a full URL (fragment first, then query), or
 * pasted text containing `#` / `?`. Requires `sid` and `jt`.
 */
export function parseJoinLink(input: string | null | undefined): JoinLink | null {
  if (!input) return null;
  const text = input.trim();
  if (!text) return null;
  const candidates: string[] = [];
  const hash = text.indexOf('#');
  if (hash >= 0) candidates.push(text.slice(hash + 1));
  const q = text.indexOf('?');
  if (q >= 0) candidates.push(text.slice(q + 1, hash > q ? hash : undefined));
  if (hash < 0 && q < 0) candidates.push(text);
  for (const c of candidates) {
    const link = fromParamString(c);
    if (link) return link;
  }
  return null;
}

/** `<base>#sid=…&jt=…&relay=<percent-encoded>`; base query/fragment dropped, empty path → `/`. */
export function buildJoinLink(baseURL: string, link: JoinLink): string {
  const u = new URL(baseURL);
  u.search = '';
  u.hash = '';
  if (u.pathname === '') u.pathname = '/';
  let frag = `sid=${encodeURIComponent(link.sessionID)}&jt=${encodeURIComponent(link.joinToken)}`;
  const relay = relayOrigin(link.relayBaseURL);
  if (relay) frag += `&relay=${encodeURIComponent(relay)}`;
  if (link.dk && link.ps) frag += `&dk=${link.dk}&ps=${link.ps}`;
  return `${u.toString()}#${frag}`;
}

/** `wss://relay.example/ws` → `https://relay.example` (desktop side derivation, §9). */
export function relayBaseFromWebSocketURL(ws: string): string | undefined {
  try {
    const u = new URL(ws);
    const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
    if (scheme !== 'http:' && scheme !== 'https:') return undefined;
    return `${scheme}//${u.host}`;
  } catch {
    return undefined;
  }
}

/** Default WebSocket URL for a relay HTTP base: http→ws, https→wss, path /ws. */
export function webSocketURLFromRelayBase(base: string): string {
  const u = new URL(base);
  const scheme = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${u.host}/ws`;
}
