// The service worker's push side (issue 14), as pure functions over minimal structural types so
// vitest runs them without a browser; sw/sw.js only wires them to `push`, `notificationclick` and
// `pushsubscriptionchange`. Self-contained on purpose (no app imports): it is bundled into sw.js.

export type NotifyKind = 'approval' | 'turn' | 'pairing';
/** What the desktop pushes (decrypted by the browser): docs/PUSH.md. */
export interface PushPayload {
  v: 1;
  kind: NotifyKind;
  threadID?: string;
  title: string;
  body: string;
  ts: number;
}

const KINDS: readonly string[] = ['approval', 'turn', 'pairing'];
const THREAD_RE = /^[A-Za-z0-9_:-]{1,128}$/; // protocol.ts COMPACT_ID_RE
const MAX_TITLE = 120;
const MAX_BODY = 400;
const MAX_PAYLOAD = 4096; // a web push record carries at most ~4 KB

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Strict decode; anything off (not JSON, unknown version/kind, wrong types) is null. */
export function parsePushPayload(text: string | null | undefined): PushPayload | null {
  if (typeof text !== 'string' || text.length > MAX_PAYLOAD) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (o.v !== 1 || typeof o.kind !== 'string' || !KINDS.includes(o.kind)) return null;
  if (typeof o.title !== 'string' || o.title.trim() === '' || typeof o.body !== 'string') return null;
  if (typeof o.ts !== 'number' || !Number.isFinite(o.ts) || o.ts < 0) return null;
  if (o.threadID !== undefined && (typeof o.threadID !== 'string' || !THREAD_RE.test(o.threadID))) return null;
  const p: PushPayload = { v: 1, kind: o.kind as NotifyKind, title: o.title, body: o.body, ts: o.ts };
  if (o.threadID !== undefined) p.threadID = o.threadID as string;
  return p;
}

export interface NotificationPlan {
  title: string;
  options: { body: string; tag: string; timestamp: number; data: { threadID: string | null; kind: string }; icon: string; badge: string };
}

/** One notification per thread per kind (the tag collapses bursts); a bad payload still notifies, generically. */
export function notificationFor(p: PushPayload | null, now: number): NotificationPlan {
  const icon = 'icons/icon-192.png';
  if (!p)
    return {
      title: 'Remote Control',
      options: { body: 'Your agent needs you.', tag: 'rc-generic', timestamp: now, data: { threadID: null, kind: 'generic' }, icon, badge: icon },
    };
  return {
    title: clip(p.title, MAX_TITLE),
    options: {
      body: clip(p.body, MAX_BODY),
      tag: `${p.kind}:${p.threadID ?? ''}`,
      timestamp: p.ts,
      data: { threadID: p.threadID ?? null, kind: p.kind },
      icon,
      badge: icon,
    },
  };
}

/** The app's hash route for a notification's data (routes.ts: `#/t/<id>`), else the list. */
export function routeFor(data: unknown): string {
  const id = (data as { threadID?: unknown } | null)?.threadID;
  return typeof id === 'string' && THREAD_RE.test(id) ? `#/t/${encodeURIComponent(id)}` : '#/';
}

export interface WindowClientLike {
  url: string;
  focused?: boolean;
  visibilityState?: string;
  focus(): Promise<unknown>;
  postMessage(m: unknown): void;
}
export interface ClientsLike {
  matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<readonly WindowClientLike[]>;
  openWindow(url: string): Promise<unknown>;
}
export const OPEN_MESSAGE = 'rc.push.open';
export const CHANGED_MESSAGE = 'rc.push.changed';

/** notificationclick: focus an open app window and route it, else open the app on the route. */
export async function onNotificationClick(data: unknown, clients: ClientsLike, scope: string): Promise<'focused' | 'opened'> {
  const route = routeFor(data);
  const all = await clients.matchAll({ type: 'window', includeUncontrolled: true });
  const mine = all.filter((c) => c.url.startsWith(scope));
  const target = mine.find((c) => c.focused) ?? mine.find((c) => c.visibilityState === 'visible') ?? mine[0];
  if (target) {
    target.postMessage({ type: OPEN_MESSAGE, route });
    await target.focus().catch(() => undefined); // only allowed while handling a real click
    return 'focused';
  }
  await clients.openWindow(new URL(route, scope).href);
  return 'opened';
}

export interface PushManagerLikeSW {
  subscribe(o: { userVisibleOnly: boolean; applicationServerKey: ArrayBuffer | Uint8Array }): Promise<unknown>;
}

/**
 * pushsubscriptionchange: subscribe again with the old key when the browser did not already, then
 * tell every open window; the app sends push.subscribe on its next connection (endpoint changed).
 */
export async function onSubscriptionChange(
  ev: { newSubscription?: unknown; oldSubscription?: { options?: { applicationServerKey?: ArrayBuffer | null } } | null },
  pm: PushManagerLikeSW,
  clients: ClientsLike,
): Promise<boolean> {
  let renewed = !!ev.newSubscription;
  const key = ev.oldSubscription?.options?.applicationServerKey;
  if (!renewed && key) renewed = await pm.subscribe({ userVisibleOnly: true, applicationServerKey: key }).then(() => true, () => false);
  for (const c of await clients.matchAll({ type: 'window', includeUncontrolled: true })) c.postMessage({ type: CHANGED_MESSAGE, renewed });
  return renewed;
}
