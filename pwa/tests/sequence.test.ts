import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../src/core/sequence';

const at = (last: number | null) => {
  const t = new SequenceTracker();
  if (last !== null) t.ingest(last);
  return t;
};

// Scenario 115
describe('sequence tracking (115)', () => {
  it('(none, 3) accepts and adopts 3', () => {
    const t = at(null);
    expect(t.ingest(3)).toEqual({ action: 'accept' });
    expect(t.lastSeen).toBe(3);
  });
  it('(3, 4) accepts and advances to 4', () => {
    const t = at(3);
    expect(t.ingest(4)).toEqual({ action: 'accept' });
    expect(t.lastSeen).toBe(4);
  });
  it('(3, 6) is a gap that requests a snapshot and stays at 3', () => {
    const t = at(3);
    expect(t.ingest(6)).toEqual({ action: 'gap', expectedNext: 4, received: 6, requestSnapshot: true });
    expect(t.lastSeen).toBe(3);
  });
  it('(3, 2) and (3, 3) are stale', () => {
    const t = at(3);
    expect(t.ingest(2)).toEqual({ action: 'stale', expectedNext: 4 });
    expect(t.ingest(3)).toEqual({ action: 'stale', expectedNext: 4 });
    expect(t.lastSeen).toBe(3);
  });
  it('(3, -1), fractional and unsafe seqs are ignored; non-numbers are untracked', () => {
    const t = at(3);
    expect(t.ingest(-1)).toEqual({ action: 'ignore' });
    expect(t.ingest(4.5)).toEqual({ action: 'ignore' });
    expect(t.ingest(2 ** 60)).toEqual({ action: 'ignore' });
    expect(t.ingest(undefined)).toEqual({ action: 'untracked' });
    expect(t.ingest('4')).toEqual({ action: 'untracked' });
    expect(t.lastSeen).toBe(3);
  });
  it('after a gap, non-snapshots are dropped until a snapshot arrives, whose seq is adopted', () => {
    const t = at(3);
    t.ingest(6);
    expect(t.ingest(7)).toEqual({ action: 'await_snapshot' });
    expect(t.ingest(4)).toEqual({ action: 'await_snapshot' });
    expect(t.ingest(9, true)).toEqual({ action: 'accept' });
    expect(t.lastSeen).toBe(9);
    expect(t.ingest(10)).toEqual({ action: 'accept' });
  });
  it('a stale snapshot is ignored', () => {
    const t = at(10);
    expect(t.ingest(8, true)).toEqual({ action: 'stale', expectedNext: 11 });
  });
  it('reset forgets the last seq', () => {
    const t = at(100);
    t.reset();
    expect(t.ingest(1)).toEqual({ action: 'accept' });
  });
});
