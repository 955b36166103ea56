// Inbound sequence tracking (APP_SCHEMA §8.3, PWA variant). No DOM.

export type SeqOutcome =
  | { action: 'untracked' } // no numeric seq (relay control frames)
  | { action: 'ignore' } // negative / non-safe-integer
  | { action: 'accept' }
  | { action: 'stale'; expectedNext: number }
  | { action: 'gap'; expectedNext: number; received: number; requestSnapshot: boolean }
  | { action: 'await_snapshot' }; // non-snapshot dropped while waiting for a snapshot after a gap

export class SequenceTracker {
  lastSeen: number | null = null;
  awaitingSnapshot = false;

  reset(): void {
    this.lastSeen = null;
    this.awaitingSnapshot = false;
  }

  /** Process one incoming envelope seq. `isSnapshot` lets a snapshot resolve a gap. */
  ingest(seq: unknown, isSnapshot = false): SeqOutcome {
    if (typeof seq !== 'number') return { action: 'untracked' };
    if (!Number.isSafeInteger(seq) || seq < 0) return { action: 'ignore' };
    if (this.lastSeen === null) {
      this.lastSeen = seq;
      this.awaitingSnapshot = false;
      return { action: 'accept' };
    }
    if (seq <= this.lastSeen) return { action: 'stale', expectedNext: this.lastSeen + 1 };
    if (this.awaitingSnapshot) {
      if (!isSnapshot) return { action: 'await_snapshot' };
      this.lastSeen = seq;
      this.awaitingSnapshot = false;
      return { action: 'accept' };
    }
    if (seq === this.lastSeen + 1) {
      this.lastSeen = seq;
      return { action: 'accept' };
    }
    if (isSnapshot) {
      // A snapshot carries full state, so a jump to it is self-healing.
      this.lastSeen = seq;
      return { action: 'accept' };
    }
    this.awaitingSnapshot = true;
    return { action: 'gap', expectedNext: this.lastSeen + 1, received: seq, requestSnapshot: true };
  }
}
