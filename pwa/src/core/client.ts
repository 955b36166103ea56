// Connection controller: pairing, WebSocket life, auth/rotation, sequence tracking, snapshot
// requests, command sending/queueing and acks. All platform objects are injected, so the whole
// class runs under vitest with fakes (no DOM).
import { backoffDelay } from './backoff';
import { CommandQueue, QUEUE_MAX_BYTES, QUEUE_MAX_ENVELOPES } from './commandQueue';
import type { JoinLink } from './joinLink';
import { joinPairing } from './pairing';
import {
  canRespondFrom,
  DISCONNECT_TEXT,
  makeCommand,
  makeCommandEnvelope,
  makeSnapshotRequest,
  parseFrame,
  POLICY_CLOSE_CODE,
  QUEUEABLE_COMMANDS,
  SCHEMA_VERSION,
  TERMINAL_DISCONNECT_REASONS,
  validateCommand,
  type Command,
  type CommandName,
  type Envelope,
  type RelayAuthOk,
  type RelayDesktopStatus,
  type RelayError,
  type RuntimeRequest,
  type SnapshotReason,
} from './protocol';
import { defaultKeyStore, E2EE_OFF, E2eeLink, makeE2eeEnvelope } from './e2eeClient';
import type { DesktopWire, PhoneWire } from './e2eeSession';
import { appPayloadEffect, expireUnacked, relayErrorEffect, type InboundEffect } from './clientInbound';
import { buildRuntimeResponse, type ResponseDraft } from './runtimeResponse';
import { SequenceTracker } from './sequence';
import { emptySyncData, openThread, setProjectFilter, type SyncData } from './snapshotMerge';
import { clearPairedDevice, loadPairedDevice, savePairedDevice, type PairedDevice } from './storage';

import {
  AUTH_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  SNAPSHOT_REQUEST_MIN_INTERVAL_MS,
  STALE_AFTER_MS,
  WS_OPEN,
  type ClientDeps,
  type ClientState,
  type Notice,
  type OutgoingCommand,
  type SendResult,
  type SocketLike,
  disconnectCause,
  initialState,
  newCommandID,
} from './clientTypes';

export * from './clientTypes';

type Listener = (s: ClientState) => void;

export class RemoteClient {
  state: ClientState;
  private listeners = new Set<Listener>();
  private socket: SocketLike | null = null;
  private socketGen = 0;
  private retryTimer: unknown = null;
  private authTimer: unknown = null;
  private snapshotTimer: unknown = null;
  private lastSnapshotRequestAt = -Infinity;
  private pendingSnapshotReason: SnapshotReason | null = null;
  private readonly tracker = new SequenceTracker();
  readonly queue = new CommandQueue(QUEUE_MAX_ENVELOPES, QUEUE_MAX_BYTES);
  /** consumed only when a command is sent or queued; never reset on reconnect (§8.2) */
  nextOutgoingSeq = 1;
  private noticeSeq = 0;
  private lastStaleRequestAt = 0;
  private pairGen = 0;
  private readonly seqToThread = new Map<number, string>();
  readonly e2ee: E2eeLink;

  constructor(private readonly deps: ClientDeps) {
    const paired = loadPairedDevice(deps.storage);
    this.e2ee = new E2eeLink(deps.storage, deps.keys ?? defaultKeyStore(), {
      sendInner: (b) => this.sendE2ee(b),
      deliver: (text) => {
        const f = parseFrame(text);
        if (f.kind === 'envelope') this.handleEnvelope(f.env);
      },
      status: (e2ee) => this.set({ e2ee }),
      later: (fn, ms) => void this.deps.setTimeout(fn, ms),
      established: () => {
        this.flushQueue();
        this.requestSnapshot(this.pendingSnapshotReason ?? 'initial_sync', true);
      },
    });
    this.state = initialState(paired, paired && this.e2ee.enabledFor(paired.sessionID) ? { ...E2EE_OFF, mode: 'pending' } : E2EE_OFF);
  }

  // ---------- observable state ----------
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private set(patch: Partial<ClientState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l(this.state);
  }
  private setData(data: SyncData): void {
    this.set({ data });
  }
  notify(level: Notice['level'], text: string): void {
    const n: Notice = { id: ++this.noticeSeq, level, text, at: this.deps.now() };
    this.set({ notices: [...this.state.notices, n].slice(-5) });
  }
  dismissNotice(id: number): void {
    this.set({ notices: this.state.notices.filter((n) => n.id !== id) });
  }

  /** Start: connect if a pairing is stored. */
  start(): void {
    if (this.state.paired && !this.socket) this.connect();
  }

