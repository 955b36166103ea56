// Wire schema (APP_SCHEMA.md schemaVersion 2 + RELAY_PROTOCOL.md mobile side), mirrored in ONE
// module: types, constants and validators. No DOM, no I/O.

export const SCHEMA_VERSION = 2;

import { parseKinds, validSubscriptionWire, type PushKinds, type PushSubscriptionWire } from './push';

// ---------- identifiers ----------
export const COMPACT_ID_RE = /^[A-Za-z0-9_:-]{1,128}$/;
export const OPAQUE_TOKEN_RE = /^[A-Za-z0-9_-]{22,512}$/;
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{16,512}$/;
export const MAX_COMMAND_TEXT_BYTES = 16_384;
export const MAX_SCOPE_BYTES = 128;
export const MAX_PERMISSION_BYTES = 256;

export const isCompactId = (v: unknown): v is string => typeof v === 'string' && COMPACT_ID_RE.test(v);

export function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

// ---------- application payloads ----------
export type Role = 'user' | 'assistant' | 'system';

export interface Project { id: string; name: string }
export interface Thread { id: string; projectID: string; title: string; isPinned: boolean }
export interface Message { id: string; threadID: string; role: Role; text: string; createdAt: string }
export interface TurnState { threadID: string; isTurnInProgress: boolean; isAwaitingRuntimeRequest: boolean }

export const RUNTIME_REQUEST_KINDS = ['approval', 'permissionsApproval', 'userInput', 'mcpElicitation', 'dynamicToolCall'] as const;
export type RuntimeRequestKind = (typeof RUNTIME_REQUEST_KINDS)[number];

export interface ResponseOption { id: string; label: string }
export interface InputOption { id: string; label: string; description?: string }

export interface RuntimeRequest {
  requestID: string;
  kind: RuntimeRequestKind;
  threadID?: string;
  title: string;
  summary: string;
  responseOptions: ResponseOption[];
  permissions: string[];
  options: InputOption[];
  scopeHint?: string;
  toolName?: string;
  serverName?: string;
}

export interface Snapshot {
  projects: Project[];
  threads: Thread[];
  selectedProjectID?: string;
  selectedThreadID?: string;
  messages: Message[];
  turnState?: TurnState;
  pendingRuntimeRequests: RuntimeRequest[];
  /** optional features the desktop advertises, e.g. `interrupt` (thread.interrupt is handled) */
  capabilities?: Record<string, boolean>;
}

export interface Hello { role: 'desktop' | 'mobile'; clientName?: string; supportsRuntimeRequests?: boolean }
export interface AppAuthOk { connectionID?: string; role?: string; canRespondToRuntimeRequests?: boolean }

export type EventName =
  | 'thread.message.append'
  | 'turn.status.update'
  | 'runtime_request.requested'
  | 'runtime_request.resolved'
  | 'runtime_request.responded';

export interface AppEvent {
  name: string;
  threadID?: string;
  body?: string;
  messageID?: string;
  role?: string;
  createdAt?: string;
}

export type CommandName =
  | 'thread.send_message'
  | 'thread.select'
  | 'project.select'
  | 'runtime_request.respond'
  | 'thread.interrupt'
  | 'thread.load_earlier'
  | PushCommandName;
/** Web push (docs/PUSH.md): only inside the E2EE channel, only to a desktop advertising `push`. */
export type PushCommandName = 'push.subscribe' | 'push.unsubscribe' | 'push.visibility';
export const isPushCommand = (n: string): n is PushCommandName => n === 'push.subscribe' || n === 'push.unsubscribe' || n === 'push.visibility';
export const QUEUEABLE_COMMANDS: ReadonlySet<CommandName> = new Set(['thread.send_message', 'runtime_request.respond']);

