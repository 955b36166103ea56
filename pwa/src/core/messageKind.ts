// How one transcript message is shown: agent markdown, a command-output card, a file-change/diff
// card, reasoning, an outcome notice, or a system/transport line that stays out of the
// conversation (and of thread previews) unless the user asks for system messages. Pure, no DOM.
import type { Message } from './protocol';

export type MessageView =
  | { kind: 'user'; text: string }
  | { kind: 'markdown'; text: string }
  | { kind: 'command'; command: string; status: string; exitCode: number | null; output: string }
  | { kind: 'fileChange'; paths: string[]; status: string; diff: string }
  | { kind: 'diff'; diff: string }
  | { kind: 'reasoning'; phase: 'started' | 'completed'; text: string }
  | { kind: 'notice'; text: string }
  | { kind: 'system'; text: string };

/** Messages longer than this (characters or lines) start collapsed. */
export const LONG_MESSAGE_CHARS = 1_500;
export const LONG_MESSAGE_LINES = 24;

const COMMAND_RE = /^Command: `(.*)`(?: \(([^()]*)\))?\s*$/;
const FILE_RE = /^File change: (.*?)(?: \(([^()]*)\))?\s*$/;
const NOTICE_RE = /^(Turn failed|Turn interrupted|Not delivered|Codex stopped|Command interrupted)\b/;

/** A unified diff (git or plain) somewhere in the text. */
export function looksLikeDiff(text: string): boolean {
  if (/^diff --git /m.test(text)) return true;
  return /^--- \S/m.test(text) && /^\+\+\+ \S/m.test(text) && /^@@ /m.test(text);
}

function splitFirstLine(text: string): [string, string] {
  const i = text.indexOf('\n');
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

export function classifyMessage(m: Pick<Message, 'role' | 'text'>): MessageView {
  const text = m.text;
  if (m.role === 'user') return { kind: 'user', text };
  if (m.role === 'assistant') {
    const t = text.trimStart();
    if (t.startsWith('diff --git ') || (t.startsWith('--- ') && looksLikeDiff(t))) return { kind: 'diff', diff: text };
    return { kind: 'markdown', text };
  }
  const [first, rest] = splitFirstLine(text);
  if (first.startsWith('Started reasoning:')) return { kind: 'reasoning', phase: 'started', text: `${first.slice(18).trim()}\n${rest}`.trim() };
  if (first.startsWith('Completed reasoning:')) return { kind: 'reasoning', phase: 'completed', text: `${first.slice(20).trim()}\n${rest}`.trim() };
  const cmd = COMMAND_RE.exec(first);
  if (cmd) {
    const status = cmd[2] ?? '';
    const exit = /^exit (-?\d+)$/.exec(status);
    return { kind: 'command', command: cmd[1], status, exitCode: exit ? Number(exit[1]) : null, output: rest };
  }
  const file = FILE_RE.exec(first);
  if (file) {
    const paths = file[1] === '(no files)' ? [] : file[1].split(', ').filter((p) => p !== '');
    return { kind: 'fileChange', paths, status: file[2] ?? '', diff: looksLikeDiff(rest) ? rest : '' };
  }
  if (looksLikeDiff(text)) return { kind: 'diff', diff: text };
  if (NOTICE_RE.test(first)) return { kind: 'notice', text };
  return { kind: 'system', text };
}

/** Part of the conversation proper (counts for previews, announcements and "new messages"). */
export function isConversational(m: Pick<Message, 'role' | 'text'>): boolean {
  return m.role !== 'system';
}

/** Shown in the transcript while system messages are hidden. */
export function isShownByDefault(v: MessageView): boolean {
  return v.kind !== 'system';
}

/** Filter for the transcript. */
export function visibleMessages<M extends Pick<Message, 'role' | 'text'>>(msgs: readonly M[], showSystem: boolean): M[] {
  return showSystem ? msgs.slice() : msgs.filter((m) => isShownByDefault(classifyMessage(m)));
}

/** Thread-list preview: the last conversational message, markdown marks stripped, one line. */
export function previewText(msgs: readonly Pick<Message, 'role' | 'text'>[], max = 80): string {
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (!isConversational(m)) continue;
    const line = m.text
      .replace(/```[\s\S]*?(```|$)/g, ' [code] ')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[*_`~#>]+/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (line === '') continue;
    return line.length > max ? `${line.slice(0, max - 1)}…` : line;
  }
  return '';
}

export function isLongText(text: string): boolean {
  if (text.length > LONG_MESSAGE_CHARS) return true;
  let lines = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10 && ++lines > LONG_MESSAGE_LINES) return true;
  return false;
}

/** Line classes for a diff card. */
export type DiffLineKind = 'add' | 'del' | 'hunk' | 'meta' | 'ctx';
export function diffLines(diff: string, maxLines = 400): { kind: DiffLineKind; text: string }[] {
  const lines = diff.split('\n');
  const out = lines.slice(0, maxLines).map((text) => {
    let kind: DiffLineKind = 'ctx';
    if (text.startsWith('+++') || text.startsWith('---') || text.startsWith('diff ') || text.startsWith('index ')) kind = 'meta';
    else if (text.startsWith('@@')) kind = 'hunk';
    else if (text.startsWith('+')) kind = 'add';
    else if (text.startsWith('-')) kind = 'del';
    return { kind, text };
  });
  if (lines.length > maxLines) out.push({ kind: 'meta', text: `… ${lines.length - maxLines} more lines` });
  return out;
}
