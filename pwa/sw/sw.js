/* Service worker: caches the app shell ONLY. Relay API calls (/pair/*, /devices/*), the
 * WebSocket, and anything cross-origin are never cached or intercepted.
 * The version and precache list are filled in at build time (vite.config.ts, which bundles and
 * minifies this file with esbuild). */
import { notificationFor, onNotificationClick, onSubscriptionChange, parsePushPayload } from '../src/core/pushNotify';

const VERSION = __VERSION__;
const CACHE = `remote-shell-${VERSION}`;
const PRECACHE = __PRECACHE__;
const API_PATH = /\/(pair|devices|ws|healthz|metricsz)(\/|$)/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(PRECACHE.map((p) => new Request(p, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('remote-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return; // relay on another origin: untouched
  const scope = new URL(self.registration.scope);
  if (!url.pathname.startsWith(scope.pathname)) return;
  if (API_PATH.test(url.pathname.slice(scope.pathname.length - 1))) return; // relay on same origin
  if (req.headers.get('upgrade')) return;

  if (req.mode === 'navigate') {
    // Network first so a deploy is picked up; fall back to the cached shell offline.
    event.respondWith(
      fetch(req).catch(() => caches.match(new URL('./index.html', scope).href).then((r) => r || caches.match(scope.href))),
    );
    return;
  }
  const shellPath = url.pathname.slice(scope.pathname.length);
  if (!PRECACHE.includes('./' + shellPath)) return; // only shell files are served from cache
  event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
});

// ---------- web push (issue 14): handlers are pure functions in src/core/pushNotify.ts ----------
/** waitUntil throws on an untrusted (synthetic) event; the work still runs. */
const keepAlive = (event, p) => {
  try {
    event.waitUntil(p);
  } catch {
    /* not a trusted event */
  }
  return p;
};

self.addEventListener('push', (event) => {
  let text = null;
  try {
    text = event.data ? event.data.text() : null;
  } catch {
    text = null;
  }
  const n = notificationFor(parsePushPayload(text), Date.now());
  keepAlive(event, self.registration.showNotification(n.title, n.options).catch(() => undefined));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  keepAlive(event, onNotificationClick(event.notification.data, self.clients, self.registration.scope).catch(() => undefined));
});

self.addEventListener('pushsubscriptionchange', (event) => {
  keepAlive(event, onSubscriptionChange(event, self.registration.pushManager, self.clients).catch(() => undefined));
});
