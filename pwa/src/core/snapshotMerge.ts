// Synced data model and its pure merge rules (APP_SCHEMA §3.3 and §4). No DOM.
import type { AppEvent, Message, Project, RuntimeRequest, Snapshot, Thread } from './protocol';

export const MAX_MESSAGES_PER_THREAD = 240;
export const MAX_CACHED_THREADS = 50;

export type ReasoningState = 'idle' | 'started' | 'completed';

export interface SyncData {
  projects: Project[];
  threads: Thread[];
  /** desktop's selection, as last reported */
  desktopSelectedProjectID: string | null;
  desktopSelectedThreadID: string | null;
  /** project filter in the list: a project id or 'all' */
  projectFilter: string;
  /** the thread open on this phone (local selection) */
  openThreadID: string | null;
  /** message buckets by thread id (cache; survives snapshots that omit the thread) */
  buckets: Record<string, Message[]>;
  /** LRU clock per cached bucket */
  touchedAt: Record<string, number>;
  clock: number;
  running: Record<string, boolean>;
  unread: Record<string, boolean>;
  reasoning: Record<string, ReasoningState>;
  pendingRuntimeRequests: RuntimeRequest[];
  /** phone-local system messages (e.g. rejected command acks), kept outside the buckets */
  localMessages: Record<string, Message[]>;
  snapshotCount: number;
  /** the desktop's advertised optional features (last snapshot) */
  capabilities: Record<string, boolean>;
}

export function emptySyncData(): SyncData {
  return {
    projects: [],
    threads: [],
    desktopSelectedProjectID: null,
    desktopSelectedThreadID: null,
    projectFilter: 'all',
    openThreadID: null,
    buckets: {},
    touchedAt: {},
    clock: 0,
    running: {},
    unread: {},
    reasoning: {},
    pendingRuntimeRequests: [],
    localMessages: {},
    snapshotCount: 0,
    capabilities: {},
  };
}

/** De-duplicate by id (later wins, keeping the position of the last occurrence) and keep the newest `max`. */
export function dedupeAndTrim(messages: readonly Message[], max = MAX_MESSAGES_PER_THREAD): Message[] {
  const lastIndex = new Map<string, number>();
  messages.forEach((m, i) => lastIndex.set(m.id, i));
  const out = messages.filter((m, i) => lastIndex.get(m.id) === i);
  return out.length > max ? out.slice(out.length - max) : out;
}

const lastKey = (b: readonly Message[] | undefined): string => {
  const m = b && b.length > 0 ? b[b.length - 1] : undefined;
  return m ? `${m.id}:${m.createdAt}:${m.text}` : '';
};

export function reasoningOf(bucket: readonly Message[]): ReasoningState {
  for (let i = bucket.length - 1; i >= 0; i--) {
    const m = bucket[i];
    if (m.role !== 'system') continue;
    const first = m.text.split('\n', 1)[0];
    if (first.startsWith('Started reasoning:')) return 'started';
    if (first.startsWith('Completed reasoning:')) return 'completed';
  }
  return 'idle';
}

/** Evict least recently used buckets that are not open, until at most `max` remain. */
export function evictBuckets(d: SyncData, max = MAX_CACHED_THREADS): SyncData {
  const ids = Object.keys(d.buckets);
  if (ids.length <= max) return d;
  const candidates = ids.filter((id) => id !== d.openThreadID).sort((a, b) => (d.touchedAt[a] ?? 0) - (d.touchedAt[b] ?? 0));
  const buckets = { ...d.buckets };
  const touchedAt = { ...d.touchedAt };
  let n = ids.length;
  for (const id of candidates) {
    if (n <= max) break;
    delete buckets[id];
    delete touchedAt[id];
    n--;
  }
  return { ...d, buckets, touchedAt };
}

