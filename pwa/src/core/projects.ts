// Project chips ordered by activity: projects with a running turn first, then by the newest
// message among their threads, then the desktop's order. Pure.
import type { Message, Project, Thread } from './protocol';

function stamp(m: Message | undefined): number {
  if (!m) return -Infinity;
  const t = Date.parse(m.createdAt);
  return Number.isNaN(t) ? -Infinity : t;
}

export function projectActivity(
  projects: readonly Project[],
  threads: readonly Thread[],
  buckets: Readonly<Record<string, readonly Message[]>>,
  running: Readonly<Record<string, boolean>>,
): Map<string, { running: boolean; last: number }> {
  const act = new Map<string, { running: boolean; last: number }>();
  for (const p of projects) act.set(p.id, { running: false, last: -Infinity });
  for (const t of threads) {
    const a = act.get(t.projectID);
    if (!a) continue;
    const b = buckets[t.id];
    a.last = Math.max(a.last, stamp(b && b.length > 0 ? b[b.length - 1] : undefined));
    if (running[t.id]) a.running = true;
  }
  return act;
}

export function sortProjectsByActivity(
  projects: readonly Project[],
  threads: readonly Thread[],
  buckets: Readonly<Record<string, readonly Message[]>>,
  running: Readonly<Record<string, boolean>> = {},
): Project[] {
  const act = projectActivity(projects, threads, buckets, running);
  return projects
    .map((p, i) => ({ p, i, a: act.get(p.id)! }))
    .sort((x, y) => Number(y.a.running) - Number(x.a.running) || (y.a.last > x.a.last ? 1 : y.a.last < x.a.last ? -1 : 0) || x.i - y.i)
    .map((x) => x.p);
}
