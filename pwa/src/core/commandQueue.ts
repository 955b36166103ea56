// Outgoing command queue used while the socket is not authenticated (APP_SCHEMA §10). No DOM.
import { utf8Bytes } from './protocol';

export const QUEUE_MAX_ENVELOPES = 64;
export const QUEUE_MAX_BYTES = 256 * 1024;

export interface QueuedEnvelope {
  seq: number;
  commandID: string;
  name: string;
  threadID: string | null;
  /** serialised envelope, sent verbatim on flush */
  data: string;
  bytes: number;
}

export type EnqueueResult = { ok: true; dropped: QueuedEnvelope[] } | { ok: false; reason: 'too_large' };

export class CommandQueue {
  private items: QueuedEnvelope[] = [];
  private totalBytes = 0;

  constructor(
    readonly maxEnvelopes = QUEUE_MAX_ENVELOPES,
    readonly maxBytes = QUEUE_MAX_BYTES,
  ) {}

  get length(): number {
    return this.items.length;
  }
  get bytes(): number {
    return this.totalBytes;
  }
  list(): readonly QueuedEnvelope[] {
    return this.items;
  }

  /** Would an envelope of `bytes` be accepted at all? (checked before a seq is consumed) */
  fits(bytes: number): boolean {
    return bytes <= this.maxBytes;
  }

  static sizeOf(data: string): number {
    return utf8Bytes(data);
  }

  /** Append; evicts the oldest entries to respect both caps. */
  enqueue(entry: Omit<QueuedEnvelope, 'bytes'> & { bytes?: number }): EnqueueResult {
    const bytes = entry.bytes ?? utf8Bytes(entry.data);
    if (!this.fits(bytes)) return { ok: false, reason: 'too_large' };
    const dropped: QueuedEnvelope[] = [];
    while (this.items.length > 0 && (this.items.length + 1 > this.maxEnvelopes || this.totalBytes + bytes > this.maxBytes)) {
      const old = this.items.shift()!;
      this.totalBytes -= old.bytes;
      dropped.push(old);
    }
    this.items.push({ ...entry, bytes });
    this.totalBytes += bytes;
    return { ok: true, dropped };
  }

  /** Remove and return everything in order. */
  drain(): QueuedEnvelope[] {
    const out = this.items;
    this.items = [];
    this.totalBytes = 0;
    return out;
  }

  clear(): number {
    return this.drain().length;
  }
}