  // ---------- pairing ----------
  /** Offer a join link (from the fragment or pasted). Does not pair yet. */
  offerJoinLink(link: JoinLink, pageOrigin: string): void {
    this.set({
      pair: { status: 'idle', link, relayBaseURL: link.relayBaseURL ?? pageOrigin, error: null, startedAt: null },
    });
  }
  cancelJoinLink(): void {
    this.pairGen++;
    this.set({ pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null } });
  }

  async pair(deviceName: string): Promise<boolean> {
    const { link, relayBaseURL } = this.state.pair;
    if (!link || !relayBaseURL || this.state.pair.status === 'waiting') return false;
    const gen = ++this.pairGen;
    this.set({ pair: { ...this.state.pair, status: 'waiting', error: null, startedAt: this.deps.now() } });
    const res = await joinPairing(relayBaseURL, link, deviceName, {
      fetch: this.deps.fetch,
      setTimeout: this.deps.setTimeout,
      clearTimeout: this.deps.clearTimeout,
    });
    if (gen !== this.pairGen) return false; // cancelled meanwhile
    if (!res.ok) {
      this.set({ pair: { ...this.state.pair, status: 'error', error: res, startedAt: null } });
      return false;
    }
    // Replace any previous pairing (and its socket) with the new one.
    this.teardownSocket();
    this.resetSessionState();
    await this.e2ee.forget(this.state.paired?.sessionID);
    // E2EE: the QR's desktop key and single-use secret; a new identity key stays on this phone.
    if (link.dk && link.ps) await this.e2ee.adopt(res.sessionID, link.dk, link.ps);
    const paired: PairedDevice = {
      sessionID: res.sessionID,
      deviceID: res.deviceID,
      deviceName: deviceName.trim() || 'Mobile Device',
      relayBaseURL,
      deviceSessionToken: res.deviceSessionToken,
      wsURL: res.wsURL,
      storedAt: new Date(this.deps.now()).toISOString(),
    };
    savePairedDevice(this.deps.storage, paired);
    // the join token is single-use: forget the link
    this.set({
      paired,
      terminal: null,
      phase: 'connecting',
      attempt: 0,
      data: emptySyncData(),
      pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null },
    });
    this.connect();
    return true;
  }

  /** User-initiated "forget this desktop". */
  forget(): void {
    this.teardownSocket();
    this.resetSessionState();
    clearPairedDevice(this.deps.storage);
    void this.e2ee.forget(this.state.paired?.sessionID);
    this.set({ paired: null, phase: 'unpaired', terminal: null, data: emptySyncData(), desktopConnected: null, canRespond: false });
  }

  // ---------- socket life ----------
  private connect(): void {
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

  private teardownSocket(): void {
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
      notices: [],
      pair: { status: 'idle', link: null, relayBaseURL: null, error: null, startedAt: null },
    });
  }

  private resetSessionState(): void {
    this.queue.clear();
    this.pendingSnapshotReason = null;
    if (this.snapshotTimer !== null) {
      this.deps.clearTimeout(this.snapshotTimer);
      this.snapshotTimer = null;
    }
    this.tracker.reset();
    this.seqToThread.clear();
    this.set({ outgoing: [], queueBytes: 0, lastSyncedAt: null, lastSeq: null, stale: false });
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

  private handleEnvelope(env: Envelope): void {
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

  // ---------- outbound ----------
  private canSendNow(): boolean {
    const wire = this.state.phase === 'online' && this.socket !== null && this.socket.readyState === WS_OPEN && this.state.desktopConnected !== false;
    return wire && (!this.e2eeOn() || this.e2ee.open);
  }

  private e2eeOn(): boolean {
    return this.e2ee.enabledFor(this.state.paired?.sessionID);
  }

  /** App envelope out: a record when encrypted (counters follow call order), else as is. */
  private transmit(data: string): void {
    if (this.e2eeOn()) void this.e2ee.send(data);
    else this.socket!.send(data);
  }

  /** E2EE bodies travel as command-style envelopes (`payload.type:"e2ee"`) with their own seq. */
  private sendE2ee(body: PhoneWire): void {
    const paired = this.state.paired;
    if (!paired || !this.socket || this.socket.readyState !== WS_OPEN) return;
    this.socket.send(JSON.stringify(makeE2eeEnvelope(paired.sessionID, this.nextOutgoingSeq++, body, new Date(this.deps.now()))));
  }

  requestSnapshot(reason: SnapshotReason, force = false): void {
    const paired = this.state.paired;
    if (!paired) return;
    if (!this.canSendNow()) {
      this.pendingSnapshotReason = this.pendingSnapshotReason ?? reason;
      return;
    }
    const now = this.deps.now();
    if (!force && now - this.lastSnapshotRequestAt < SNAPSHOT_REQUEST_MIN_INTERVAL_MS) {
      // coalesce bursts into one trailing request
      this.pendingSnapshotReason = this.pendingSnapshotReason ?? reason;
      if (this.snapshotTimer === null) {
        this.snapshotTimer = this.deps.setTimeout(() => {
          this.snapshotTimer = null;
          const r = this.pendingSnapshotReason;
          this.pendingSnapshotReason = null;
          if (r) this.requestSnapshot(r, true);
        }, SNAPSHOT_REQUEST_MIN_INTERVAL_MS - (now - this.lastSnapshotRequestAt));
      }
      return;
    }
    this.pendingSnapshotReason = null;
    this.lastSnapshotRequestAt = now;
    this.socket!.send(JSON.stringify(makeSnapshotRequest(paired.sessionID, reason, this.tracker.lastSeen)));
  }

  private flushQueue(): void {
    if (!this.canSendNow() || this.queue.length === 0) return;
    const items = this.queue.drain();
    const now = this.deps.now();
    const sent = new Set<string>();
    for (const q of items) {
      this.transmit(q.data);
      sent.add(q.commandID);
    }
    this.set({
      queueBytes: 0,
      outgoing: this.state.outgoing.map((o) => (sent.has(o.commandID) ? { ...o, status: 'sent', sentAt: now } : o)),
    });
  }

  /** Drop everything still queued (user action). */
  discardQueued(): void {
    const n = this.queue.clear();
    this.set({ queueBytes: 0, outgoing: this.state.outgoing.filter((o) => o.status !== 'queued') });
    if (n > 0) this.notify('info', `Discarded ${n} queued command(s).`);
  }

  /** Build, validate, then send now or queue. A refused command never consumes a seq (§10). */
  sendCommand(name: CommandName, fields: Partial<Omit<Command, 'name' | 'commandID'>>): SendResult {
    const paired = this.state.paired;
    if (!paired || this.state.terminal) return { ok: false, error: 'This phone is not paired.' };
    const sendNow = this.canSendNow();
    if (!sendNow && !QUEUEABLE_COMMANDS.has(name)) return { ok: false, error: 'Not connected; this action needs a live connection.' };
    const seq = this.nextOutgoingSeq;
    const command = makeCommand(name, newCommandID(seq, this.deps.random), fields);
    const invalid = validateCommand(command);
    if (invalid) return { ok: false, error: invalid };
    const data = JSON.stringify(makeCommandEnvelope(paired.sessionID, seq, command, new Date(this.deps.now())));
    const now = this.deps.now();
    const entry: OutgoingCommand = {
      commandID: command.commandID,
      seq,
      name,
      threadID: command.threadID,
      text: command.text,
      runtimeRequestID: command.runtimeRequestID,
      status: sendNow ? 'sent' : 'queued',
      createdAt: now,
      sentAt: sendNow ? now : null,
    };
    let dropped = 0;
    if (sendNow) {
      this.nextOutgoingSeq = seq + 1;
      this.transmit(data);
    } else {
      const bytes = CommandQueue.sizeOf(data);
      if (!this.queue.fits(bytes)) return { ok: false, error: 'Message is too large to queue while offline.' };
      this.nextOutgoingSeq = seq + 1;
      const r = this.queue.enqueue({ seq, commandID: command.commandID, name, threadID: command.threadID, data, bytes });
      if (!r.ok) return { ok: false, error: 'Message is too large to queue while offline.' }; // unreachable after fits()
      dropped = r.dropped.length;
      if (dropped > 0) {
        const gone = new Set(r.dropped.map((d) => d.commandID));
        this.state = { ...this.state, outgoing: this.state.outgoing.filter((o) => !gone.has(o.commandID)) };
        this.notify('warn', `Offline queue full: dropped ${dropped} oldest command(s).`);
      }
    }
    if (command.threadID) {
      this.seqToThread.set(seq, command.threadID);
      if (this.seqToThread.size > 256) this.seqToThread.delete(this.seqToThread.keys().next().value as number);
    }
    this.set({ outgoing: [...this.state.outgoing, entry], queueBytes: this.queue.bytes });
    return { ok: true, commandID: command.commandID, seq, queued: !sendNow, dropped };
  }

  sendMessage(threadID: string, text: string): SendResult {
    return this.sendCommand('thread.send_message', { threadID, text });
  }

  respondToRuntimeRequest(req: RuntimeRequest, optionID: string, draft: ResponseDraft = {}): SendResult {
    if (!this.state.canRespond) return { ok: false, error: 'Remote approvals are disabled on the desktop.' };
    const built = buildRuntimeResponse(req, optionID, draft);
    if (!built.ok) return { ok: false, error: built.error };
    return this.sendCommand('runtime_request.respond', {
      threadID: req.threadID ?? null,
      runtimeRequestID: req.requestID,
      runtimeRequestKind: req.kind,
      runtimeRequestResponse: built.response,
    });
  }

  // ---------- local UI selection ----------
  openThread(threadID: string | null): void {
    this.setData(openThread(this.state.data, threadID));
    // Ask the desktop to select it too (it then syncs the longer history window); best effort.
    if (threadID && this.canSendNow() && this.state.data.desktopSelectedThreadID !== threadID) {
      this.sendCommand('thread.select', { threadID });
    }
  }

  setProjectFilter(filter: string): void {
    this.setData(setProjectFilter(this.state.data, filter));
  }
}
