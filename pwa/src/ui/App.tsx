import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { E2eeBadge } from './E2eeBadge';
import type { ClientState, RemoteClient } from '../core/client';
import { parseJoinLink } from '../core/joinLink';
import { MAX_COMMAND_TEXT_BYTES, utf8Bytes, type Message, type RuntimeRequest, type Thread } from '../core/protocol';
import { isNegativeOption } from '../core/runtimeResponse';
import { threadMessages } from '../core/snapshotMerge';

const INITIAL_RENDER = 90;

function useClientState(client: RemoteClient): ClientState {
  const [s, setS] = useState(client.state);
  useEffect(() => client.subscribe(setS), [client]);
  return s;
}

function useNow(periodMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const h = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(h);
  }, [periodMs]);
  return now;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function App({ client, pageOrigin, defaultDeviceName }: { client: RemoteClient; pageOrigin: string; defaultDeviceName: string }) {
  const s = useClientState(client);
  const showPair = !s.paired || s.pair.link !== null || s.pair.status !== 'idle';
  return (
    <div class="app" data-phase={s.phase}>
      {showPair ? (
        <PairScreen client={client} s={s} pageOrigin={pageOrigin} defaultDeviceName={defaultDeviceName} />
      ) : (
        <Shell client={client} s={s} />
      )}
      <Notices client={client} s={s} />
    </div>
  );
}

// ---------------- pairing ----------------
function PairScreen({ client, s, pageOrigin, defaultDeviceName }: { client: RemoteClient; s: ClientState; pageOrigin: string; defaultDeviceName: string }) {
  const [name, setName] = useState(defaultDeviceName);
  const [paste, setPaste] = useState('');
  const [pasteError, setPasteError] = useState('');
  const now = useNow(1000);
  const { pair } = s;

  const usePasted = (e: Event) => {
    e.preventDefault();
    const link = parseJoinLink(paste);
    if (!link) {
      setPasteError('That does not look like a Remote Control link (it needs #sid=…&jt=…).');
      return;
    }
    setPasteError('');
    setPaste('');
    client.offerJoinLink(link, pageOrigin);
  };

  return (
    <main class="pair" data-testid="pair-screen">
      <div class="pair-card">
        <img class="logo" src="icons/icon.svg" alt="" width={56} height={56} />
        <h1>Remote Control</h1>

        {s.terminal && !pair.link && (
          <div class={`banner ${s.phase === 'revoked' ? 'danger' : 'warn'}`} data-testid="terminal-state" data-reason={s.terminal.reason}>
            <strong>{s.phase === 'revoked' ? 'This phone was removed' : 'Session ended'}</strong>
            <p>{s.terminal.text}</p>
            <p>To reconnect, open Remote Control on the desktop, choose “Add device”, and scan or open the new link on this phone.</p>
          </div>
        )}

        {pair.link ? (
          <section>
            {pair.status === 'waiting' ? (
              <div class="waiting" data-testid="pair-waiting">
                <div class="spinner" aria-hidden="true" />
                <h2>Waiting for desktop approval</h2>
                <p>
                  On your desktop, approve <strong>“{name.trim() || 'Mobile Device'}”</strong>. This can take up to a minute.
                </p>
                <p class="muted">{pair.startedAt ? `Waiting ${Math.max(0, Math.round((now - pair.startedAt) / 1000))} s` : ""}</p>
                <button class="btn ghost" onClick={() => client.cancelJoinLink()}>
                  Cancel
                </button>
              </div>
            ) : (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  void client.pair(name);
                }}
              >
                <p>
                  Pair this phone with the desktop session at <span class="mono">{pair.relayBaseURL}</span>.
                </p>
                {s.paired && <p class="muted">This replaces the current pairing on this phone.</p>}
                <label>
                  Device name
                  <input value={name} maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
                </label>
                {pair.error && (
                  <div class="banner danger" data-testid="pair-error" data-code={pair.error.code}>
                    <strong>{pair.error.title}</strong>
                    <p>{pair.error.message}</p>
                  </div>
                )}
                <div class="row">
                  <button class="btn primary" type="submit" data-testid="pair-button">
                    {pair.error ? 'Try again' : 'Pair'}
                  </button>
                  <button class="btn ghost" type="button" onClick={() => client.cancelJoinLink()}>
                    {s.paired ? 'Back' : 'Cancel'}
                  </button>
                </div>
              </form>
            )}
          </section>
        ) : (
          <section>
            {!s.terminal && <p>Open the link shown by Remote Control on your desktop, or scan its QR code with this phone’s camera.</p>}
            <form onSubmit={usePasted} class="paste">
              <label>
                Or paste the link here
                <textarea
                  rows={3}
                  value={paste}
                  placeholder="https://…#sid=…&jt=…"
                  data-testid="paste-link"
                  onInput={(e) => setPaste((e.target as HTMLTextAreaElement).value)}
                />
              </label>
              {pasteError && <p class="error">{pasteError}</p>}
              <button class="btn" type="submit" disabled={paste.trim() === ''}>
                Use link
              </button>
            </form>
          </section>
        )}
      </div>
    </main>
  );
}

