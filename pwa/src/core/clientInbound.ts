// Pure parts of the controller's inbound path (split out of client.ts): what an app payload,
// a command ack or a relay.error changes in the state. No I/O; the controller applies the result.
import { UNACKED_TIMEOUT_MS, type ClientState, type Notice, type OutgoingCommand } from './clientTypes';
import { ackReasonText, canRespondFrom, parseAck, parseSnapshot, type AppEvent, type RelayError, type SnapshotReason } from './protocol';
import { parsePushState } from './push';
import { addLocalMessage, applyEvent, applySnapshot } from './snapshotMerge';

export interface InboundEffect {
  patch?: Partial<ClientState>;
  notice?: { level: Notice['level']; text: string };
  snapshot?: SnapshotReason;
}

export type Ack = NonNullable<ReturnType<typeof parseAck>>;

/** An accepted app envelope's payload (after sequence checks). */
export function appPayloadEffect(
  state: ClientState,
  type: string,
  body: unknown,
  now: () => number,
  seqToThread: ReadonlyMap<number, string>,
): InboundEffect {
  switch (type) {
    case 'hello':
      return {
        patch: {
          canRespond: canRespondFrom((body ?? {}) as object),
          desktopName: typeof (body as { clientName?: unknown })?.clientName === 'string' ? (body as { clientName: string }).clientName : state.desktopName,
        },
      };
    case 'auth_ok':
      return (body as { canRespondToRuntimeRequests?: unknown })?.canRespondToRuntimeRequests === true ? { patch: { canRespond: true } } : {};
    case 'snapshot': {
      const snap = parseSnapshot(body);
      return snap ? { patch: { data: applySnapshot(state.data, snap) } } : {};
    }
    case 'event': {
      if (!body || typeof body !== 'object' || typeof (body as AppEvent).name !== 'string') return {};
      // Push settings only ever travel inside the E2EE channel (a plain relay could forge them).
      if ((body as AppEvent).name === 'push.state') {
        const push = state.e2ee.mode !== 'off' ? parsePushState(body) : null;
        return push ? { patch: { push } } : {};
      }
      const r = applyEvent(state.data, body as AppEvent, now);
      return {
        patch: r.data !== state.data ? { data: r.data } : undefined,
        snapshot: r.effect === 'request_snapshot' ? 'runtime_request_event' : undefined,
      };
    }
    case 'command_ack': {
      const ack = parseAck(body);
      return ack ? ackEffect(state, ack, now, seqToThread) : {};
    }
    default:
      return {};
  }
}

/** A command ack: drop the pending entry; a rejection shows a notice and a local system line. */
export function ackEffect(state: ClientState, ack: Ack, now: () => number, seqToThread: ReadonlyMap<number, string>): InboundEffect {
  const mine = state.outgoing.find((o) => o.commandID === ack.commandID);
  if (!mine) return {}; // acks are broadcast to every phone
  const outgoing = state.outgoing.filter((o) => o.commandID !== ack.commandID);
  if (ack.status === 'accepted') return { patch: { outgoing } };
  const text = ackReasonText(ack.reason);
  const threadID = ack.threadID ?? seqToThread.get(ack.commandSeq) ?? mine.threadID ?? state.data.openThreadID;
  const data = threadID
    ? addLocalMessage(state.data, {
        id: `local-command-ack-reject-${ack.commandID || ack.commandSeq}`,
        threadID,
        role: 'system',
        text: `Not delivered: ${text}${mine.text ? `\n“${mine.text.slice(0, 200)}”` : ''}`,
        createdAt: new Date(now()).toISOString(),
      })
    : state.data;
  return { patch: { outgoing, data }, notice: { level: 'error', text } };
}

/** relay.error → state change, notice and maybe a resync. */
export function relayErrorEffect(m: RelayError): InboundEffect {
  const code = typeof m.error === 'string' ? m.error : 'unknown';
  switch (code) {
    case 'desktop_offline':
      return { patch: { desktopConnected: false }, notice: { level: 'warn', text: 'The desktop is offline. Queued messages are sent when it is back.' } };
    case 'replayed_command':
      return { notice: { level: 'warn', text: 'The relay refused a replayed command; resyncing.' }, snapshot: 'command_replay_rejected' };
    case 'command_rate_limited':
    case 'snapshot_rate_limited':
      return { notice: { level: 'warn', text: m.message || 'Too many requests. Slow down and retry shortly.' } };
    default:
      return { notice: { level: 'error', text: m.message || `Relay error: ${code}` } };
  }
}

/** Commands sent but never acknowledged within UNACKED_TIMEOUT_MS are dropped with a warning. */
export function expireUnacked(outgoing: OutgoingCommand[], now: number): InboundEffect {
  const expired = outgoing.filter((o) => o.status === 'sent' && o.sentAt !== null && now - o.sentAt > UNACKED_TIMEOUT_MS);
  if (expired.length === 0) return {};
  const ids = new Set(expired.map((o) => o.commandID));
  return {
    patch: { outgoing: outgoing.filter((o) => !ids.has(o.commandID)) },
    notice: { level: 'warn', text: `No confirmation from the desktop for ${expired.length} command(s). Check the thread before resending.` },
  };
}
