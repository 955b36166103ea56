import { render } from 'preact';
import { RemoteClient, type SocketLike } from './core/client';
import { parseJoinLink } from './core/joinLink';
import { PushController } from './core/pushController';
import { CHANGED_MESSAGE, OPEN_MESSAGE } from './core/pushNotify';
import { formatRoute, parseRoute } from './core/routes';
import { deviceNameFromUserAgent } from './core/storage';
import { isIOS, isStandalone } from './ui/hooks';
import { App } from './ui/App';
import './ui/style.css';

const client = new RemoteClient({
  storage: window.localStorage,
  createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
  fetch: (url, init) => window.fetch(url, init),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
  now: () => Date.now(),
  random: () => Math.random(),
});

// Web push (issue 14): the permission is only asked from the settings' button (PushController.enable).
const sw = 'serviceWorker' in navigator ? navigator.serviceWorker : null;
const push = new PushController(
  client,
  {
    env: () => ({
      secure: window.isSecureContext,
      serviceWorker: sw !== null,
      pushManager: 'PushManager' in window,
      notification: 'Notification' in window,
      ios: isIOS(),
      standalone: isStandalone(),
    }),
    permission: () => Notification.permission,
    requestPermission: () => Notification.requestPermission(),
    pushManager: () =>
      sw
        ? Promise.race([sw.ready.then((r) => r.pushManager), new Promise<null>((r) => window.setTimeout(() => r(null), 5000))])
        : Promise.resolve(null),
    visible: () => document.visibilityState === 'visible',
  },
  window.localStorage,
);
// The service worker routes a tapped notification here, and reports a renewed subscription.
sw?.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as { type?: unknown; route?: unknown } | null;
  if (m?.type === OPEN_MESSAGE && typeof m.route === 'string') location.hash = formatRoute(parseRoute(m.route));
  else if (m?.type === CHANGED_MESSAGE) void push.resendIfChanged();
});
sw?.startMessages();

// Join link in the fragment (or query): consume it, then remove it from the address bar (§9).
function consumeJoinLink(): void {
  const link = parseJoinLink(location.hash) ?? parseJoinLink(location.search);
  if (!link) return;
  client.offerJoinLink(link, location.origin);
  history.replaceState(null, '', location.pathname);
}
consumeJoinLink();
window.addEventListener('hashchange', consumeJoinLink);

const root = document.getElementById('app')!;
root.replaceChildren(); // drop the static boot card of index.html
render(<App client={client} pageOrigin={location.origin} defaultDeviceName={deviceNameFromUserAgent(navigator.userAgent)} push={push} />, root);

client.start();
document.addEventListener('visibilitychange', () => {
  const visible = document.visibilityState === 'visible';
  if (visible) client.onVisible();
  push.sendVisibility(visible);
});
window.addEventListener('online', () => client.onOnline());
window.setInterval(() => client.tick(), 5000);

// Test hook (read-only view of state) used by the browser e2e.
(window as unknown as { __remote?: RemoteClient; __push?: PushController }).__remote = client;
(window as unknown as { __push?: PushController }).__push = push;

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js').catch(() => undefined);
  });
}
