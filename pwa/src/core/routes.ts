// Hash routes: `#/` (thread list) and `#/t/<threadId>` (one thread). They never collide with the
// pair-link fragment (`#sid=…&jt=…`), which is consumed and removed before routing. Pure.
import { isCompactId } from './protocol';

export type Route = { view: 'list' } | { view: 'thread'; threadID: string };

export const LIST_ROUTE: Route = { view: 'list' };

/** A pair-link fragment or query, which is not a route. */
export function isJoinFragment(hashOrSearch: string): boolean {
  const s = hashOrSearch.replace(/^[#?]/, '');
  return /(^|&)sid=/.test(s) && /(^|&)jt=/.test(s);
}

/** Parse `location.hash`. Unknown or malformed fragments (and the pair link) map to the list. */
export function parseRoute(hash: string): Route {
  const m = /^#\/t\/([^/?#]+)\/?$/.exec(hash);
  if (!m) return LIST_ROUTE;
  let id: string;
  try {
    id = decodeURIComponent(m[1]);
  } catch {
    return LIST_ROUTE;
  }
  return isCompactId(id) ? { view: 'thread', threadID: id } : LIST_ROUTE;
}

export function formatRoute(r: Route): string {
  return r.view === 'thread' ? `#/t/${encodeURIComponent(r.threadID)}` : '#/';
}

export function sameRoute(a: Route, b: Route): boolean {
  return a.view === b.view && (a.view === 'list' || a.threadID === (b as { threadID: string }).threadID);
}

/**
 * Navigation plan from `current` to `next`: push a history entry when leaving the list (so Back
 * returns to it), replace when switching threads or when going back without an entry of ours.
 * `back` = use history.back() because the entry below is our list.
 */
export function planNavigation(current: Route, next: Route, pushedByUs: boolean): 'none' | 'push' | 'replace' | 'back' {
  if (sameRoute(current, next)) return 'none';
  if (next.view === 'list') return current.view === 'thread' && pushedByUs ? 'back' : 'replace';
  return current.view === 'list' ? 'push' : 'replace';
}

/** What to do with a thread route once data arrived: open it, wait for the first snapshot, or fall back to the list. */
export function resolveThreadRoute(route: Route, knownThreadIDs: readonly string[], snapshotCount: number): 'open' | 'wait' | 'missing' | 'list' {
  if (route.view === 'list') return 'list';
  if (knownThreadIDs.includes(route.threadID)) return 'open';
  return snapshotCount === 0 ? 'wait' : 'missing';
}
