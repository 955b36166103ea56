// Transcript paging: the newest PAGE_SIZE messages first, "show earlier" adds a page above while
// the first visible message stays where it was on screen, "jump to latest" returns to the tail.
// Pure helpers; the UI owns the DOM measurements.

export const PAGE_SIZE = 50;
/** Distance from the bottom (px) that still counts as "at the latest message". */
export const NEAR_BOTTOM_PX = 80;

export interface PageWindow {
  /** index of the first rendered message */
  start: number;
  /** messages above the window */
  earlier: number;
}

/**
 * The rendered window. `firstID` = id of the first rendered message chosen by "show earlier"
 * (null = follow the latest page). A firstID that vanished (trimmed from the cache) falls back to
 * the oldest message still there, so the reader's place is never pushed down.
 */
export function pageWindow(ids: readonly string[], firstID: string | null, pageSize = PAGE_SIZE): PageWindow {
  const latest = Math.max(0, ids.length - pageSize);
  if (firstID === null) return { start: latest, earlier: latest };
  const i = ids.indexOf(firstID);
  const start = i < 0 ? 0 : Math.min(i, latest);
  return { start, earlier: start };
}

/** firstID after "show earlier": one more page above the current window. */
export function showEarlier(ids: readonly string[], firstID: string | null, pageSize = PAGE_SIZE): string | null {
  if (ids.length === 0) return null;
  const { start } = pageWindow(ids, firstID, pageSize);
  return ids[Math.max(0, start - pageSize)];
}

/** scrollTop that keeps an anchor element at the same visual offset after content was added above it. */
export function anchoredScrollTop(scrollTopBefore: number, anchorTopBefore: number, anchorTopAfter: number): number {
  return Math.max(0, scrollTopBefore + (anchorTopAfter - anchorTopBefore));
}

export function isNearBottom(scrollHeight: number, scrollTop: number, clientHeight: number, threshold = NEAR_BOTTOM_PX): boolean {
  return scrollHeight - scrollTop - clientHeight < threshold;
}

/** Number of messages that arrived after `seenID` (the last message the reader saw at the bottom). */
export function unseenCount(ids: readonly string[], seenID: string | null): number {
  if (seenID === null) return 0;
  const i = ids.lastIndexOf(seenID);
  return i < 0 ? 0 : ids.length - 1 - i;
}
