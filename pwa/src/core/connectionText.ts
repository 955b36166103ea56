// Human texts for the connection: a label for the status bar, and one text per transient
// disconnect reason (RELAY_PROTOCOL §7.4) so "Reconnecting…" says why. Pure.
import type { ConnPhase } from './clientTypes';

/** Transient reasons the relay sends in `disconnect`, plus the client's own causes. */
export const TRANSIENT_DISCONNECT_TEXT: Record<string, string> = {
  device_reconnected: 'This phone connected again from another tab or window.',
  desktop_reconnected: 'The desktop reconnected.',
  slow_consumer: 'The connection was too slow to keep up.',
  socket_rate_limited: 'Too many messages in a short time; the relay paused this connection.',
  heartbeat_timeout: 'The relay stopped hearing from this phone.',
  message_too_large: 'A message was too large for the relay.',
  relay_over_capacity: 'The relay is at capacity.',
  server_shutdown: 'The relay is restarting.',
  retention_expired: 'The relay closed an old connection.',
  removed_from_persistence: 'The relay reloaded its sessions.',
  // client-side causes (not sent by the relay)
  connection_lost: 'The connection to the relay was lost.',
  connect_timeout: 'The relay did not answer in time.',
  connect_failed: 'Could not open a connection to the relay.',
};

export function disconnectReasonText(reason: string | null | undefined): string | null {
  if (!reason) return null;
  return TRANSIENT_DISCONNECT_TEXT[reason] ?? `The relay closed the connection (${reason.slice(0, 64)}).`;
}

export interface LabelInput {
  phase: ConnPhase;
  attempt: number;
  desktopConnected: boolean | null;
  stale: boolean;
}

export type Tone = 'ok' | 'warn' | 'bad';

export function connectionLabel(s: LabelInput): { text: string; tone: Tone } {
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

/** Short relative time for "synced 5 s ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.round(m / 60)} h ago`;
}
