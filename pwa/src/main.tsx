import { render } from 'preact';
import { RemoteClient, type SocketLike } from './core/client';
import { parseJoinLink } from './core/joinLink';
import { deviceNameFromUserAgent } from './core/storage';
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
render(<App client={client} pageOrigin={location.origin} defaultDeviceName={deviceNameFromUserAgent(navigator.userAgent)} />, root);

client.start();
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') client.onVisible();
});
window.addEventListener('online', () => client.onOnline());
window.setInterval(() => client.tick(), 5000);

// Test hook (read-only view of state) used by the browser e2e.
(window as unknown as { __remote?: RemoteClient }).__remote = client;

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js').catch(() => undefined);
  });
}
