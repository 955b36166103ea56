import { describe, expect, it } from 'vitest';
import { anchoredScrollTop, isNearBottom, pageWindow, PAGE_SIZE, showEarlier, unseenCount } from '../src/core/paging';

const ids = Array.from({ length: 130 }, (_, i) => `m${i}`);
describe('paging', () => {
  it('shows the newest page, then one more page per "show earlier"', () => {
    expect(PAGE_SIZE).toBe(50);
    expect(pageWindow(ids, null)).toEqual({ start: 80, earlier: 80 });
    const f1 = showEarlier(ids, null);
    expect(f1).toBe('m30');
    expect(pageWindow(ids, f1)).toEqual({ start: 30, earlier: 30 });
    const f2 = showEarlier(ids, f1);
    expect(f2).toBe('m0');
    expect(pageWindow(ids, f2).earlier).toBe(0);
    expect(showEarlier(ids, f2)).toBe('m0');
    expect(pageWindow(ids.slice(0, 10), null)).toEqual({ start: 0, earlier: 0 });
    expect(showEarlier([], null)).toBeNull();
  });
  it('keeps the window start when new messages arrive', () => {
    const f = showEarlier(ids, null)!;
    const more = [...ids, 'm130', 'm131'];
    expect(pageWindow(more, f).start).toBe(30);
  });
  it('falls back to the oldest kept message when the anchor was trimmed', () => {
    expect(pageWindow(ids.slice(40), 'm10')).toEqual({ start: 0, earlier: 0 });
  });
  it('scroll anchoring and bottom detection', () => {
    expect(anchoredScrollTop(0, 20, 1520)).toBe(1500);
    expect(anchoredScrollTop(300, 400, 400)).toBe(300);
    expect(anchoredScrollTop(0, 500, 100)).toBe(0);
    expect(isNearBottom(1000, 500, 450)).toBe(true);
    expect(isNearBottom(1000, 100, 450)).toBe(false);
  });
  it('counts unseen messages', () => {
    expect(unseenCount(ids, 'm127')).toBe(2);
    expect(unseenCount(ids, null)).toBe(0);
    expect(unseenCount(ids, 'gone')).toBe(0);
  });
});
