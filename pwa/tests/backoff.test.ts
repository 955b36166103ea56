import { describe, expect, it } from 'vitest';
import { backoffBase, backoffDelay } from '../src/core/backoff';

describe('backoff schedule', () => {
  it('doubles from 1 s and caps at 15 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20, 1000].map(backoffBase)).toEqual([1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000, 15000]);
  });
  it('adds 0..20 % jitter on top of the base', () => {
    expect(backoffDelay(0, () => 0)).toBe(1000);
    expect(backoffDelay(2, () => 0.5)).toBe(4400);
    expect(backoffDelay(10, () => 0.999)).toBeLessThanOrEqual(18000);
    expect(backoffDelay(10, () => 0.999)).toBeGreaterThan(17900);
  });
  it('treats negative attempts as 0', () => {
    expect(backoffBase(-3)).toBe(1000);
  });
});
