import { describe, expect, it } from 'vitest';
import { sortProjectsByActivity } from '../src/core/projects';
import { connectionLabel, disconnectReasonText, TRANSIENT_DISCONNECT_TEXT } from '../src/core/connectionText';

const P = (id: string) => ({ id, name: id.toUpperCase() });
const T = (id: string, projectID: string) => ({ id, projectID, title: id, isPinned: false });
const M = (threadID: string, createdAt: string) => ({ id: `${threadID}-${createdAt}`, threadID, role: 'assistant' as const, text: 'x', createdAt });

describe('sortProjectsByActivity', () => {
  it('running first, then newest message, then desktop order', () => {
    const projects = [P('a'), P('b'), P('c'), P('d')];
    const threads = [T('t1', 'a'), T('t2', 'b'), T('t3', 'c'), T('t4', 'c')];
    const buckets = { t1: [M('t1', '2026-01-01T10:00:00Z')], t2: [M('t2', '2026-01-01T12:00:00Z')], t3: [M('t3', '2026-01-01T09:00:00Z')], t4: [M('t4', 'garbage')] };
    expect(sortProjectsByActivity(projects, threads, buckets).map((p) => p.id)).toEqual(['b', 'a', 'c', 'd']);
    expect(sortProjectsByActivity(projects, threads, buckets, { t3: true }).map((p) => p.id)).toEqual(['c', 'b', 'a', 'd']);
    expect(sortProjectsByActivity(projects, [], {}).map((p) => p.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('connection texts', () => {
  it('every transient relay reason has its own text', () => {
    const reasons = ['device_reconnected', 'slow_consumer', 'socket_rate_limited', 'heartbeat_timeout', 'message_too_large', 'relay_over_capacity', 'server_shutdown', 'retention_expired', 'removed_from_persistence', 'connection_lost', 'connect_timeout'];
    const texts = reasons.map(disconnectReasonText);
    expect(new Set(texts).size).toBe(reasons.length);
    for (const r of reasons) expect(TRANSIENT_DISCONNECT_TEXT[r]).toBeTruthy();
    expect(disconnectReasonText(null)).toBeNull();
    expect(disconnectReasonText('weird_new_reason')).toContain('weird_new_reason');
    expect(disconnectReasonText('x'.repeat(500))!.length).toBeLessThan(120);
  });
  it('labels', () => {
    expect(connectionLabel({ phase: 'online', attempt: 0, desktopConnected: false, stale: false }).text).toBe('Desktop offline');
    expect(connectionLabel({ phase: 'online', attempt: 0, desktopConnected: true, stale: true }).tone).toBe('warn');
    expect(connectionLabel({ phase: 'connecting', attempt: 2, desktopConnected: null, stale: false }).text).toBe('Reconnecting…');
  });
});
