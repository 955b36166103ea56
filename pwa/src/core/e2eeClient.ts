// The controller's E2EE link (docs/E2EE.md): which pairing is encrypted, the identity from the
// key store, one PhoneChannel per socket, handshake retries, named failures. client.ts owns
// the socket and the outer envelopes; this class only produces inner bodies and plaintexts.
import { unb64u } from './e2eeCrypto';
import { createIdentity, e2eeMarker, IndexedDbKeyStore, MemoryKeyStore, setE2eeMarker, toPhoneIdentity, type KeyStore } from './e2eeKeys';
import { PhoneChannel, type DesktopWire, type PhoneWire } from './e2eeSession';
import type { KeyValueStorage } from './storage';

export type E2eeMode = 'off' | 'pending' | 'verified' | 'failed';
export interface E2eeStatus {
  mode: E2eeMode;
  safetyCode: string | null;
  reason: string | null;
  text: string | null;
}
export const E2EE_OFF: E2eeStatus = { mode: 'off', safetyCode: null, reason: null, text: null };

/** Per-socket handshake attempts before giving up until the next connection. */
export const MAX_HANDSHAKES_PER_SOCKET = 3;
/** A handshake not confirmed by then (a hello or accept lost or dropped) is retried. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const REASON_TEXT: Record<string, string> = {
  bad_accept_signature: "The desktop's identity could not be verified: someone may be tampering with the relay.",
  pair_mac_mismatch: 'The desktop refused this pairing: the QR code proof did not match. Pair again with a fresh QR code.',
  unknown_device_key: 'The desktop no longer knows this phone (revoked or re-created). Pair again with a fresh QR code.',
  bad_finish_signature: "The desktop could not verify this phone's key. Pair again with a fresh QR code.",
  e2ee_required: 'This desktop requires end-to-end encryption; update or re-pair this device.',
  downgrade_refused: 'The desktop refused unencrypted data from this phone.',
  e2ee_disabled: 'End-to-end encryption is off on this desktop, but this phone was paired with it on. Pair again.',
  keys_lost: "This phone's encryption keys are gone (browser data cleared). Pair again with a fresh QR code.",
  plaintext_refused: 'Refused unencrypted data from the relay (downgrade attempt).',
  handshake_timeout: 'The encrypted connection could not be set up in time.',
};
export const e2eeReasonText = (r: string): string => REASON_TEXT[r] ?? `End-to-end encryption error (${r}).`;
/** Refusals that no retry can fix: the pairing itself is gone or forged. */
const FATAL = new Set(['pair_mac_mismatch', 'unknown_device_key', 'e2ee_disabled', 'keys_lost']);

export interface E2eeHooks {
  sendInner: (body: PhoneWire) => void;
  deliver: (text: string) => void;
  status: (s: E2eeStatus) => void;
  established: () => void;
  /** Schedules `fn` (the controller's injected clock); without it handshakes never time out. */
  later?: (fn: () => void, ms: number) => void;
}

/** E2EE bodies travel as command-style envelopes (`payload.type:"e2ee"`) with their own seq. */
export function makeE2eeEnvelope(sessionID: string, seq: number, body: PhoneWire, now: Date): object {
  return { schemaVersion: 2, sessionID, seq, timestamp: now.toISOString(), payload: { type: 'e2ee', payload: body } };
}

export function defaultKeyStore(): KeyStore {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  return idb ? new IndexedDbKeyStore(idb) : new MemoryKeyStore();
}

