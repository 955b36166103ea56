// Web push, phone side (issue 14; docs/PUSH.md): the wire shapes that travel inside the E2EE
// channel (`push.subscribe`/`push.unsubscribe`/`push.visibility` commands, the `push.state`
// event), their strict validators, where push can work, and the phone's local push record.
// Pure: no DOM, no I/O.
import { unb64u } from './e2eeCrypto';
import type { KeyValueStorage } from './storage';

export const PUSH_KINDS = ['approval', 'turn', 'pairing'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];
export type PushKinds = Record<PushKind, boolean>;
export const DEFAULT_PUSH_KINDS: PushKinds = { approval: true, turn: true, pairing: false };

/** PushSubscription.toJSON() flattened: endpoint + the two base64url keys. */
export interface PushSubscriptionWire {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** What the desktop says about this phone (event `push.state`). */
export interface PushState {
  vapidPublicKey: string;
  subscribed: boolean;
  kinds: PushKinds;
  generic: boolean;
}

export const MAX_ENDPOINT_BYTES = 2048;
const B64U_RE = /^[A-Za-z0-9_-]+$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** base64url (no padding) of exactly `len` bytes, optionally with a fixed first byte. */
function b64uOf(v: unknown, len: number, first?: number): v is string {
  if (typeof v !== 'string' || !B64U_RE.test(v)) return false;
  const b = unb64u(v);
  return b !== null && b.length === len && (first === undefined || b[0] === first);
}

/** Uncompressed P-256 point (65 bytes, 0x04 prefix) in base64url: the VAPID key and p256dh. */
export const isP256Point = (v: unknown): v is string => b64uOf(v, 65, 4);

/** An https push service URL (no credentials, bounded). */
export function isPushEndpoint(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_ENDPOINT_BYTES) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && u.username === '' && u.password === '' && u.hostname !== '';
  } catch {
    return false;
  }
}

export function parseKinds(v: unknown): PushKinds | null {
  if (!isObj(v)) return null;
  const out = { ...DEFAULT_PUSH_KINDS };
  for (const k of PUSH_KINDS) {
    if (typeof v[k] !== 'boolean') return null;
    out[k] = v[k] as boolean;
  }
  return out;
}

/** The subscription the browser handed out, reduced to what the desktop needs; null = unusable. */
export function subscriptionWire(json: unknown): PushSubscriptionWire | null {
  if (!isObj(json) || !isObj(json.keys)) return null;
  const { endpoint } = json;
  const { p256dh, auth } = json.keys;
  if (!isPushEndpoint(endpoint) || !isP256Point(p256dh) || !b64uOf(auth, 16)) return null;
  return { endpoint, p256dh, auth };
}

export function validSubscriptionWire(v: unknown): v is PushSubscriptionWire {
  return isObj(v) && subscriptionWire({ endpoint: v.endpoint, keys: { p256dh: v.p256dh, auth: v.auth } }) !== null;
}

/**
 * Event `push.state`: the fields on the event itself (`{name:"push.state", vapidPublicKey, …}`)
 * or in an object `body`. Anything malformed is dropped (null).
 */
export function parsePushState(ev: unknown): PushState | null {
  if (!isObj(ev)) return null;
  const v = isObj(ev.body) ? ev.body : ev;
  const kinds = parseKinds(v.kinds);
  if (!isP256Point(v.vapidPublicKey) || typeof v.subscribed !== 'boolean' || !kinds) return null;
  return { vapidPublicKey: v.vapidPublicKey, subscribed: v.subscribed, kinds, generic: v.generic === true };
}

// ---------- where push can work ----------
export type PushSupport =
  | { ok: true }
  | { ok: false; reason: 'ios_not_installed' | 'no_service_worker' | 'no_push' | 'no_notifications' | 'insecure' };

export interface PushEnv {
  secure: boolean;
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
  ios: boolean;
  standalone: boolean;
}

export function pushSupport(e: PushEnv): PushSupport {
  // iOS only exposes push to a Home Screen web app (16.4+): say how to get there first.
  if (e.ios && !e.standalone) return { ok: false, reason: 'ios_not_installed' };
  if (!e.secure) return { ok: false, reason: 'insecure' };
  if (!e.serviceWorker) return { ok: false, reason: 'no_service_worker' };
  if (!e.pushManager) return { ok: false, reason: 'no_push' };
  if (!e.notification) return { ok: false, reason: 'no_notifications' };
  return { ok: true };
}

const NO_PUSH = 'This browser has no web push: use Chrome, Edge, Firefox or Safari 16.4+ and install the app (Add to Home Screen).';
export const PUSH_UNSUPPORTED_TEXT: Record<Exclude<PushSupport, { ok: true }>['reason'], string> = {
  ios_not_installed: 'On iPhone and iPad, notifications need the installed app: tap Share, “Add to Home Screen”, then open it from the Home Screen.',
  insecure: 'Notifications need https.',
  no_service_worker: NO_PUSH,
  no_push: NO_PUSH,
  no_notifications: NO_PUSH,
};

// ---------- the phone's own record ----------
/**
 * What this phone last told the desktop (`sent`: the endpoint, null after unsubscribing) and the
 * kinds the user chose. A browser subscription whose endpoint differs from `sent` (renewed by the
 * service worker on `pushsubscriptionchange`) is re-sent on the next connection.
 */
export interface PushLocal {
  enabled: boolean;
  sent: string | null;
  kinds: PushKinds;
}
export const PUSH_LOCAL_KEY = 'rc.push.v1';

export function loadPushLocal(s: KeyValueStorage): PushLocal {
  const off: PushLocal = { enabled: false, sent: null, kinds: { ...DEFAULT_PUSH_KINDS } };
  let v: unknown;
  try {
    v = JSON.parse(s.getItem(PUSH_LOCAL_KEY) ?? 'null');
  } catch {
    return off;
  }
  if (!isObj(v)) return off;
  return {
    enabled: v.enabled === true,
    sent: isPushEndpoint(v.sent) ? v.sent : null,
    kinds: parseKinds(v.kinds) ?? off.kinds,
  };
}

export function savePushLocal(s: KeyValueStorage, p: PushLocal | null): void {
  try {
    if (p) s.setItem(PUSH_LOCAL_KEY, JSON.stringify(p));
    else s.removeItem(PUSH_LOCAL_KEY);
  } catch {
    /* storage full or blocked: push then resubscribes on the next enable */
  }
}

/** The next connection must send push.subscribe: enabled, and the browser's endpoint is not the one sent. */
export function needsResend(local: PushLocal, current: PushSubscriptionWire | null): boolean {
  return local.enabled && current !== null && current.endpoint !== local.sent;
}