// ---------------- status ----------------
function connectionLabel(s: ClientState): { text: string; tone: 'ok' | 'warn' | 'bad' } {
  switch (s.phase) {
    case 'online':
      if (s.desktopConnected === false) return { text: 'Desktop offline', tone: 'warn' };
      return s.stale ? { text: 'Connected · no recent sync', tone: 'warn' } : { text: 'Connected', tone: 'ok' };
    case 'connecting':
    case 'authenticating':
      return { text: s.attempt > 0 ? 'Reconnecting…' : 'Connecting…', tone: 'warn' };
    case 'reconnecting':
      return { text: 'Reconnecting…', tone: 'warn' };
    case 'revoked':
      return { text: 'Revoked', tone: 'bad' };
    case 'ended':
      return { text: 'Session ended', tone: 'bad' };
    default:
      return { text: 'Not paired', tone: 'bad' };
  }
}

function StatusBar({ client, s }: { client: RemoteClient; s: ClientState }) {
  const now = useNow(1000);
  const label = connectionLabel(s);
  return (
    <div class="status" data-testid="status" data-state={s.phase} data-desktop={String(s.desktopConnected)}>
      <div class="status-line">
        <span class={`dot ${label.tone}`} aria-hidden="true" />
        <span class="status-text" data-testid="status-text">
          {label.text}
        </span>
      </div>
      <div class="status-line muted small">
        {s.phase === 'reconnecting' && s.nextRetryAt !== null ? (
          <span>
            retry in {Math.max(0, Math.ceil((s.nextRetryAt - now) / 1000))} s ·{' '}
            <button class="link" onClick={() => client.retryNow()}>
              Retry now
            </button>
          </span>
        ) : (
          <span data-testid="last-synced">{s.lastSyncedAt ? `Synced ${ago(now - s.lastSyncedAt)}` : 'Not synced yet'}</span>
        )}
      </div>
    </div>
  );
}