/** runtimeRequestResponse: only the keys the relay admits; never explicit null (RELAY §9.3). */
export interface RuntimeRequestResponse {
  decision?: 'accept' | 'acceptForSession' | 'decline' | 'cancel';
  permissions?: string[];
  scope?: string;
  text?: string;
  optionID?: string;
  approved?: boolean;
}

/** All eight keys, null for unused ones (APP_SCHEMA §5); push commands add their own fields. */
export interface Command {
  name: CommandName;
  commandID: string;
  threadID: string | null;
  projectID: string | null;
  text: string | null;
  runtimeRequestID: string | null;
  runtimeRequestKind: RuntimeRequestKind | null;
  runtimeRequestResponse: RuntimeRequestResponse | null;
  /** push.subscribe */
  subscription?: PushSubscriptionWire;
  kinds?: PushKinds;
  /** push.visibility */
  visible?: boolean;
}

export interface CommandAck {
  commandSeq: number;
  commandID: string;
  commandName: string;
  status: 'accepted' | 'rejected';
  reason?: string;
  threadID?: string;
}

export type EnvelopePayload =
  | { type: 'hello'; payload: Hello }
  | { type: 'auth_ok'; payload: AppAuthOk }
  | { type: 'snapshot'; payload: Snapshot }
  | { type: 'event'; payload: AppEvent }
  | { type: 'command'; payload: Command }
  | { type: 'command_ack'; payload: CommandAck };

export interface Envelope<P extends EnvelopePayload = EnvelopePayload> {
  schemaVersion: number;
  sessionID: string;
  seq: number;
  timestamp: string;
  payload: P;
}

// ---------- relay control messages (relay → mobile) ----------
export interface RelayAuthOk {
  type: 'auth_ok';
  role: 'mobile' | 'desktop';
  sessionID: string;
  deviceID?: string;
  nextDeviceSessionToken?: string;
  connectedDeviceCount?: number;
  desktopConnected?: boolean;
  canRespondToRuntimeRequests?: boolean;
}
export interface RelayDisconnect { type: 'disconnect'; reason: string }
export interface RelayError { type: 'relay.error'; error: string; message?: string }
export interface RelayDesktopStatus { type: 'relay.desktop_status'; sessionID?: string; desktopConnected: boolean }
export type RelayControl = RelayAuthOk | RelayDisconnect | RelayError | RelayDesktopStatus | { type: string };

/** Disconnect reasons that end the pairing (APP_SCHEMA §10). */
export const TERMINAL_DISCONNECT_REASONS: ReadonlySet<string> = new Set([
  'device_revoked',
  'stopped_by_desktop',
  'idle_timeout',
  'session_expired',
  'replaced_by_new_pair_start',
]);
export const POLICY_CLOSE_CODE = 1008;

export type SnapshotReason =
  | 'initial_sync'
  | 'gap_detected'
  | 'visibility_resume'
  | 'command_replay_rejected'
  | 'runtime_request_event'
  | 'stale_sync'
  | 'manual';

export interface SnapshotRequest { type: 'relay.snapshot_request'; sessionID: string; reason: SnapshotReason; lastSeq?: number }

// ---------- validators ----------
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

export type Incoming =
  | { kind: 'control'; msg: RelayControl }
  | { kind: 'envelope'; env: Envelope }
  | { kind: 'invalid'; why: string };

/** Classify one text frame: relay control (string `type`) vs application envelope. */
export function parseFrame(text: string): Incoming {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: 'not_json' };
  }
  if (!isObj(v)) return { kind: 'invalid', why: 'not_object' };
  if (typeof v.type === 'string') return { kind: 'control', msg: v as RelayControl };
  if (!isObj(v.payload) || typeof v.payload.type !== 'string') return { kind: 'invalid', why: 'no_payload' };
  return { kind: 'envelope', env: v as unknown as Envelope };
}

function parseResponseOptions(v: unknown): ResponseOption[] {
  if (!Array.isArray(v)) return [];
  const out: ResponseOption[] = [];
  for (const o of v) {
    if (!isObj(o)) continue;
    const id = nonEmpty(o.id);
    if (!id) continue;
    out.push({ id, label: nonEmpty(o.label) ?? id });
  }
  return out;
}

