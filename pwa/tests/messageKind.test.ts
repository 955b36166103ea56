import { describe, expect, it } from 'vitest';
import { classifyMessage, diffLines, isLongText, looksLikeDiff, previewText, visibleMessages } from '../src/core/messageKind';

const sys = (text: string) => ({ role: 'system' as const, text });
const DIFF = 'diff --git a/x b/x\nindex 1..2\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new';

describe('classifyMessage', () => {
  it('user and assistant', () => {
    expect(classifyMessage({ role: 'user', text: 'hi' })).toEqual({ kind: 'user', text: 'hi' });
    expect(classifyMessage({ role: 'assistant', text: '**x**' })).toEqual({ kind: 'markdown', text: '**x**' });
    expect(classifyMessage({ role: 'assistant', text: DIFF }).kind).toBe('diff');
  });
  it('command output card (bridge format)', () => {
    expect(classifyMessage(sys('Command: `ls -la` (exit 2)\nout line'))).toEqual({ kind: 'command', command: 'ls -la', status: 'exit 2', exitCode: 2, output: 'out line' });
    expect(classifyMessage(sys('Command: `rm x` (declined)'))).toMatchObject({ kind: 'command', status: 'declined', exitCode: null, output: '' });
  });
  it('file change card with and without diff', () => {
    expect(classifyMessage(sys('File change: a.ts, b/c.ts (completed)'))).toEqual({ kind: 'fileChange', paths: ['a.ts', 'b/c.ts'], status: 'completed', diff: '' });
    expect(classifyMessage(sys(`File change: x (done)\n${DIFF}`))).toMatchObject({ kind: 'fileChange', diff: DIFF });
    expect(classifyMessage(sys('File change: (no files) (done)'))).toMatchObject({ paths: [] });
  });
  it('reasoning, notices and plain system lines', () => {
    expect(classifyMessage(sys('Started reasoning: planning\nmore'))).toEqual({ kind: 'reasoning', phase: 'started', text: 'planning\nmore' });
    expect(classifyMessage(sys('Completed reasoning: done'))).toMatchObject({ kind: 'reasoning', phase: 'completed' });
    expect(classifyMessage(sys('Turn failed: boom')).kind).toBe('notice');
    expect(classifyMessage(sys('Not delivered: x')).kind).toBe('notice');
    expect(classifyMessage(sys('Project created: Website')).kind).toBe('system');
    expect(classifyMessage(sys('Codex: stream error (retrying)')).kind).toBe('system');
  });
});

describe('filters and previews', () => {
  const msgs = [
    { role: 'user' as const, text: 'question' },
    { role: 'assistant' as const, text: 'Use `npm ci` and **then** [docs](https://x.y)' },
    sys('Project created: Website'),
    sys('Command: `ls` (exit 0)'),
  ];
  it('system/transport lines stay out unless asked for', () => {
    expect(visibleMessages(msgs, false).map((m) => m.text)).toEqual([msgs[0].text, msgs[1].text, msgs[3].text]);
    expect(visibleMessages(msgs, true)).toHaveLength(4);
  });
  it('preview is the last conversational message without markdown marks', () => {
    expect(previewText(msgs)).toBe('Use npm ci and then docs');
    expect(previewText([sys('only system')])).toBe('');
    expect(previewText([{ role: 'assistant', text: 'x'.repeat(200) }], 20)).toHaveLength(20);
    expect(previewText([{ role: 'assistant', text: '```\ncode\n```' }])).toBe('[code]');
  });
  it('long texts and diffs', () => {
    expect(isLongText('a'.repeat(1501))).toBe(true);
    expect(isLongText('a\n'.repeat(30))).toBe(true);
    expect(isLongText('short\ntext')).toBe(false);
    expect(looksLikeDiff('just text')).toBe(false);
    expect(diffLines(DIFF).map((l) => l.kind)).toEqual(['meta', 'meta', 'meta', 'meta', 'hunk', 'del', 'add']);
    expect(diffLines('+a\n+b\n+c', 2).at(-1)).toEqual({ kind: 'meta', text: '… 1 more lines' });
  });
});
