// Connection status: the top-bar label (opens the connection sheet), the sheet itself (session,
// last seq, desktop status, "resync now"), and the banners for a reconnecting relay or an
// offline desktop.
import { useEffect, useRef } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import { ago, connectionLabel, disconnectReasonText } from '../core/connectionText';
import { useNow } from './hooks';
import type { PushController } from '../core/pushController';
import { PushSettings } from './PushSettings';

function short(id: string | undefined | null): string {
  if (!id) return '—';
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
}

export function StatusBar({ s, onOpen }: { s: ClientState; onOpen: () => void }) {
  const now = useNow(1000);
  const label = connectionLabel(s);
  return (
    <button class="status" data-testid="status" data-state={s.phase} data-desktop={String(s.desktopConnected)} onClick={onOpen} aria-haspopup="dialog">
      <span class="status-line">
        <span class={`dot ${label.tone}`} aria-hidden="true" />
        <span class="status-text" data-testid="status-text">
          {label.text}
        </span>
        <span class="sr-only">, connection details</span>
      </span>
      <span class="status-line muted small">
        {s.phase === 'reconnecting' && s.nextRetryAt !== null ? (
          <span>retry in {Math.max(0, Math.ceil((s.nextRetryAt - now) / 1000))} s</span>
        ) : (
          <span data-testid="last-synced">{s.lastSyncedAt ? `Synced ${ago(now - s.lastSyncedAt)}` : 'Not synced yet'}</span>
        )}
      </span>
    </button>
  );
}

/** Relay reconnecting (with the reason) or desktop offline, each with an action. */
export function ConnectionBanner({ client, s }: { client: RemoteClient; s: ClientState }) {
  const reason = disconnectReasonText(s.disconnectReason);
  if (s.phase === 'reconnecting' || ((s.phase === 'connecting' || s.phase === 'authenticating') && s.attempt > 0)) {
    return (
      <div class="banner warn small conn-banner" role="status" data-testid="reconnect-banner" data-reason={s.disconnectReason ?? ''}>
        <span>
          <strong>Reconnecting.</strong> <span data-testid="disconnect-reason">{reason ?? 'The connection to the relay dropped.'}</span>
        </span>
        <button class="btn small-btn" onClick={() => client.retryNow()}>
          Retry now
        </button>
      </div>
    );
  }
  if (s.phase === 'online' && s.desktopConnected === false) {
    return (
      <div class="banner warn small conn-banner" role="status" data-testid="desktop-offline">
        <span>
          <strong>The desktop is offline.</strong> Messages you send are queued until it is back.
        </span>
        <button class="btn small-btn" onClick={() => client.retryNow()} data-testid="reconnect">
          Reconnect
        </button>
      </div>
    );
  }
  return null;
}

export function ConnectionSheet({ client, s, onClose, push }: { client: RemoteClient; s: ClientState; onClose: () => void; push?: PushController }) {
  const now = useNow(1000);
  const ref = useRef<HTMLDivElement>(null);
  const label = connectionLabel(s);
  const reason = disconnectReasonText(s.disconnectReason);
  const canResync = s.phase === 'online' && s.desktopConnected !== false;

  // Focus management: focus the sheet, keep Tab inside, Escape closes, focus returns to the opener.
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const el = ref.current;
    el?.querySelector<HTMLElement>('button')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      } else if (e.key === 'Tab' && el) {
        const f = [...el.querySelectorAll<HTMLElement>('button, [href], [tabindex]:not([tabindex="-1"])')];
        if (f.length === 0) return;
        const first = f[0];
        const last = f[f.length - 1];
        if (e.shiftKey && document.activeElement === first) (e.preventDefault(), last.focus());
        else if (!e.shiftKey && document.activeElement === last) (e.preventDefault(), first.focus());
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      opener?.focus?.();
    };
  }, []);

  const rows: [string, string, string][] = [
    ['Relay', label.text, 'conn-relay'],
    ['Desktop', s.desktopConnected === null ? 'unknown' : s.desktopConnected ? `online${s.desktopName ? ` (${s.desktopName})` : ''}` : 'offline', 'conn-desktop'],
    ['Session', short(s.paired?.sessionID), 'conn-session'],
    ['Device', `${s.paired?.deviceName ?? '—'} · ${short(s.paired?.deviceID)}`, 'conn-device'],
    ['Last seq', s.lastSeq === null ? '—' : String(s.lastSeq), 'conn-seq'],
    ['Last sync', s.lastSyncedAt ? ago(now - s.lastSyncedAt) : 'never', 'conn-sync'],
    ['Relay URL', s.paired?.relayBaseURL ?? '—', 'conn-url'],
  ];
  if (reason && s.phase !== 'online') rows.push(['Last disconnect', reason, 'conn-reason']);

  return (
    <div class="sheet-backdrop" onClick={onClose}>
      <div class="sheet" role="dialog" aria-modal="true" aria-labelledby="conn-title" ref={ref} data-testid="connection-sheet" onClick={(e) => e.stopPropagation()}>
        <div class="sheet-head">
          <h2 id="conn-title">Connection</h2>
          <button class="btn ghost small-btn" onClick={onClose} aria-label="Close connection details">
            Close
          </button>
        </div>
        <dl class="details">
          {rows.map(([k, v, id]) => (
            <div key={k} class="detail-row">
              <dt>{k}</dt>
              <dd class="mono" data-testid={id}>
                {v}
              </dd>
            </div>
          ))}
        </dl>
        <div class="row wrap">
          <button
            class="btn primary"
            data-testid="resync"
            disabled={!canResync}
            onClick={() => {
              client.requestSnapshot('manual', true);
              client.notify('info', 'Asked the desktop for a fresh copy.');
            }}
          >
            Resync now
          </button>
          {s.phase !== 'online' && (
            <button class="btn" onClick={() => client.retryNow()}>
              Reconnect now
            </button>
          )}
        </div>
        {!canResync && <p class="muted small">Resync needs the relay and the desktop online.</p>}
        {push && <PushSettings ctl={push} s={s} />}
      </div>
    </div>
  );
}
