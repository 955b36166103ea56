// App shell: pairing vs. the two-pane shell, hash routes (`#/`, `#/t/<id>`), the connection sheet,
// notices and the screen-reader live region.
import { useEffect, useState } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import { formatRoute, LIST_ROUTE, parseRoute, planNavigation, resolveThreadRoute, type Route } from '../core/routes';
import { useClientState, useVisualViewport } from './hooks';
import { PairScreen } from './Pair';
import { Sidebar } from './Sidebar';
import { ConnectionBanner, ConnectionSheet, StatusBar } from './Status';
import { ThreadView } from './Thread';
import { E2eeBadge } from './E2eeBadge';
import type { PushController } from '../core/pushController';

export function App({ client, pageOrigin, defaultDeviceName, push }: { client: RemoteClient; pageOrigin: string; defaultDeviceName: string; push?: PushController }) {
  const s = useClientState(client);
  useVisualViewport();
  const [announcement, setAnnouncement] = useState('');
  const showPair = !s.paired || s.pair.link !== null || s.pair.status !== 'idle';
  return (
    <div class="app" data-phase={s.phase}>
      {showPair ? <PairScreen client={client} s={s} pageOrigin={pageOrigin} defaultDeviceName={defaultDeviceName} /> : <Shell client={client} s={s} announce={setAnnouncement} push={push} />}
      <Notices client={client} s={s} />
      <div class="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {announcement}
      </div>
    </div>
  );
}

const ourEntry = () => (history.state as { rc?: boolean } | null)?.rc === true;

/** The route from the address bar, applied to the client's open thread; navigate() keeps Back working. */
function useRoute(client: RemoteClient, s: ClientState): [Route, (r: Route) => void] {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  useEffect(() => {
    const sync = () => setRoute(parseRoute(location.hash));
    window.addEventListener('popstate', sync);
    window.addEventListener('hashchange', sync);
    return () => {
      window.removeEventListener('popstate', sync);
      window.removeEventListener('hashchange', sync);
    };
  }, []);
  const d = s.data;
  useEffect(() => {
    const r = resolveThreadRoute(route, d.threads.map((t) => t.id), d.snapshotCount);
    if (r === 'open' && route.view === 'thread' && d.openThreadID !== route.threadID) client.openThread(route.threadID);
    else if (r === 'list' && d.openThreadID !== null) client.openThread(null);
    else if (r === 'missing') {
      history.replaceState(null, '', formatRoute(LIST_ROUTE));
      setRoute(LIST_ROUTE);
      if (d.openThreadID !== null) client.openThread(null);
    }
  }, [route, d.threads, d.snapshotCount, d.openThreadID]);
  const navigate = (next: Route) => {
    switch (planNavigation(route, next, ourEntry())) {
      case 'none':
        return;
      case 'back':
        history.back(); // popstate brings the route
        return;
      case 'push':
        history.pushState({ rc: true }, '', formatRoute(next));
        break;
      case 'replace':
        history.replaceState(history.state, '', formatRoute(next));
        break;
    }
    setRoute(next);
  };
  return [route, navigate];
}

function Shell({ client, s, announce, push }: { client: RemoteClient; s: ClientState; announce: (t: string) => void; push?: PushController }) {
  const d = s.data;
  const [route, navigate] = useRoute(client, s);
  const [sheet, setSheet] = useState(false);
  const openID = route.view === 'thread' ? route.threadID : null;
  const open = openID ? d.threads.find((t) => t.id === openID) ?? null : null;
  const waiting = openID !== null && !open && d.snapshotCount === 0;

  return (
    <div class={`shell ${open || waiting ? 'has-open' : ''}`}>
      <header class="topbar">
        <div class="brand">
          <img src="icons/icon.svg" alt="" width={22} height={22} />
          <span class="ellipsis">{s.desktopName ?? 'Remote Control'}</span>
        </div>
        <StatusBar s={s} onOpen={() => setSheet(true)} />
        <E2eeBadge e2ee={s.e2ee} />
      </header>
      <ConnectionBanner client={client} s={s} />
      <div class="panes">
        <nav class="sidebar" aria-label="Projects and threads">
          <Sidebar client={client} s={s} onOpen={(id) => navigate({ view: 'thread', threadID: id })} />
        </nav>
        <main class="main" aria-label="Thread">
          {open ? (
            <ThreadView key={open.id} client={client} s={s} thread={open} onBack={() => navigate(LIST_ROUTE)} announce={announce} />
          ) : (
            <div class="empty">
              {waiting ? <p>Opening the thread…</p> : d.snapshotCount === 0 ? <p>Waiting for the desktop to send its threads…</p> : <p>Pick a thread to follow the agent.</p>}
            </div>
          )}
        </main>
      </div>
      {sheet && <ConnectionSheet client={client} s={s} onClose={() => setSheet(false)} push={push} />}
    </div>
  );
}

function Notices({ client, s }: { client: RemoteClient; s: ClientState }) {
  useEffect(() => {
    if (s.notices.length === 0) return;
    const oldest = s.notices[0];
    const h = setTimeout(() => client.dismissNotice(oldest.id), 6000);
    return () => clearTimeout(h);
  }, [s.notices, client]);
  if (s.notices.length === 0) return null;
  return (
    <div class="notices" role="status" aria-live="polite">
      {s.notices.map((n) => (
        <div key={n.id} class={`notice n-${n.level}`} data-testid="notice" onClick={() => client.dismissNotice(n.id)}>
          {n.text}
        </div>
      ))}
    </div>
  );
}