// ---------------- shell ----------------
function Shell({ client, s }: { client: RemoteClient; s: ClientState }) {
  const d = s.data;
  const open = d.openThreadID ? d.threads.find((t) => t.id === d.openThreadID) ?? null : null;

  useEffect(() => {
    const onPop = () => {
      if (client.state.data.openThreadID) client.openThread(null);
    };
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, [client]);

  const openThread = (id: string) => {
    if (!client.state.data.openThreadID && window.matchMedia('(max-width: 699px)').matches) {
      history.pushState({ thread: id }, '');
    }
    client.openThread(id);
  };
  const back = () => {
    if (history.state && (history.state as { thread?: string }).thread) history.back();
    else client.openThread(null);
  };

  return (
    <div class={`shell ${open ? 'has-open' : ''}`}>
      <header class="topbar">
        <div class="brand">
          <img src="icons/icon.svg" alt="" width={22} height={22} />
          <span class="ellipsis">{s.desktopName ?? 'Remote Control'}</span>
        </div>
        <StatusBar client={client} s={s} />
        <E2eeBadge e2ee={s.e2ee} />
      </header>
      <div class="panes">
        <aside class="sidebar" aria-label="Projects and threads">
          <Sidebar client={client} s={s} onOpen={openThread} />
        </aside>
        <section class="main" aria-label="Thread">
          {open ? <ThreadView key={open.id} client={client} s={s} thread={open} onBack={back} /> : <EmptyMain s={s} />}
        </section>
      </div>
    </div>
  );
}

function EmptyMain({ s }: { s: ClientState }) {
  return (
    <div class="empty">
      {s.data.snapshotCount === 0 ? <p>Waiting for the desktop to send its threads…</p> : <p>Pick a thread to follow the agent.</p>}
    </div>
  );
}

function Sidebar({ client, s, onOpen }: { client: RemoteClient; s: ClientState; onOpen: (id: string) => void }) {
  const d = s.data;
  const pendingByThread = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of d.pendingRuntimeRequests) if (r.threadID) m.set(r.threadID, (m.get(r.threadID) ?? 0) + 1);
    return m;
  }, [d.pendingRuntimeRequests]);
  const threads = d.threads.filter((t) => d.projectFilter === 'all' || t.projectID === d.projectFilter);
  const sorted = [...threads.filter((t) => t.isPinned), ...threads.filter((t) => !t.isPinned)];
  const projectName = (id: string) => d.projects.find((p) => p.id === id)?.name ?? '';
  const orphanRequests = d.pendingRuntimeRequests.filter((r) => !r.threadID || !d.threads.some((t) => t.id === r.threadID));
  const queued = s.outgoing.filter((o) => o.status === 'queued').length;

  return (
    <div class="sidebar-inner">
      {queued > 0 && (
        <div class="banner warn small" data-testid="queue-banner">
          {queued} message{queued === 1 ? '' : 's'} waiting to send.{' '}
          <button class="link" onClick={() => client.discardQueued()}>
            Discard
          </button>
        </div>
      )}
      {d.projects.length > 0 && (
        <nav class="chips" aria-label="Projects" data-testid="projects">
          <button class={`chip ${d.projectFilter === 'all' ? 'on' : ''}`} onClick={() => client.setProjectFilter('all')}>
            All
          </button>
          {d.projects.map((p) => (
            <button key={p.id} class={`chip ${d.projectFilter === p.id ? 'on' : ''}`} onClick={() => client.setProjectFilter(p.id)} data-testid="project-chip">
              {p.name}
            </button>
          ))}
        </nav>
      )}
      {orphanRequests.length > 0 && (
        <div class="orphans">
          {orphanRequests.map((r) => (
            <ApprovalCard key={r.requestID} client={client} s={s} req={r} />
          ))}
        </div>
      )}
      <ul class="threads" data-testid="thread-list">
        {sorted.length === 0 && <li class="muted pad">{d.snapshotCount === 0 ? 'Loading threads…' : 'No threads.'}</li>}
        {sorted.map((t) => (
          <ThreadRow
            key={t.id}
            t={t}
            active={t.id === d.openThreadID}
            project={d.projectFilter === 'all' ? projectName(t.projectID) : ''}
            running={!!d.running[t.id]}
            unread={!!d.unread[t.id]}
            pending={pendingByThread.get(t.id) ?? 0}
            last={(d.buckets[t.id] ?? []).at(-1)}
            onOpen={onOpen}
          />
        ))}
      </ul>
      <footer class="sidebar-foot">
        <span class="muted small">{s.paired?.deviceName}</span>
        <button
          class="link small"
          onClick={() => {
            if (confirm('Forget this desktop? You will need a new link to pair again.')) client.forget();
          }}
        >
          Forget desktop
        </button>
      </footer>
    </div>
  );
}

