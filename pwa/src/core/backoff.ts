// Reconnect delay: min(15 s, 1 s × 2^attempt) plus up to 20 % jitter. No DOM.
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 15_000;
export const BACKOFF_JITTER = 0.2;

export function backoffBase(attempt: number): number {
  const a = Math.max(0, Math.floor(attempt));
  if (a >= 14) return BACKOFF_MAX_MS; // avoid huge powers
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** a);
}

/** `random` returns [0,1); injectable for tests. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = backoffBase(attempt);
  const r = Math.min(Math.max(random(), 0), 0.999999);
  return Math.round(base + base * BACKOFF_JITTER * r);
}
