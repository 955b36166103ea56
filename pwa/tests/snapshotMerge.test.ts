import { describe, expect, it } from 'vitest';
import type { Message, Snapshot } from '../src/core/protocol';
import { parseSnapshot } from '../src/core/protocol';
import { addLocalMessage, applyEvent, applySnapshot, dedupeAndTrim, emptySyncData, evictBuckets, openThread, setProjectFilter, threadMessages } from '../src/core/snapshotMerge';

const msg = (id: string, threadID: string, text = id, createdAt = '2026-03-12T06:22:49Z', role: Message['role'] = 'assistant'): Message => ({ id, threadID, role, text, createdAt });
const snap = (over: Partial<Snapshot> = {}): Snapshot => ({
  projects: [{ id: 'P1', name: 'General' }, { id: 'P2', name: 'Other' }],
  threads: [
    { id: 'T1', projectID: 'P1', title: 'One', isPinned: false },
    { id: 'T2', projectID: 'P2', title: 'Two', isPinned: true },
  ],
  messages: [],
  pendingRuntimeRequests: [],
  ...over,
});

describe('snapshot merge (§3.3)', () => {
  it('replaces lists wholesale and tolerates missing arrays', () => {
    const s = parseSnapshot({ threads: [{ id: 'T9', projectID: 'P', title: 'x', isPinned: false }] })!;
    expect(s.projects).toEqual([]);
    expect(s.messages).toEqual([]);
    expect(s.pendingRuntimeRequests).toEqual([]);
    const d = applySnapshot(applySnapshot(emptySyncData(), snap()), s);
    expect(d.threads.map((t) => t.id)).toEqual(['T9']);
    expect(d.projects).toEqual([]);
  });

  it('replaces a present thread bucket and keeps buckets of absent threads (history survives)', () => {
    let d = applySnapshot(emptySyncData(), snap({ messages: [msg('a', 'T1'), msg('b', 'T1'), msg('x', 'T2')] }));
    d = applySnapshot(d, snap({ messages: [msg('b', 'T1', 'b grown'), msg('c', 'T1')] }));
    expect(d.buckets.T1.map((m) => `${m.id}:${m.text}`)).toEqual(['b:b grown', 'c:c']);
    expect(d.buckets.T2.map((m) => m.id)).toEqual(['x']);
  });

  it('de-duplicates by id (later wins) and trims to the newest 240', () => {
    expect(dedupeAndTrim([msg('a', 'T'), msg('b', 'T'), msg('a', 'T', 'a2')]).map((m) => `${m.id}:${m.text}`)).toEqual(['b:b', 'a:a2']);
    const many = Array.from({ length: 300 }, (_, i) => msg(`m${i}`, 'T1'));
    const d = applySnapshot(emptySyncData(), snap({ messages: many }));
    expect(d.buckets.T1).toHaveLength(240);
    expect(d.buckets.T1[0].id).toBe('m60');
    expect(d.buckets.T1[239].id).toBe('m299');
  });

  it('marks a non-open thread unread when its last message changes', () => {
    let d = applySnapshot(emptySyncData(), snap({ messages: [msg('a', 'T1'), msg('x', 'T2')] }));
    d = openThread(d, 'T2');
    expect(d.unread).toEqual({});
    d = applySnapshot(d, snap({ messages: [msg('a', 'T1'), msg('b', 'T1'), msg('x', 'T2'), msg('y', 'T2')] }));
    expect(d.unread).toEqual({ T1: true });
    d = openThread(d, 'T1');
    expect(d.unread).toEqual({});
  });

  it('adopts selection only when valid and resets a vanished project filter', () => {
    let d = applySnapshot(emptySyncData(), snap({ selectedThreadID: 'T2', selectedProjectID: 'P2' }));
    expect(d.desktopSelectedThreadID).toBe('T2');
    d = setProjectFilter(d, 'P2');
    expect(d.projectFilter).toBe('P2');
    d = applySnapshot(d, snap({ projects: [{ id: 'P1', name: 'General' }], selectedThreadID: 'NOPE' }));
    expect(d.projectFilter).toBe('all');
    expect(d.desktopSelectedThreadID).toBe('T2');
  });

  it('turnState and turn.status.update drive the running flag; unlisted threads drop flags', () => {
    let d = applySnapshot(emptySyncData(), snap({ turnState: { threadID: 'T1', isTurnInProgress: true, isAwaitingRuntimeRequest: false } }));
    expect(d.running).toEqual({ T1: true });
    d = applyEvent(d, { name: 'turn.status.update', threadID: 'T2', body: 'running' }).data;
    expect(d.running).toEqual({ T1: true, T2: true });
    d = applyEvent(d, { name: 'turn.status.update', threadID: 'T1', body: 'idle' }).data;
    expect(d.running).toEqual({ T2: true });
    d = applySnapshot(d, snap({ threads: [{ id: 'T1', projectID: 'P1', title: 'One', isPinned: false }] }));
    expect(d.running).toEqual({});
  });

  it('derives reasoning state from the latest reasoning system message', () => {
    const d = applySnapshot(
      emptySyncData(),
      snap({ messages: [msg('r1', 'T1', 'Started reasoning: plan\nmore', undefined, 'system'), msg('a', 'T1', 'text')] }),
    );
    expect(d.reasoning.T1).toBe('started');
    const d2 = applySnapshot(d, snap({ messages: [msg('r1', 'T1', 'Started reasoning: plan', undefined, 'system'), msg('r2', 'T1', 'Completed reasoning: ok', undefined, 'system')] }));
    expect(d2.reasoning.T1).toBe('completed');
  });
});

