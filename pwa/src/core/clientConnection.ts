// Layer 2 of the connection controller: the WebSocket's life (connect, auth timer, backoff,
// terminal close, visibility/online) and the inbound path (control frames, auth_ok with token
// rotation, desktop status, sequence checks, app payloads via clientInbound.ts).
import { backoffDelay } from './backoff';
import {
  canRespondFrom,
  DISCONNECT_TEXT,
  parseFrame,
  POLICY_CLOSE_CODE,
  SCHEMA_VERSION,
  TERMINAL_DISCONNECT_REASONS,
  type Envelope,
  type RelayAuthOk,
  type RelayDesktopStatus,
  type RelayError,
} from './protocol';
import type { DesktopWire } from './e2eeSession';
import { appPayloadEffect, expireUnacked, relayErrorEffect, type InboundEffect } from './clientInbound';
import { ClientBase } from './clientBase';
import { emptySyncData } from './snapshotMerge';
import { clearPairedDevice, savePairedDevice } from './storage';
import { AUTH_TIMEOUT_MS, CONNECT_TIMEOUT_MS, STALE_AFTER_MS, type SocketLike, disconnectCause } from './clientTypes';

export abstract class ClientConnection extends ClientBase {
  private socketGen = 0;
  private retryTimer: unknown = null;
  private authTimer: unknown = null;
  private lastStaleRequestAt = 0;
  /** Start: connect if a pairing is stored. */
  start(): void {
    if (this.state.paired && !this.socket) this.connect();
  }

  // ---------- socket life ----------
  protected connect(): void {
    const paired = this.state.paired;
    if (!paired) return;
    this.clearRetry();
    this.teardownSocket();
    const gen = ++this.socketGen;
    let sock: SocketLike;
    try {
      sock = this.deps.createSocket(paired.wsURL);
    } catch {
      this.scheduleReconnect('connect_failed');
      return;
    }
    this.socket = sock;
    // canRespond keeps the last hello's value until the next auth_ok resets it (§2), so an approval
    // tapped while reconnecting can still be queued; the desktop has the final say.
    this.set({ phase: 'connecting', nextRetryAt: null, desktopConnected: null });
    this.authTimer = this.deps.setTimeout(() => {
      if (gen !== this.socketGen) return;
      // neither open nor authenticated in time: treat as a transient failure
      this.teardownSocket();
      this.scheduleReconnect('connect_timeout');
    }, CONNECT_TIMEOUT_MS + AUTH_TIMEOUT_MS);
    sock.onopen = () => {
      if (gen !== this.socketGen) return;
      const token = this.state.paired?.deviceSessionToken;
      if (!token) return;
      sock.send(JSON.stringify({ type: 'relay.auth', token }));
      this.set({ phase: 'authenticating' });
    };
    sock.onmessage = (ev) => {
      if (gen !== this.socketGen) return;
      if (typeof ev.data === 'string') this.handleFrame(ev.data);
    };
    sock.onclose = (ev) => {
      if (gen !== this.socketGen) return;
      this.handleClose(ev.code, ev.reason ?? '');
    };
    sock.onerror = () => {
      /* a close event follows */
    };
  }

  protected teardownSocket(): void {
    this.socketGen++;
    if (this.authTimer !== null) {
      this.deps.clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, 'client_closing');
      } catch {
        /* ignore */
      }
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      this.deps.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private scheduleReconnect(cause: string): void {
    if (!this.state.paired || this.state.terminal) return;
    this.clearRetry();
    const delay = backoffDelay(this.state.attempt, this.deps.random);
    this.retryTimer = this.deps.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.set({ phase: 'reconnecting', attempt: this.state.attempt + 1, nextRetryAt: this.deps.now() + delay, desktopConnected: null, disconnectReason: disconnectCause(cause) });
  }

  private handleClose(code: number, reason: string): void {
    this.socket = null;
    if (this.authTimer !== null) {
      this.deps.clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    if (code === POLICY_CLOSE_CODE) return this.terminate('session_expired');
    if (TERMINAL_DISCONNECT_REASONS.has(reason)) return this.terminate(reason);
    this.scheduleReconnect(reason);
  }

  /** Terminal end of the pairing: stop reconnecting, clear credentials and caches (§10). */
  terminate(reason: string): void {
    this.clearRetry();
    this.teardownSocket();
    this.resetSessionState();
    clearPairedDevice(this.deps.storage);
    void this.e2ee.forget(this.state.paired?.sessionID);
    this.set({
      paired: null,
      phase: reason === 'device_revoked' ? 'revoked' : 'ended',
      terminal: { reason, text: DISCONNECT_TEXT[reason] ?? 'The remote session ended.' },
      desktopConnected: null,
      canRespond: false,
      nextRetryAt: null,
      attempt: 0,
      data: emptySyncData(),
      push: null,
      notices: [],
      pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null },
    });
  }

  /** Page became visible again (§10): reconnect now if closed, else resync. */
  onVisible(): void {
    if (!this.state.paired || this.state.terminal) return;
    if (this.state.phase === 'reconnecting' || !this.socket) {
      this.connect();
    } else if (this.state.phase === 'online') {
      this.requestSnapshot('visibility_resume');
    }
  }

  /** Browser regained network. */
  onOnline(): void {
    if (this.state.phase === 'reconnecting') this.connect();
  }

  /** Retry right now (button). */
  retryNow(): void {
    if (this.state.paired && !this.state.terminal) this.connect();
  }

