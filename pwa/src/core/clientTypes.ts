// Types and constants of the connection controller (split out of client.ts; re-exported there).
import type { E2eeStatus } from './e2eeClient';
import type { KeyStore } from './e2eeKeys';
import type { JoinLink } from './joinLink';
import type { joinPairing, JoinFailure } from './pairing';
import type { CommandName } from './protocol';
import type { PushState } from './push';
import { emptySyncData, type SyncData } from './snapshotMerge';
import type { PairedDevice, KeyValueStorage } from './storage';

export const STALE_AFTER_MS = 45_000;
export const AUTH_TIMEOUT_MS = 15_000;
export const CONNECT_TIMEOUT_MS = 15_000;
export const UNACKED_TIMEOUT_MS = 30_000;
export const SNAPSHOT_REQUEST_MIN_INTERVAL_MS = 1_000;

export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export const WS_OPEN = 1;

export interface ClientDeps {
  storage: KeyValueStorage;
  createSocket: (url: string) => SocketLike;
  fetch: Parameters<typeof joinPairing>[3]['fetch'];
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
  now: () => number;
  random: () => number;
  /** E2EE identity store (default: IndexedDB when present, else memory) */
  keys?: KeyStore;
}

export type ConnPhase =
  | 'unpaired' // no stored pairing
  | 'connecting' // socket opening (first time or after a retry)
  | 'authenticating' // open, relay.auth sent, waiting for auth_ok
  | 'online' // auth_ok received
  | 'reconnecting' // waiting for the backoff timer
  | 'revoked' // terminal: device_revoked
  | 'ended'; // terminal: other terminal reasons / close 1008

export type PairStatus = 'idle' | 'waiting' | 'error';

export interface OutgoingCommand {
  commandID: string;
  seq: number;
  name: CommandName;
  threadID: string | null;
  text: string | null;
  runtimeRequestID: string | null;
  status: 'queued' | 'sent';
  createdAt: number;
  sentAt: number | null;
}

export interface Notice {
  id: number;
  level: 'info' | 'warn' | 'error';
  text: string;
  at: number;
}

export interface ClientState {
  paired: PairedDevice | null;
  phase: ConnPhase;
  /** null = unknown (not yet told by the relay on this socket) */
  desktopConnected: boolean | null;
  terminal: { reason: string; text: string } | null;
  attempt: number;
  nextRetryAt: number | null;
  lastSyncedAt: number | null;
  /** last accepted inbound seq (connection details) */
  lastSeq: number | null;
  /** why the socket last dropped (relay `disconnect` reason, close reason, or a client cause) */
  disconnectReason: string | null;
  stale: boolean;
  canRespond: boolean;
  desktopName: string | null;
  data: SyncData;
  outgoing: OutgoingCommand[];
  queueBytes: number;
  notices: Notice[];
  /** end-to-end encryption of this pairing (docs/E2EE.md) */
  e2ee: E2eeStatus;
  /** the desktop's web push settings for this phone (event `push.state`, E2EE only) */
  push: PushState | null;
  pair: { status: PairStatus; link: JoinLink | null; relayBaseURL: string | null; error: JoinFailure | null; startedAt: number | null };
}

export type SendResult =
  | { ok: true; commandID: string; seq: number; queued: boolean; dropped: number }
  | { ok: false; error: string };


export function initialState(paired: PairedDevice | null, e2ee: E2eeStatus): ClientState {
  return {
    paired,
    phase: paired ? 'connecting' : 'unpaired',
    desktopConnected: null,
    terminal: null,
    attempt: 0,
    nextRetryAt: null,
    lastSyncedAt: null,
    lastSeq: null,
    disconnectReason: null,
    stale: false,
    canRespond: false,
    desktopName: null,
    data: emptySyncData(),
    outgoing: [],
    queueBytes: 0,
    notices: [],
    pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null },
    e2ee,
    push: null,
  };
}

/**
 * `cmd-<seq>` plus a short random part: two phones must not produce identical commands, which the
 * desktop would de-duplicate by identity (APP_SCHEMA §5.2).
 */
export function newCommandID(seq: number, random: () => number): string {
  return `cmd-${seq}-${Math.floor(random() * 36 ** 4).toString(36)}`;
}

/** A disconnect reason safe to keep and show (bounded, plain identifier), else the generic cause. */
export function disconnectCause(reason: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(reason) ? reason : 'connection_lost';
}
