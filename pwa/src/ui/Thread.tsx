// The open thread: paged transcript (50 at a time, "show earlier" keeps the first visible
// message in place, "jump to latest"), system-message toggle, live announcements, stop button
// and the composer.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import { classifyMessage, previewText, visibleMessages } from '../core/messageKind';
import { anchoredScrollTop, isNearBottom, pageWindow, showEarlier, unseenCount } from '../core/paging';
import { MAX_COMMAND_TEXT_BYTES, utf8Bytes, type Thread } from '../core/protocol';
import { threadMessages } from '../core/snapshotMerge';
import { ApprovalCard } from './Approval';
import { MessageItem } from './Message';

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
export const SEND_SHORTCUT = isMac ? '⌘ Enter' : 'Ctrl Enter';

interface Anchor {
  id: string;
  top: number;
  scrollTop: number;
}

function topOf(list: HTMLElement, id: string): number | null {
  const el = list.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(id)}"]`);
  return el ? el.getBoundingClientRect().top - list.getBoundingClientRect().top : null;
}

export function ThreadView({ client, s, thread, onBack, announce }: { client: RemoteClient; s: ClientState; thread: Thread; onBack: () => void; announce: (text: string) => void }) {
  const d = s.data;
  const all = threadMessages(d, thread.id);
  const [showSystem, setShowSystem] = useState(false);
  const visible = useMemo(() => visibleMessages(all, showSystem), [all, showSystem]);
  const hiddenCount = all.length - visibleMessages(all, false).length;
  const ids = useMemo(() => visible.map((m) => m.id), [visible]);
  const [firstID, setFirstID] = useState<string | null>(null);
  const win = pageWindow(ids, firstID);
  const shown = visible.slice(win.start);
  const running = !!d.running[thread.id];
  const canStop = running && d.capabilities.interrupt === true;
  const requests = d.pendingRuntimeRequests.filter((r) => r.threadID === thread.id);
  const outgoing = s.outgoing.filter((o) => o.threadID === thread.id && o.name === 'thread.send_message');
  const listRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const anchor = useRef<Anchor | null>(null);
  const [atBottom, setAtBottom] = useState(true);
  const [seenID, setSeenID] = useState<string | null>(null);
  const lastID = ids.at(-1) ?? null;
  const unseen = atBottom ? 0 : unseenCount(ids, seenID);

  // Show earlier: restore the anchor's on-screen offset after the page above was rendered.
  useLayoutEffect(() => {
    const el = listRef.current;
    const a = anchor.current;
    if (!el || !a) return;
    anchor.current = null;
    const top = topOf(el, a.id);
    if (top !== null) el.scrollTop = anchoredScrollTop(a.scrollTop, a.top, top);
  }, [firstID]);

  // Follow the tail while the reader is at the bottom.
  const lastKey = `${all.length}:${all.at(-1)?.text.length ?? 0}:${outgoing.length}:${requests.length}:${showSystem}`;
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
    if (stick.current) setSeenID(lastID);
  }, [lastKey]);

  // Announce new agent messages to screen readers (not the ones present when the thread opened).
  const lastAgent = [...all].reverse().find((m) => m.role === 'assistant');
  const announced = useRef(lastAgent?.id ?? null);
  useEffect(() => {
    if (!lastAgent || lastAgent.id === announced.current) return;
    announced.current = lastAgent.id;
    const v = classifyMessage(lastAgent);
    if (v.kind === 'markdown' || v.kind === 'diff') announce(`New message from the agent: ${previewText([lastAgent], 140)}`);
  }, [lastAgent?.id]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    const near = isNearBottom(el.scrollHeight, el.scrollTop, el.clientHeight);
    stick.current = near;
    if (near !== atBottom) setAtBottom(near);
    // Reading above the tail: pin the window so arriving messages do not slide it.
    if (!near && firstID === null && shown[0]) setFirstID(shown[0].id);
    if (near) setSeenID(lastID);
  };

  const earlier = () => {
    const el = listRef.current;
    const first = shown[0];
    if (el && first) {
      const top = topOf(el, first.id);
      if (top !== null) anchor.current = { id: first.id, top, scrollTop: el.scrollTop };
    }
    stick.current = false;
    setFirstID(showEarlier(ids, firstID));
  };

  const jump = () => {
    setFirstID(null);
    stick.current = true;
    setAtBottom(true);
    setSeenID(lastID);
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    requestAnimationFrame(() => {
      const e2 = listRef.current;
      if (e2) e2.scrollTop = e2.scrollHeight;
    });
  };

  return (
    <div class="thread" data-testid="thread-view" data-thread-id={thread.id}>
      <div class="thread-head">
        <button class="back" onClick={onBack} aria-label="Back to threads" data-testid="back">
          ‹
        </button>
        <div class="thread-head-title">
          <h2 id="thread-title">{thread.title || 'Untitled'}</h2>
          <span class={`turn ${running ? 'running' : 'idle'}`} data-testid="turn-status" data-running={String(running)}>
            {running ? (d.reasoning[thread.id] === 'started' ? 'Thinking…' : 'Running…') : 'Idle'}
          </span>
        </div>
        <div class="head-actions">
          {canStop && (
            <button class="btn danger small-btn" data-testid="stop-button" onClick={() => client.sendCommand('thread.interrupt', { threadID: thread.id })} aria-label="Stop the running turn">
              Stop
            </button>
          )}
          {hiddenCount > 0 || showSystem ? (
            <button class="chip" aria-pressed={showSystem} data-testid="system-toggle" onClick={() => setShowSystem(!showSystem)}>
              {showSystem ? 'Hide system' : `System (${hiddenCount})`}
            </button>
          ) : null}
        </div>
      </div>
      <div class="messages-wrap">
        <div class="messages" ref={listRef} data-testid="messages" onScroll={onScroll} role="log" aria-labelledby="thread-title" aria-live="off" tabIndex={0}>
          {win.earlier > 0 && (
            <button class="link center" onClick={earlier} data-testid="show-earlier">
              Show earlier ({win.earlier})
            </button>
          )}
          {win.earlier === 0 && d.capabilities.loadEarlier === true && (
            <button class="link center" onClick={() => client.sendCommand('thread.load_earlier', { threadID: thread.id })} data-testid="load-earlier">
              Load earlier messages from the desktop
            </button>
          )}
          {visible.length === 0 && <p class="muted center">No messages yet.</p>}
          {shown.map((m) => (
            <MessageItem key={m.id} m={m} />
          ))}
          {outgoing.map((o) => (
            <div key={o.commandID} class="msg user pending" data-testid="pending-message" data-status={o.status}>
              <div class="bubble">
                <div class="plain">{o.text}</div>
              </div>
              <div class="meta">{o.status === 'queued' ? 'Queued — sends when reconnected' : 'Sending…'}</div>
            </div>
          ))}
          {running && (
            <div class="typing" role="img" aria-label="Agent is working">
              <span />
              <span />
              <span />
            </div>
          )}
          {requests.map((r) => (
            <ApprovalCard key={r.requestID} client={client} s={s} req={r} />
          ))}
        </div>
        {(!atBottom || firstID !== null) && (
          <button class="jump" onClick={jump} data-testid="jump-latest" aria-label={unseen > 0 ? `Jump to latest, ${unseen} new` : 'Jump to latest'}>
            ↓ Latest{unseen > 0 ? ` · ${unseen} new` : ''}
          </button>
        )}
      </div>
      <Composer client={client} s={s} thread={thread} />
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
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
      {tooLong && (
        <p class="error small" role="alert">
          Message is too long ({bytes} / {MAX_COMMAND_TEXT_BYTES} bytes).
        </p>
      )}
      <div class="composer-row">
        <textarea
          rows={1}
          value={text}
          aria-label="Message to the agent"
          aria-describedby="send-hint"
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
      <p id="send-hint" class="hint muted small" data-testid="shortcut-hint">
        <kbd>{SEND_SHORTCUT}</kbd> to send
      </p>
    </form>
  );
}