function ThreadRow(p: { t: Thread; active: boolean; project: string; running: boolean; unread: boolean; pending: number; last?: Message; onOpen: (id: string) => void }) {
  return (
    <li>
      <button class={`thread-row ${p.active ? 'active' : ''}`} onClick={() => p.onOpen(p.t.id)} data-testid="thread-row" data-thread-id={p.t.id}>
        <div class="thread-title">
          {p.t.isPinned && (
            <svg class="pin" viewBox="0 0 16 16" width="14" height="14" aria-label="Pinned">
              <path d="M10 1l5 5-2 1-3 3 .5 3.5L9 15l-3-3-4 4-1-1 4-4-3-3 1.5-1.5L7 6l3-3z" fill="currentColor" />
            </svg>
          )}
          <span class={p.unread ? 'bold' : ''}>{p.t.title || 'Untitled'}</span>
          {p.unread && <span class="badge dot-badge" aria-label="unread" />}
        </div>
        <div class="thread-meta">
          {p.running && <span class="pill run">running</span>}
          {p.pending > 0 && <span class="pill warn">{p.pending} approval{p.pending === 1 ? '' : 's'}</span>}
          {p.project && <span class="muted">{p.project}</span>}
          {p.last && <span class="muted snippet">{p.last.text.slice(0, 80)}</span>}
        </div>
      </button>
    </li>
  );
}

// ---------------- thread ----------------
function ThreadView({ client, s, thread, onBack }: { client: RemoteClient; s: ClientState; thread: Thread; onBack: () => void }) {
  const d = s.data;
  const all = threadMessages(d, thread.id);
  const [showAll, setShowAll] = useState(false);
  const msgs = showAll ? all : all.slice(-INITIAL_RENDER);
  const running = !!d.running[thread.id];
  const requests = d.pendingRuntimeRequests.filter((r) => r.threadID === thread.id);
  const outgoing = s.outgoing.filter((o) => o.threadID === thread.id && o.name === 'thread.send_message');
  const listRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const lastKey = `${all.length}:${all.at(-1)?.text.length ?? 0}:${outgoing.length}:${requests.length}`;
  useEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lastKey]);

  return (
    <div class="thread" data-testid="thread-view" data-thread-id={thread.id}>
      <div class="thread-head">
        <button class="back" onClick={onBack} aria-label="Back to threads" data-testid="back">
          ‹
        </button>
        <div class="thread-head-title">
          <h2>{thread.title || 'Untitled'}</h2>
          <span class={`turn ${running ? 'running' : 'idle'}`} data-testid="turn-status" data-running={String(running)}>
            {running ? (d.reasoning[thread.id] === 'started' ? 'Thinking…' : 'Running…') : 'Idle'}
          </span>
        </div>
      </div>
      <div
        class="messages"
        ref={listRef}
        data-testid="messages"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {!showAll && all.length > INITIAL_RENDER && (
          <button class="link center" onClick={() => setShowAll(true)}>
            Show {all.length - INITIAL_RENDER} earlier messages
          </button>
        )}
        {all.length === 0 && <p class="muted center">No messages yet.</p>}
        {msgs.map((m) => (
          <MessageBubble key={m.id} m={m} />
        ))}
        {outgoing.map((o) => (
          <div key={o.commandID} class="msg user pending" data-testid="pending-message" data-status={o.status}>
            <div class="bubble">{o.text}</div>
            <div class="meta">{o.status === 'queued' ? 'Queued — sends when reconnected' : 'Sending…'}</div>
          </div>
        ))}
        {running && (
          <div class="typing" aria-label="Agent is working">
            <span />
            <span />
            <span />
          </div>
        )}
        {requests.map((r) => (
          <ApprovalCard key={r.requestID} client={client} s={s} req={r} />
        ))}
      </div>
      <Composer client={client} s={s} thread={thread} />
    </div>
  );
}