const DEFAULT_APPROVAL_OPTIONS: ResponseOption[] = [
  { id: 'accept', label: 'Approve once' },
  { id: 'acceptForSession', label: 'Approve session' },
  { id: 'decline', label: 'Decline' },
];

/** Normalise one runtime request (APP_SCHEMA §3.3); null = drop. */
export function normalizeRuntimeRequest(v: unknown): RuntimeRequest | null {
  if (!isObj(v)) return null;
  const rawId = v.requestID ?? v.requestId;
  const requestID = typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : nonEmpty(rawId);
  if (!requestID) return null;
  const kind = (RUNTIME_REQUEST_KINDS as readonly string[]).includes(v.kind as string)
    ? (v.kind as RuntimeRequestKind)
    : 'approval';
  const title0 = nonEmpty(v.title);
  const summary0 = nonEmpty(v.summary);
  let responseOptions = parseResponseOptions(v.responseOptions);
  if (kind === 'approval' && responseOptions.length === 0) responseOptions = DEFAULT_APPROVAL_OPTIONS.map((o) => ({ ...o }));
  const options: InputOption[] = Array.isArray(v.options)
    ? v.options.filter(isObj).flatMap((o) => {
        const id = nonEmpty(o.id);
        if (!id) return [];
        const opt: InputOption = { id, label: nonEmpty(o.label) ?? id };
        const d = str(o.description);
        if (d) opt.description = d;
        return [opt];
      })
    : [];
  const req: RuntimeRequest = {
    requestID,
    kind,
    title: title0 ?? summary0 ?? 'Runtime request',
    summary: summary0 ?? title0 ?? 'Runtime request',
    responseOptions,
    permissions: Array.isArray(v.permissions) ? v.permissions.filter((p): p is string => typeof p === 'string') : [],
    options,
  };
  const threadID = nonEmpty(v.threadID);
  if (threadID) req.threadID = threadID;
  for (const k of ['scopeHint', 'toolName', 'serverName'] as const) {
    const s = nonEmpty(v[k]);
    if (s) req[k] = s;
  }
  return req;
}

function normRole(r: unknown): Role {
  return r === 'user' || r === 'system' ? r : 'assistant';
}

export function parseMessage(v: unknown): Message | null {
  if (!isObj(v)) return null;
  const id = nonEmpty(v.id);
  const threadID = nonEmpty(v.threadID);
  if (!id || !threadID) return null;
  return { id, threadID, role: normRole(v.role), text: str(v.text) ?? '', createdAt: str(v.createdAt) ?? '' };
}

/** Lenient snapshot decoder: missing arrays → [] (APP_SCHEMA §3.3). */
export function parseSnapshot(v: unknown): Snapshot | null {
  if (!isObj(v)) return null;
  const projects: Project[] = Array.isArray(v.projects)
    ? v.projects.filter(isObj).flatMap((p) => {
        const id = nonEmpty(p.id);
        return id ? [{ id, name: str(p.name) ?? id }] : [];
      })
    : [];
  const threads: Thread[] = Array.isArray(v.threads)
    ? v.threads.filter(isObj).flatMap((t) => {
        const id = nonEmpty(t.id);
        return id ? [{ id, projectID: str(t.projectID) ?? '', title: str(t.title) ?? 'Untitled', isPinned: t.isPinned === true }] : [];
      })
    : [];
  const messages = Array.isArray(v.messages) ? v.messages.map(parseMessage).filter((m): m is Message => m !== null) : [];
  const pendingRuntimeRequests = Array.isArray(v.pendingRuntimeRequests)
    ? v.pendingRuntimeRequests.map(normalizeRuntimeRequest).filter((r): r is RuntimeRequest => r !== null)
    : [];
  const capabilities: Record<string, boolean> = {};
  if (isObj(v.capabilities))
    for (const [k, val] of Object.entries(v.capabilities).slice(0, 32)) if (val === true && /^[A-Za-z0-9_.-]{1,64}$/.test(k)) capabilities[k] = true;
  const snap: Snapshot = { projects, threads, messages, pendingRuntimeRequests, capabilities };
  const sp = nonEmpty(v.selectedProjectID);
  if (sp) snap.selectedProjectID = sp;
  const st = nonEmpty(v.selectedThreadID);
  if (st) snap.selectedThreadID = st;
  if (isObj(v.turnState) && nonEmpty(v.turnState.threadID)) {
    snap.turnState = {
      threadID: v.turnState.threadID as string,
      isTurnInProgress: v.turnState.isTurnInProgress === true,
      isAwaitingRuntimeRequest: v.turnState.isAwaitingRuntimeRequest === true,
    };
  }
  return snap;
}