  /** Periodic housekeeping (UI calls it every few seconds). */
  tick(): void {
    const now = this.deps.now();
    const online = this.state.phase === 'online' && this.state.desktopConnected !== false;
    const last = this.state.lastSyncedAt;
    const stale = online && last !== null && now - last > STALE_AFTER_MS;
    if (stale !== this.state.stale) this.set({ stale });
    if (stale && now - this.lastStaleRequestAt > STALE_AFTER_MS) {
      this.lastStaleRequestAt = now;
      this.requestSnapshot('stale_sync');
    }
    this.applyEffect(expireUnacked(this.state.outgoing, now));
  }

  // ---------- inbound ----------
  handleFrame(text: string): void {
    const f = parseFrame(text);
    if (f.kind === 'invalid') return;
    if (f.kind === 'control') return this.handleControl(f.msg as { type: string } & Record<string, unknown>);
    // An encrypted pairing never applies plaintext app data (the relay could have forged it).
    if (this.e2eeOn()) return this.e2ee.plaintextRefused();
    this.handleEnvelope(f.env);
  }

  private handleControl(m: { type: string } & Record<string, unknown>): void {
    switch (m.type) {
      case 'auth_ok':
        return this.handleAuthOk(m as unknown as RelayAuthOk);
      case 'disconnect': {
        const reason = typeof m.reason === 'string' ? m.reason : '';
        if (TERMINAL_DISCONNECT_REASONS.has(reason)) return this.terminate(reason);
        // transient: the relay closes the socket next; reconnect with backoff
        this.teardownSocket();
        this.scheduleReconnect(reason);
        return;
      }
      case 'relay.desktop_status':
        return this.handleDesktopStatus((m as unknown as RelayDesktopStatus).desktopConnected === true);
      case 'relay.error':
        return this.handleRelayError(m as unknown as RelayError);
      case 'e2ee':
        if (this.e2eeOn() && this.state.paired) void this.e2ee.onFrame(m as unknown as DesktopWire, this.state.paired.deviceID);
        else if (this.state.paired) this.e2ee.refusedPlaintext(m as unknown as DesktopWire, this.state.paired.deviceID);
        return;
      default:
        return; // unknown control frames (and `{}` on auth timeout) are ignored
    }
  }

  private handleAuthOk(m: RelayAuthOk): void {
    const paired = this.state.paired;
    if (!paired) return;
    if (this.authTimer !== null) {
      this.deps.clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    let next = paired;
    if (typeof m.nextDeviceSessionToken === 'string' && m.nextDeviceSessionToken !== '') {
      next = {
        ...paired,
        deviceSessionToken: m.nextDeviceSessionToken,
        deviceID: typeof m.deviceID === 'string' && m.deviceID ? m.deviceID : paired.deviceID,
        storedAt: new Date(this.deps.now()).toISOString(),
      };
      savePairedDevice(this.deps.storage, next);
    }
    // The desktop keeps its counter across our reconnects, but may have restarted while we were
    // away (APP_SCHEMA §8.3 hazard): start tracking afresh on every authenticated socket.
    this.tracker.reset();
    const desktopConnected = typeof m.desktopConnected === 'boolean' ? m.desktopConnected : null;
    this.set({
      paired: next,
      phase: 'online',
      disconnectReason: null,
      attempt: 0,
      nextRetryAt: null,
      desktopConnected,
      canRespond: canRespondFrom(m),
    });
    this.e2ee.reset();
    if (desktopConnected !== false && this.e2eeOn()) {
      void this.e2ee.handshake({ sessionID: next.sessionID, deviceID: next.deviceID });
    } else if (desktopConnected !== false) {
      this.flushQueue();
      this.requestSnapshot(this.pendingSnapshotReason ?? 'initial_sync', true);
    } else {
      this.pendingSnapshotReason = this.pendingSnapshotReason ?? 'initial_sync';
    }
  }

  private handleDesktopStatus(connected: boolean): void {
    const was = this.state.desktopConnected;
    this.set({ desktopConnected: connected });
    // The desktop's channels end with its socket: a returning desktop needs a new handshake.
    if (!connected) this.e2ee.reset();
    if (connected && was !== true && this.e2eeOn() && this.state.paired) {
      this.tracker.reset();
      void this.e2ee.handshake({ sessionID: this.state.paired.sessionID, deviceID: this.state.paired.deviceID });
    } else if (connected && was !== true) {
      this.tracker.reset(); // a (re)started desktop may restart its seq counter
      this.flushQueue();
      this.requestSnapshot(this.pendingSnapshotReason ?? 'initial_sync', true);
    }
  }

  private handleRelayError(m: RelayError): void {
    this.applyEffect(relayErrorEffect(m));
  }

  private applyEffect(e: InboundEffect): void {
    if (e.patch) this.set(e.patch);
    if (e.notice) this.notify(e.notice.level, e.notice.text);
    if (e.snapshot) this.requestSnapshot(e.snapshot);
  }

  protected handleEnvelope(env: Envelope): void {
    if (typeof env.schemaVersion === 'number' && env.schemaVersion !== SCHEMA_VERSION) return;
    const paired = this.state.paired;
    if (!paired) return;
    if (typeof env.sessionID === 'string' && env.sessionID !== paired.sessionID) return;
    const type = env.payload.type;
    const seqOutcome = this.tracker.ingest(env.seq, type === 'snapshot');
    switch (seqOutcome.action) {
      case 'ignore':
      case 'stale':
      case 'await_snapshot':
        return;
      case 'gap':
        this.requestSnapshot('gap_detected');
        return;
      case 'accept':
      case 'untracked':
        break;
    }
    this.set({ lastSyncedAt: this.deps.now(), stale: false, lastSeq: this.tracker.lastSeen });
    this.applyEffect(appPayloadEffect(this.state, type, env.payload.payload as unknown, this.deps.now, this.seqToThread));
  }
}
