// One transcript message: markdown, cards (command output, file change, diff), reasoning,
// notices and system lines; long ones collapse. Markdown comes from core/markdown's safe tree:
// every string is a text child, so no markup from a message can reach the DOM.
import { h, type ComponentChildren, type VNode } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { parseMarkdown, type MdNode } from '../core/markdown';
import { classifyMessage, diffLines, isLongText, type MessageView } from '../core/messageKind';
import type { Message } from '../core/protocol';
import { copyText } from './hooks';

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<'' | 'ok' | 'fail'>('');
  return (
    <button
      type="button"
      class="copy"
      data-testid="copy-code"
      onClick={() => {
        void copyText(text).then((ok) => {
          setDone(ok ? 'ok' : 'fail');
          setTimeout(() => setDone(''), 1500);
        });
      }}
    >
      {done === 'ok' ? 'Copied' : done === 'fail' ? 'Copy failed' : label}
    </button>
  );
}

function CodeBlock({ code, lang }: { code: string; lang?: string }) {
  return (
    <div class="codeblock" data-testid="code-block">
      <div class="code-head">
        <span class="muted small">{lang ?? 'code'}</span>
        <CopyButton text={code} />
      </div>
      <pre tabIndex={0}>
        <code>{code}</code>
      </pre>
    </div>
  );
}

function renderNodes(nodes: readonly MdNode[], keyPrefix = ''): ComponentChildren[] {
  return nodes.map((n, i) => {
    if (typeof n === 'string') return n;
    const key = `${keyPrefix}${i}`;
    const kids = renderNodes(n.children, `${key}.`);
    switch (n.tag) {
      case 'pre':
        return <CodeBlock key={key} code={n.children.join('')} lang={n.lang} />;
      case 'a':
        return (
          <a key={key} href={n.href} target="_blank" rel="noopener noreferrer nofollow">
            {kids}
          </a>
        );
      case 'input':
        return <input key={key} type="checkbox" checked={n.checked} disabled aria-label={n.checked ? 'done' : 'not done'} />;
      case 'ol':
        return h('ol', { key, start: n.start }, kids);
      case 'table':
        return (
          <div key={key} class="table-wrap" tabIndex={0} role="region" aria-label="table">
            <table>{kids}</table>
          </div>
        );
      case 'br':
      case 'hr':
        return h(n.tag, { key });
      default:
        return h(n.tag, { key }, kids);
    }
  });
}

export function Markdown({ text }: { text: string }) {
  const nodes = useMemo(() => parseMarkdown(text), [text]);
  return <div class="md">{renderNodes(nodes) as VNode[]}</div>;
}

function Collapsible({ long, children }: { long: boolean; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  if (!long) return <>{children}</>;
  return (
    <div class={`collapsible ${open ? 'open' : 'closed'}`} data-testid="collapsible" data-open={String(open)}>
      <div class="collapsible-body">{children}</div>
      <button type="button" class="link small more" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="collapse-toggle">
        {open ? 'Show less' : 'Show more'}
      </button>
    </div>
  );
}

function DiffView({ diff }: { diff: string }) {
  const lines = useMemo(() => diffLines(diff), [diff]);
  return (
    <pre class="diff" data-testid="diff" tabIndex={0}>
      {lines.map((l, i) => (
        <span key={i} class={`dl ${l.kind}`}>
          {l.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}

function Card({ v }: { v: MessageView }) {
  switch (v.kind) {
    case 'command': {
      const failed = v.exitCode !== null ? v.exitCode !== 0 : /declined|failed/.test(v.status);
      return (
        <details class={`card cmd ${failed ? 'failed' : ''}`} data-testid="command-card" open={v.output !== '' && !isLongText(v.output)}>
          <summary>
            <span class="card-kind">Command</span> <code class="mono">{v.command}</code>
            {v.status && <span class={`pill ${failed ? 'bad' : 'run'}`}>{v.status}</span>}
          </summary>
          {v.output ? (
            <pre class="output" tabIndex={0}>
              {v.output}
            </pre>
          ) : <p class="muted small">No output.</p>}
        </details>
      );
    }
    case 'fileChange':
      return (
        <details class="card file" data-testid="file-card" open={v.diff !== '' && !isLongText(v.diff)}>
          <summary>
            <span class="card-kind">{v.paths.length === 1 ? 'File changed' : `${v.paths.length} files changed`}</span>
            {v.status && <span class="pill run">{v.status}</span>}
          </summary>
          <ul class="paths">
            {v.paths.map((p) => (
              <li key={p} class="mono small">
                {p}
              </li>
            ))}
          </ul>
          {v.diff && <DiffView diff={v.diff} />}
        </details>
      );
    case 'diff':
      return (
        <details class="card file" data-testid="diff-card" open={!isLongText(v.diff)}>
          <summary>
            <span class="card-kind">Diff</span>
          </summary>
          <DiffView diff={v.diff} />
        </details>
      );
    case 'reasoning':
      return (
        <details class="reasoning" data-testid="reasoning">
          <summary>{v.phase === 'started' ? 'Thinking…' : 'Reasoning'}</summary>
          <div class="reasoning-text">{v.text || 'No summary.'}</div>
        </details>
      );
    default:
      return null;
  }
}

export function MessageItem({ m }: { m: Message }) {
  const v = useMemo(() => classifyMessage(m), [m.role, m.text]);
  const time = timeOf(m.createdAt);
  const common = { 'data-testid': 'message', 'data-role': m.role, 'data-kind': v.kind, 'data-message-id': m.id };
  if (v.kind === 'user' || v.kind === 'markdown') {
    return (
      <div class={`msg ${m.role}`} {...common}>
        <div class="bubble">
          <Collapsible long={isLongText(m.text)}>{v.kind === 'markdown' ? <Markdown text={v.text} /> : <div class="plain">{v.text}</div>}</Collapsible>
        </div>
        {time && (
          <div class="meta">
            <time dateTime={m.createdAt}>{time}</time>
          </div>
        )}
      </div>
    );
  }
  if (v.kind === 'notice' || v.kind === 'system') {
    return (
      <div class={`msg system k-${v.kind}`} {...common}>
        <div class="bubble">
          <Collapsible long={isLongText(v.text)}>{v.text}</Collapsible>
        </div>
      </div>
    );
  }
  return (
    <div class="msg tool" {...common}>
      <Card v={v} />
    </div>
  );
}