export function parseAck(v: unknown): CommandAck | null {
  if (!isObj(v)) return null;
  if (v.status !== 'accepted' && v.status !== 'rejected') return null;
  const ack: CommandAck = {
    commandSeq: typeof v.commandSeq === 'number' ? v.commandSeq : -1,
    commandID: str(v.commandID) ?? '',
    commandName: str(v.commandName) ?? '',
    status: v.status,
  };
  const reason = nonEmpty(v.reason);
  if (reason) ack.reason = reason;
  const t = nonEmpty(v.threadID);
  if (t) ack.threadID = t;
  return ack;
}

/** §2 / §7: either flag grants remote responses. */
export function canRespondFrom(v: { canRespondToRuntimeRequests?: unknown; supportsRuntimeRequests?: unknown }): boolean {
  return v.canRespondToRuntimeRequests === true || v.supportsRuntimeRequests === true;
}

// ---------- builders ----------
export function makeCommand(
  name: CommandName,
  commandID: string,
  fields: Partial<Omit<Command, 'name' | 'commandID'>> = {},
): Command {
  return {
    name,
    commandID,
    threadID: fields.threadID ?? null,
    projectID: fields.projectID ?? null,
    text: fields.text ?? null,
    runtimeRequestID: fields.runtimeRequestID ?? null,
    runtimeRequestKind: fields.runtimeRequestKind ?? null,
    runtimeRequestResponse: fields.runtimeRequestResponse ?? null,
    ...(fields.subscription ? { subscription: { ...fields.subscription } } : {}),
    ...(fields.kinds ? { kinds: { ...fields.kinds } } : {}),
    ...(fields.visible !== undefined ? { visible: fields.visible } : {}),
  };
}

export function makeCommandEnvelope(sessionID: string, seq: number, command: Command, now: Date = new Date()): Envelope {
  return {
    schemaVersion: SCHEMA_VERSION,
    sessionID,
    seq,
    timestamp: now.toISOString(),
    payload: { type: 'command', payload: command },
  };
}

export function makeSnapshotRequest(sessionID: string, reason: SnapshotReason, lastSeq: number | null): SnapshotRequest {
  const r: SnapshotRequest = { type: 'relay.snapshot_request', sessionID, reason };
  if (lastSeq !== null && Number.isSafeInteger(lastSeq) && lastSeq >= 0) r.lastSeq = lastSeq;
  return r;
}