export function applySnapshot(d: SyncData, s: Snapshot): SyncData {
  const threadIDs = new Set(s.threads.map((t) => t.id));
  const projectIDs = new Set(s.projects.map((p) => p.id));
  let clock = d.clock;
  const buckets = { ...d.buckets };
  const touchedAt = { ...d.touchedAt };
  const unread: Record<string, boolean> = {};
  const running: Record<string, boolean> = {};
  const reasoning: Record<string, ReasoningState> = {};
  for (const id of threadIDs) {
    if (d.unread[id]) unread[id] = true;
    if (d.running[id]) running[id] = true;
    if (d.reasoning[id]) reasoning[id] = d.reasoning[id];
  }

  const grouped = new Map<string, Message[]>();
  for (const m of s.messages) {
    let g = grouped.get(m.threadID);
    if (!g) grouped.set(m.threadID, (g = []));
    g.push(m);
  }
  for (const [tid, msgs] of grouped) {
    const before = lastKey(d.buckets[tid]);
    const next = dedupeAndTrim(msgs);
    buckets[tid] = next;
    const after = lastKey(next);
    if (after !== before) {
      touchedAt[tid] = ++clock;
      if (tid !== d.openThreadID && before !== '' && threadIDs.has(tid)) unread[tid] = true;
    }
    if (threadIDs.has(tid)) reasoning[tid] = reasoningOf(next);
  }

  if (s.turnState && threadIDs.has(s.turnState.threadID)) {
    if (s.turnState.isTurnInProgress) running[s.turnState.threadID] = true;
    else delete running[s.turnState.threadID];
  }

  const projectFilter = d.projectFilter !== 'all' && !projectIDs.has(d.projectFilter) ? 'all' : d.projectFilter;
  const desktopSelectedThreadID = s.selectedThreadID && threadIDs.has(s.selectedThreadID) ? s.selectedThreadID : d.desktopSelectedThreadID;
  const desktopSelectedProjectID = s.selectedProjectID ? s.selectedProjectID : d.desktopSelectedProjectID;
  // A thread open on the phone that vanished from the desktop list is closed.
  const openThreadID = d.openThreadID && threadIDs.has(d.openThreadID) ? d.openThreadID : null;

  return evictBuckets({
    ...d,
    projects: s.projects,
    threads: s.threads,
    desktopSelectedProjectID,
    desktopSelectedThreadID,
    projectFilter,
    openThreadID,
    buckets,
    touchedAt,
    clock,
    running,
    unread,
    reasoning,
    pendingRuntimeRequests: s.pendingRuntimeRequests,
    snapshotCount: d.snapshotCount + 1,
    capabilities: s.capabilities ?? {},
  });
}

export type EventEffect = 'none' | 'request_snapshot';

export interface EventResult {
  data: SyncData;
  effect: EventEffect;
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

export function applyEvent(d: SyncData, e: AppEvent, now: () => number = Date.now): EventResult {
  switch (e.name) {
    case 'thread.message.append': {
      const tid = e.threadID;
      if (!tid) return { data: d, effect: 'none' };
      const bucket = d.buckets[tid] ?? [];
      const id = e.messageID && e.messageID.trim() !== '' ? e.messageID : `event-${now()}-${randomSuffix()}`;
      if (bucket.some((m) => m.id === id)) return { data: d, effect: 'none' };
      const role = e.role === 'user' || e.role === 'system' ? e.role : 'assistant';
      const msg: Message = { id, threadID: tid, role, text: e.body ?? '', createdAt: e.createdAt ?? new Date(now()).toISOString() };
      const next = dedupeAndTrim([...bucket, msg]);
      const clock = d.clock + 1;
      const data: SyncData = {
        ...d,
        buckets: { ...d.buckets, [tid]: next },
        touchedAt: { ...d.touchedAt, [tid]: clock },
        clock,
        unread: tid !== d.openThreadID ? { ...d.unread, [tid]: true } : d.unread,
        reasoning: { ...d.reasoning, [tid]: reasoningOf(next) },
      };
      return { data: evictBuckets(data), effect: 'none' };
    }
    case 'turn.status.update': {
      const tid = e.threadID;
      if (!tid) return { data: d, effect: 'none' };
      const running = { ...d.running };
      if (e.body === 'running') running[tid] = true;
      else delete running[tid];
      return { data: { ...d, running }, effect: 'none' };
    }
    case 'runtime_request.requested':
    case 'runtime_request.resolved':
    case 'runtime_request.responded':
      return { data: d, effect: 'request_snapshot' };
    default:
      return { data: d, effect: 'none' };
  }
}

/** Open a thread locally: clears unread, bumps LRU. */
export function openThread(d: SyncData, threadID: string | null): SyncData {
  if (threadID === null) return { ...d, openThreadID: null };
  const clock = d.clock + 1;
  const unread = { ...d.unread };
  delete unread[threadID];
  return { ...d, openThreadID: threadID, unread, clock, touchedAt: d.buckets[threadID] ? { ...d.touchedAt, [threadID]: clock } : d.touchedAt };
}

export function addLocalMessage(d: SyncData, m: Message, max = 20): SyncData {
  const list = [...(d.localMessages[m.threadID] ?? []).filter((x) => x.id !== m.id), m];
  return { ...d, localMessages: { ...d.localMessages, [m.threadID]: list.slice(-max) } };
}

/** Messages of a thread as shown: the synced bucket in desktop order, with local notices inserted by time. */
export function threadMessages(d: SyncData, threadID: string): Message[] {
  const synced = d.buckets[threadID] ?? [];
  const local = d.localMessages[threadID] ?? [];
  if (local.length === 0) return synced;
  const t = (m: Message) => {
    const v = Date.parse(m.createdAt);
    return Number.isNaN(v) ? 0 : v;
  };
  const out: Message[] = [];
  let li = 0;
  for (const m of synced) {
    while (li < local.length && t(local[li]) < t(m)) out.push(local[li++]);
    out.push(m);
  }
  while (li < local.length) out.push(local[li++]);
  return out;
}

export function setProjectFilter(d: SyncData, filter: string): SyncData {
  return { ...d, projectFilter: filter === 'all' || d.projects.some((p) => p.id === filter) ? filter : 'all' };
}
