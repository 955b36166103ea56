// Layer 1 of the connection controller (client.ts → clientConnection.ts → clientBase.ts): the
// observable state, the session-scoped fields, the E2EE link, and the outbound path (snapshot
// requests with coalescing, command build/validate/send/queue, queue flush).
import { CommandQueue, QUEUE_MAX_BYTES, QUEUE_MAX_ENVELOPES } from './commandQueue';
import {
  makeCommand,
  makeCommandEnvelope,
  makeSnapshotRequest,
  parseFrame,
  isPushCommand,
  QUEUEABLE_COMMANDS,
  validateCommand,
  type Command,
  type CommandName,
  type Envelope,
  type RuntimeRequest,
  type SnapshotReason,
} from './protocol';
import { defaultKeyStore, E2EE_OFF, E2eeLink, makeE2eeEnvelope } from './e2eeClient';
import type { PhoneWire } from './e2eeSession';
import { buildRuntimeResponse, type ResponseDraft } from './runtimeResponse';
import { SequenceTracker } from './sequence';
import type { SyncData } from './snapshotMerge';
import { loadPairedDevice } from './storage';
import {
  SNAPSHOT_REQUEST_MIN_INTERVAL_MS,
  WS_OPEN,
  type ClientDeps,
  type ClientState,
  type Notice,
  type OutgoingCommand,
  type SendResult,
  type SocketLike,
  initialState,
  newCommandID,
} from './clientTypes';

type Listener = (s: ClientState) => void;

export abstract class ClientBase {
  state: ClientState;
  private listeners = new Set<Listener>();
  protected socket: SocketLike | null = null;
  private snapshotTimer: unknown = null;
  private lastSnapshotRequestAt = -Infinity;
  protected pendingSnapshotReason: SnapshotReason | null = null;
  protected readonly tracker = new SequenceTracker();
  readonly queue = new CommandQueue(QUEUE_MAX_ENVELOPES, QUEUE_MAX_BYTES);
  /** consumed only when a command is sent or queued; never reset on reconnect (§8.2) */
  nextOutgoingSeq = 1;
  private noticeSeq = 0;
  protected readonly seqToThread = new Map<number, string>();
  readonly e2ee: E2eeLink;

  constructor(protected readonly deps: ClientDeps) {
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
  protected set(patch: Partial<ClientState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l(this.state);
  }
  protected setData(data: SyncData): void {
    this.set({ data });
  }
  notify(level: Notice['level'], text: string): void {
    const n: Notice = { id: ++this.noticeSeq, level, text, at: this.deps.now() };
    this.set({ notices: [...this.state.notices, n].slice(-5) });
  }
  dismissNotice(id: number): void {
    this.set({ notices: this.state.notices.filter((n) => n.id !== id) });
  }

  protected resetSessionState(): void {
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

  /** An accepted app envelope (after the frame layer; also what the E2EE link delivers). */
  protected abstract handleEnvelope(env: Envelope): void;

  // ---------- outbound ----------
  protected canSendNow(): boolean {
    const wire = this.state.phase === 'online' && this.socket !== null && this.socket.readyState === WS_OPEN && this.state.desktopConnected !== false;
    return wire && (!this.e2eeOn() || this.e2ee.open);
  }

  protected e2eeOn(): boolean {
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

  protected flushQueue(): void {
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
    // Push commands carry the subscription: encrypted channel and a push-capable desktop only.
    if (isPushCommand(name) && (!this.e2eeOn() || this.state.data.capabilities.push !== true)) return { ok: false, error: 'No push on this pairing.' };
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
}