/** Local pre-check mirroring the relay's per-command rules (RELAY §9.3); returns an error text or null. */
export function validateCommand(c: Command): string | null {
  if (!isCompactId(c.commandID)) return 'commandID must be a compact identifier.';
  switch (c.name) {
    case 'thread.send_message':
      if (!isCompactId(c.threadID)) return 'Pick a thread first.';
      if (c.text === null || c.text.trim() === '') return 'Message text cannot be empty.';
      if (utf8Bytes(c.text) > MAX_COMMAND_TEXT_BYTES) return `Message text exceeds ${MAX_COMMAND_TEXT_BYTES} bytes.`;
      return null;
    case 'thread.select':
    case 'thread.interrupt':
    case 'thread.load_earlier':
      return isCompactId(c.threadID) ? null : 'threadID must be a compact identifier.';
    case 'project.select':
      return isCompactId(c.projectID) ? null : 'projectID must be a compact identifier.';
    case 'runtime_request.respond': {
      if (c.runtimeRequestID === null || !/^[0-9]{0,32}$/.test(c.runtimeRequestID)) return 'runtimeRequestID must be numeric.';
      const r = c.runtimeRequestResponse;
      if (!r || typeof r !== 'object' || Array.isArray(r)) return 'runtime_request.respond requires runtimeRequestResponse.';
      const keys = Object.keys(r);
      if (keys.length === 0) return 'runtimeRequestResponse must include at least one response field.';
      for (const k of keys) {
        const val = (r as Record<string, unknown>)[k];
        if (val === null || val === undefined) return `runtimeRequestResponse.${k} must not be null.`;
      }
      if (r.optionID !== undefined && !isCompactId(r.optionID)) return 'runtimeRequestResponse.optionID must be a compact identifier.';
      if (r.scope !== undefined && (typeof r.scope !== 'string' || r.scope.trim() === '' || utf8Bytes(r.scope) > MAX_SCOPE_BYTES)) return 'runtimeRequestResponse.scope is not valid.';
      if (r.text !== undefined && (typeof r.text !== 'string' || utf8Bytes(r.text) > MAX_COMMAND_TEXT_BYTES)) return 'runtimeRequestResponse.text is too long.';
      if (r.permissions !== undefined && (!Array.isArray(r.permissions) || r.permissions.some((p) => p.trim() === '' || utf8Bytes(p) > MAX_PERMISSION_BYTES)))
        return 'runtimeRequestResponse.permissions contains an invalid value.';
      return null;
    }
    case 'push.subscribe':
      if (!validSubscriptionWire(c.subscription)) return 'The push subscription is not valid.';
      return parseKinds(c.kinds) ? null : 'push.subscribe needs all notification kinds.';
    case 'push.visibility':
      return typeof c.visible === 'boolean' ? null : 'push.visibility needs visible.';
    case 'push.unsubscribe':
      return null;
    default:
      return 'Command name is not allowed.';
  }
}

// ---------- human texts ----------
export const ACK_REASON_TEXT: Record<string, string> = {
  command_id_required: 'The command had no ID.',
  invalid_project: 'That project ID is not valid.',
  unknown_project: 'The desktop does not know that project.',
  invalid_thread: 'That thread ID is not valid.',
  unknown_thread: 'The desktop does not know that thread.',
  empty_message: 'Message is empty.',
  desktop_offline: 'The agent runtime on the desktop is offline.',
  thread_required: 'Pick a thread first.',
  runtime_request_required: 'This thread is waiting for an approval; answer it first.',
  desktop_busy: 'The desktop is busy with this thread. Try again when the turn finishes.',
  remote_runtime_requests_disabled: 'Remote approvals are disabled on the desktop.',
  invalid_runtime_request: 'The desktop could not interpret that response.',
  unknown_runtime_request: 'That request is no longer pending.',
  runtime_request_failed: 'The desktop failed to apply that response.',
};
export const ackReasonText = (reason: string | undefined): string =>
  (reason && ACK_REASON_TEXT[reason]) || 'The desktop rejected the command.';

export const DISCONNECT_TEXT: Record<string, string> = {
  device_revoked: 'This phone was removed from the desktop’s trusted devices.',
  stopped_by_desktop: 'The desktop ended the remote session.',
  idle_timeout: 'The remote session expired after being idle.',
  session_expired: 'The remote session has expired.',
  replaced_by_new_pair_start: 'The desktop started a new remote session.',
};