export class E2eeLink {
  private channel: PhoneChannel | null = null;
  private attempts = 0;
  private gen = 0;
  private ids: { sessionID: string; deviceID: string } | null = null;
  status: E2eeStatus = E2EE_OFF;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly keys: KeyStore,
    private readonly hooks: E2eeHooks,
  ) {}

  /** This pairing is end-to-end encrypted (never falls back to plaintext). */
  enabledFor(sessionID: string | undefined): boolean {
    return !!sessionID && e2eeMarker(this.storage) === sessionID;
  }
  get open(): boolean {
    return this.channel?.state === 'open';
  }

  private set(s: Partial<E2eeStatus>): void {
    this.status = { ...this.status, ...s };
    this.hooks.status(this.status);
  }

  /** After /pair/join with a QR that carried dk/ps: identity key + pins, before the first socket. */
  async adopt(sessionID: string, dk: string, ps: string): Promise<void> {
    await createIdentity(this.keys, sessionID, dk, ps);
    setE2eeMarker(this.storage, sessionID);
    this.set({ mode: 'pending', safetyCode: null, reason: null, text: null });
  }

  /** Forget the identity (re-pair, terminal end). */
  async forget(sessionID: string | undefined): Promise<void> {
    this.reset();
    setE2eeMarker(this.storage, null);
    this.set(E2EE_OFF);
    if (sessionID) await this.keys.delete(sessionID).catch(() => undefined);
  }

  /** New socket (or the desktop came back): drop the old channel. */
  reset(): void {
    this.gen++;
    this.channel = null;
    this.attempts = 0;
  }

  /** Starts a handshake on the current socket. */
  async handshake(ids: { sessionID: string; deviceID: string }): Promise<void> {
    const gen = ++this.gen;
    this.ids = ids;
    this.channel = null;
    if (this.attempts >= MAX_HANDSHAKES_PER_SOCKET) return this.failed(this.status.reason ?? 'handshake_failed');
    this.attempts++;
    if (this.status.mode !== 'failed') this.set({ mode: 'pending' });
    const rec = await this.keys.get(ids.sessionID).catch(() => null);
    const identity = rec ? await toPhoneIdentity(rec) : null;
    if (gen !== this.gen) return;
    if (!rec || !identity) return this.failed('keys_lost');
    const ps = rec.ps ? unb64u(rec.ps) : null;
    const { channel, hello } = await PhoneChannel.open(identity, ids, ps);
    if (gen !== this.gen) return;
    this.channel = channel;
    this.hooks.sendInner(hello);
    this.hooks.later?.(() => {
      if (gen !== this.gen || channel.state === 'open' || !this.ids) return;
      this.set({ reason: 'handshake_timeout', text: e2eeReasonText('handshake_timeout') });
      void this.handshake(this.ids);
    }, HANDSHAKE_TIMEOUT_MS);
  }

  private failed(reason: string): void {
    this.channel = null;
    this.set({ mode: 'failed', reason, text: e2eeReasonText(reason), safetyCode: null });
  }

  /** A `type:"e2ee"` frame from the desktop (any phone's: filtered here). */
  async onFrame(m: DesktopWire, deviceID: string): Promise<void> {
    if (m.to !== deviceID || !this.ids) return;
    const ch = this.channel;
    if (m.k === 'refused' || m.k === 'resync') {
      if (m.ch !== undefined && (!ch || m.ch !== ch.ch)) return; // for an earlier handshake
      const reason = typeof m.reason === 'string' ? m.reason.slice(0, 64) : 'refused';
      if (FATAL.has(reason) || m.k === 'refused') this.failed(reason);
      if (!FATAL.has(reason)) await this.handshake(this.ids);
      return;
    }
    if (!ch || m.ch !== ch.ch) return; // stale frame of an earlier connection
    const gen = this.gen;
    if (m.k === 'accept') {
      const r = await ch.onAccept(m);
      if (gen !== this.gen) return;
      if (!r.ok) return this.reject(r.reason);
      this.hooks.sendInner(r.finish);
      this.hooks.sendInner(r.confirm);
      return;
    }
    if (m.k === 'rec') {
      const wasOpen = ch.state === 'open';
      const r = await ch.onRecord(m);
      if (gen !== this.gen) return;
      if (!r.ok) return this.reject(r.reason);
      if (!wasOpen && ch.state === 'open') {
        this.attempts = 0;
        // The pairing secret is single use: once the desktop confirmed us, drop it.
        const rec = await this.keys.get(this.ids.sessionID).catch(() => null);
        if (rec?.ps) await this.keys.put({ ...rec, ps: null }).catch(() => undefined);
        this.set({ mode: 'verified', safetyCode: ch.safety, reason: null, text: null });
        this.hooks.established();
        return;
      }
      if (r.text !== null) this.hooks.deliver(r.text);
    }
  }

  /** Our side detected tampering: tell the desktop (named) and start over. */
  private async reject(reason: string): Promise<void> {
    this.hooks.sendInner({ v: 1, k: 'resync', reason });
    this.set({ mode: 'failed', reason, text: e2eeReasonText(reason), safetyCode: null });
    if (this.ids) await this.handshake(this.ids);
  }

  /** Encrypts one app envelope; false when the channel is not open (caller queues). */
  async send(text: string): Promise<boolean> {
    const ch = this.channel;
    if (!ch || ch.state !== 'open') return false;
    const rec = await ch.seal(text);
    if (!rec || ch !== this.channel) return false;
    this.hooks.sendInner(rec);
    return true;
  }

  /** A plaintext pairing got a desktop refusal (`--e2ee required`, or a downgrade): say why. */
  refusedPlaintext(m: DesktopWire, deviceID: string): void {
    if (m.to !== deviceID || m.k !== 'refused' || typeof m.reason !== 'string') return;
    if (m.reason === 'e2ee_required' || m.reason === 'downgrade_refused') this.failed(m.reason);
  }

  /** A plaintext app envelope arrived for an encrypted pairing: never applied. */
  plaintextRefused(): void {
    if (this.status.reason !== 'plaintext_refused') this.set({ reason: 'plaintext_refused', text: e2eeReasonText('plaintext_refused') });
  }
}