describe('events (§4)', () => {
  it('thread.message.append appends unless the id is already present', () => {
    let d = applySnapshot(emptySyncData(), snap({ messages: [msg('a', 'T1')] }));
    d = applyEvent(d, { name: 'thread.message.append', threadID: 'T1', body: 'hi', messageID: 'b', role: 'user', createdAt: 'c' }).data;
    d = applyEvent(d, { name: 'thread.message.append', threadID: 'T1', body: 'dup', messageID: 'b', role: 'user' }).data;
    expect(d.buckets.T1.map((m) => `${m.id}:${m.text}:${m.role}`)).toEqual(['a:a:assistant', 'b:hi:user']);
  });

  it('missing messageID gets a synthetic id; unknown roles become assistant', () => {
    const d = applyEvent(emptySyncData(), { name: 'thread.message.append', threadID: 'T1', body: 'x', role: 'tool' }, () => 42).data;
    expect(d.buckets.T1[0].id).toMatch(/^event-42-/);
    expect(d.buckets.T1[0].role).toBe('assistant');
  });

  it('append caps the bucket at 240', () => {
    let d = applySnapshot(emptySyncData(), snap({ messages: Array.from({ length: 240 }, (_, i) => msg(`m${i}`, 'T1')) }));
    d = applyEvent(d, { name: 'thread.message.append', threadID: 'T1', body: 'new', messageID: 'new' }).data;
    expect(d.buckets.T1).toHaveLength(240);
    expect(d.buckets.T1[0].id).toBe('m1');
    expect(d.buckets.T1.at(-1)!.id).toBe('new');
  });

  it('runtime request events ask for a snapshot; unknown events are ignored', () => {
    const d = emptySyncData();
    expect(applyEvent(d, { name: 'runtime_request.requested', body: 'x' }).effect).toBe('request_snapshot');
    expect(applyEvent(d, { name: 'runtime_request.resolved' }).effect).toBe('request_snapshot');
    expect(applyEvent(d, { name: 'runtime_request.responded' }).effect).toBe('request_snapshot');
    const r = applyEvent(d, { name: 'approval.requested' });
    expect(r.effect).toBe('none');
    expect(r.data).toBe(d);
  });
});

describe('cache bounds', () => {
  it('evicts least recently used unopened buckets beyond the thread bound', () => {
    let d = emptySyncData();
    for (let i = 0; i < 5; i++) d = applyEvent(d, { name: 'thread.message.append', threadID: `T${i}`, body: 'x', messageID: `m${i}` }).data;
    d = openThread(d, 'T0'); // open → protected even though oldest... and touched
    d = applyEvent(d, { name: 'thread.message.append', threadID: 'T1', body: 'y', messageID: 'm1b' }).data; // T1 touched
    d = evictBuckets(d, 3);
    expect(Object.keys(d.buckets).sort()).toEqual(['T0', 'T1', 'T4']);
  });

  it('never evicts the open thread', () => {
    let d = emptySyncData();
    d = applyEvent(d, { name: 'thread.message.append', threadID: 'OPEN', body: 'x', messageID: 'o' }).data;
    d = { ...d, openThreadID: 'OPEN' };
    for (let i = 0; i < 60; i++) d = applyEvent(d, { name: 'thread.message.append', threadID: `T${i}`, body: 'x', messageID: `m${i}` }).data;
    expect(Object.keys(d.buckets)).toHaveLength(50);
    expect(d.buckets.OPEN).toBeDefined();
    expect(d.buckets.T0).toBeUndefined();
    expect(d.buckets.T59).toBeDefined();
  });
});

describe('local messages', () => {
  it('survive snapshots and are interleaved by time without reordering synced messages', () => {
    let d = applySnapshot(emptySyncData(), snap({ messages: [msg('a', 'T1', 'a', '2026-01-01T00:00:02Z'), msg('b', 'T1', 'b', '2026-01-01T00:00:01Z'), msg('c', 'T1', 'c', '2026-01-01T00:00:05Z')] }));
    d = addLocalMessage(d, msg('local-1', 'T1', 'rejected', '2026-01-01T00:00:03Z', 'system'));
    d = applySnapshot(d, snap({ messages: [msg('a', 'T1', 'a', '2026-01-01T00:00:02Z'), msg('b', 'T1', 'b', '2026-01-01T00:00:01Z'), msg('c', 'T1', 'c', '2026-01-01T00:00:05Z')] }));
    expect(threadMessages(d, 'T1').map((m) => m.id)).toEqual(['a', 'b', 'local-1', 'c']);
  });
});