function MessageBubble({ m }: { m: Message }) {
  return (
    <div class={`msg ${m.role}`} data-testid="message" data-role={m.role} data-message-id={m.id}>
      <div class="bubble">{m.text}</div>
      {m.role !== 'system' && <div class="meta">{timeOf(m.createdAt)}</div>}
    </div>
  );
}

function Composer({ client, s, thread }: { client: RemoteClient; s: ClientState; thread: Thread }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const bytes = utf8Bytes(text);
  const tooLong = bytes > MAX_COMMAND_TEXT_BYTES;
  const offline = s.phase !== 'online' || s.desktopConnected === false;
  const send = () => {
    if (text.trim() === '' || tooLong) return;
    const r = client.sendMessage(thread.id, text);
    if (r.ok) {
      setText('');
      setError('');
    } else setError(r.error);
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {error && <p class="error small">{error}</p>}
      {tooLong && <p class="error small">Message is too long ({bytes} / {MAX_COMMAND_TEXT_BYTES} bytes).</p>}
      <div class="composer-row">
        <textarea
          rows={1}
          value={text}
          placeholder={offline ? 'Offline — messages will be queued' : 'Message the agent'}
          data-testid="composer-input"
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button class="btn primary" type="submit" disabled={text.trim() === '' || tooLong} data-testid="send-button">
          {offline ? 'Queue' : 'Send'}
        </button>
      </div>
    </form>
  );
}

function ApprovalCard({ client, s, req }: { client: RemoteClient; s: ClientState; req: RuntimeRequest }) {
  const [text, setText] = useState('');
  const [choice, setChoice] = useState('');
  const [error, setError] = useState('');
  const inFlight = s.outgoing.some((o) => o.runtimeRequestID === req.requestID);
  const needsText = req.kind === 'userInput' || req.kind === 'mcpElicitation';
  const options = req.responseOptions.length > 0 ? req.responseOptions : [{ id: 'submit', label: 'Submit' }, { id: 'cancel', label: 'Cancel' }];
  const respond = (optionID: string) => {
    const r = client.respondToRuntimeRequest(req, optionID, { text, choiceID: choice });
    setError(r.ok ? '' : r.error);
  };
  return (
    <div class="approval" data-testid="approval-card" data-request-id={req.requestID} data-kind={req.kind}>
      <div class="approval-title">{req.title}</div>
      {req.summary && req.summary !== req.title && <div class="approval-summary">{req.summary}</div>}
      {req.toolName && <div class="muted small">Tool: {req.toolName}</div>}
      {req.permissions.length > 0 && (
        <ul class="perms">
          {req.permissions.map((p) => (
            <li key={p} class="mono small">
              {p}
            </li>
          ))}
        </ul>
      )}
      {s.canRespond ? (
        <>
          {req.kind === 'userInput' && req.options.length > 0 && (
            <div class="choices">
              {req.options.map((o) => (
                <label key={o.id} class="choice">
                  <input type="radio" name={`c-${req.requestID}`} checked={choice === o.id} onChange={() => setChoice(o.id)} />
                  {o.label}
                  {o.description && <span class="muted small"> — {o.description}</span>}
                </label>
              ))}
            </div>
          )}
          {needsText && <textarea rows={2} value={text} placeholder="Your answer" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />}
          <div class="row wrap">
            {options.map((o) => (
              <button
                key={o.id}
                class={`btn ${isNegativeOption(o.id) ? 'ghost' : 'primary'}`}
                disabled={inFlight}
                onClick={() => respond(o.id)}
                data-testid="approval-option"
                data-option-id={o.id}
              >
                {o.label}
              </button>
            ))}
          </div>
          {inFlight && <p class="muted small">Sending response…</p>}
          {error && <p class="error small">{error}</p>}
        </>
      ) : (
        <p class="muted small" data-testid="approval-readonly">
          Answer this on the desktop, or enable remote approvals there to answer from this phone.
        </p>
      )}
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
