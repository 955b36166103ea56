// Thread list with project chips (sorted by activity; choosing one also sends project.select).
import { useMemo } from 'preact/hooks';
import type { ClientState, RemoteClient } from '../core/client';
import { previewText } from '../core/messageKind';
import { sortProjectsByActivity } from '../core/projects';
import type { Thread } from '../core/protocol';
import { ApprovalCard } from './Approval';

export function Sidebar({ client, s, onOpen }: { client: RemoteClient; s: ClientState; onOpen: (id: string) => void }) {
  const d = s.data;
  const pendingByThread = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of d.pendingRuntimeRequests) if (r.threadID) m.set(r.threadID, (m.get(r.threadID) ?? 0) + 1);
    return m;
  }, [d.pendingRuntimeRequests]);
  const projects = useMemo(() => sortProjectsByActivity(d.projects, d.threads, d.buckets, d.running), [d.projects, d.threads, d.buckets, d.running]);
  const threads = d.threads.filter((t) => d.projectFilter === 'all' || t.projectID === d.projectFilter);
  const sorted = [...threads.filter((t) => t.isPinned), ...threads.filter((t) => !t.isPinned)];
  const projectName = (id: string) => d.projects.find((p) => p.id === id)?.name ?? '';
  const orphanRequests = d.pendingRuntimeRequests.filter((r) => !r.threadID || !d.threads.some((t) => t.id === r.threadID));
  const queued = s.outgoing.filter((o) => o.status === 'queued').length;
  const choose = (id: string) => {
    client.setProjectFilter(id);
    if (id !== 'all' && s.phase === 'online' && s.desktopConnected !== false) client.sendCommand('project.select', { projectID: id });
  };

  return (
    <div class="sidebar-inner">
      {queued > 0 && (
        <div class="banner warn small" data-testid="queue-banner" role="status">
          {queued} message{queued === 1 ? '' : 's'} waiting to send.{' '}
          <button class="link" onClick={() => client.discardQueued()}>
            Discard
          </button>
        </div>
      )}
      {projects.length > 0 && (
        <nav class="chips" aria-label="Projects" data-testid="projects">
          <button class={`chip ${d.projectFilter === 'all' ? 'on' : ''}`} aria-pressed={d.projectFilter === 'all'} onClick={() => choose('all')}>
            All
          </button>
          {projects.map((p) => (
            <button key={p.id} class={`chip ${d.projectFilter === p.id ? 'on' : ''}`} aria-pressed={d.projectFilter === p.id} onClick={() => choose(p.id)} data-testid="project-chip" data-project-id={p.id}>
              {p.name}
            </button>
          ))}
        </nav>
      )}
      {orphanRequests.length > 0 && (
        <div class="orphans">
          {orphanRequests.map((r) => (
            <ApprovalCard key={r.requestID} client={client} s={s} req={r} />
          ))}
        </div>
      )}
      <ul class="threads" data-testid="thread-list" aria-label="Threads">
        {sorted.length === 0 && <li class="muted pad">{d.snapshotCount === 0 ? 'Loading threads…' : 'No threads.'}</li>}
        {sorted.map((t) => (
          <ThreadRow
            key={t.id}
            t={t}
            active={t.id === d.openThreadID}
            project={d.projectFilter === 'all' ? projectName(t.projectID) : ''}
            running={!!d.running[t.id]}
            unread={!!d.unread[t.id]}
            pending={pendingByThread.get(t.id) ?? 0}
            preview={previewText(d.buckets[t.id] ?? [])}
            onOpen={onOpen}
          />
        ))}
      </ul>
      <footer class="sidebar-foot">
        <span class="muted small ellipsis">{s.paired?.deviceName}</span>
        <button
          class="link small"
          onClick={() => {
            if (confirm('Forget this desktop? You will need a new link to pair again.')) client.forget();
          }}
        >
          Forget desktop
        </button>
      </footer>
    </div>
  );
}

function ThreadRow(p: { t: Thread; active: boolean; project: string; running: boolean; unread: boolean; pending: number; preview: string; onOpen: (id: string) => void }) {
  return (
    <li>
      <button class={`thread-row ${p.active ? 'active' : ''}`} onClick={() => p.onOpen(p.t.id)} data-testid="thread-row" data-thread-id={p.t.id} aria-current={p.active ? 'page' : undefined}>
        <div class="thread-title">
          {p.t.isPinned && (
            <svg class="pin" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M10 1l5 5-2 1-3 3 .5 3.5L9 15l-3-3-4 4-1-1 4-4-3-3 1.5-1.5L7 6l3-3z" fill="currentColor" />
            </svg>
          )}
          <span class={`ellipsis ${p.unread ? 'bold' : ''}`}>{p.t.title || 'Untitled'}</span>
          {p.unread && <span class="badge dot-badge" aria-hidden="true" />}
          {p.unread && <span class="sr-only">, unread</span>}
        </div>
        <div class="thread-meta">
          {p.running && <span class="pill run">running</span>}
          {p.pending > 0 && <span class="pill warn">{p.pending} approval{p.pending === 1 ? '' : 's'}</span>}
          {p.project && <span class="muted">{p.project}</span>}
          {p.preview && <span class="muted snippet" data-testid="thread-preview">{p.preview}</span>}
        </div>
      </button>
    </li>
  );
}
