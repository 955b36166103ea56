import { describe, expect, it } from 'vitest';
import { CommandQueue } from '../src/core/commandQueue';
import { connectOnline, env, makeHarness } from './helpers';

const entry = (seq: number, data = `{"seq":${seq}}`) => ({ seq, commandID: `cmd-${seq}`, name: 'thread.send_message', threadID: 'T', data });

// Scenario 116
describe('command queue bounds (116)', () => {
  it('keeps at most N envelopes, drops the oldest and reports them', () => {
    const q = new CommandQueue(3, 1024);
    for (const s of [1, 2, 3]) expect(q.enqueue(entry(s))).toEqual({ ok: true, dropped: [] });
    const r = q.enqueue(entry(4));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.dropped.map((d) => d.seq)).toEqual([1]);
    expect(q.list().map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(q.length).toBe(3);
  });

  it('evicts oldest entries to stay within the byte cap', () => {
    const q = new CommandQueue(64, 100);
    q.enqueue(entry(1, 'a'.repeat(40)));
    q.enqueue(entry(2, 'b'.repeat(40)));
    const r = q.enqueue(entry(3, 'c'.repeat(40)));
    expect(r.ok && r.dropped.map((d) => d.seq)).toEqual([1]);
    expect(q.bytes).toBe(80);
  });

  it('refuses an envelope larger than the byte cap and keeps the queue intact', () => {
    const q = new CommandQueue(64, 100);
    q.enqueue(entry(1, 'x'.repeat(10)));
    expect(q.enqueue(entry(2, 'y'.repeat(101)))).toEqual({ ok: false, reason: 'too_large' });
    expect(q.list().map((e) => e.seq)).toEqual([1]);
  });

  it('counts UTF-8 bytes, not UTF-16 units', () => {
    const q = new CommandQueue(64, 10);
    expect(q.enqueue(entry(1, 'é'.repeat(6))).ok).toBe(false); // 12 bytes
  });

  it('drains in order and empties', () => {
    const q = new CommandQueue();
    q.enqueue(entry(1));
    q.enqueue(entry(2));
    expect(q.drain().map((e) => e.seq)).toEqual([1, 2]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('the client drops the oldest queued commands at 64 envelopes', () => {
    const h = makeHarness();
    h.client.start(); // connecting, not authenticated
    for (let i = 0; i < 65; i++) expect(h.client.sendMessage('T1', `m${i}`).ok).toBe(true);
    expect(h.client.queue.length).toBe(64);
    expect(h.client.queue.list()[0].seq).toBe(2);
    expect(h.client.state.outgoing.filter((o) => o.status === 'queued')).toHaveLength(64);
    expect(h.client.state.notices.at(-1)?.text).toMatch(/dropped 1 oldest/);
  });
});

// Scenario 117
describe('outgoing seq consumption (117)', () => {
  it('a refused non-queueable command does not consume a seq', () => {
    const h = makeHarness();
    h.client.start();
    const r = h.client.sendCommand('thread.select', { threadID: 'T1' });
    expect(r.ok).toBe(false);
    expect(h.client.nextOutgoingSeq).toBe(1);
    expect(h.client.queue.length).toBe(0);
  });

  it('an oversize message is refused without consuming a seq', () => {
    const h = makeHarness();
    h.client.start();
    const r = h.client.sendMessage('T1', 'x'.repeat(16_385));
    expect(r.ok).toBe(false);
    expect(h.client.nextOutgoingSeq).toBe(1);
  });

  it('the text cap counts UTF-8 bytes (4-byte emoji) and refuses without consuming a seq', () => {
    const h = makeHarness();
    h.client.start();
    // 16 000 four-byte characters: under 16 384 UTF-16 units but > 16 384 UTF-8 bytes → refused by validation
    expect(h.client.sendMessage('T1', '😀'.repeat(4100)).ok).toBe(false);
    expect(h.client.nextOutgoingSeq).toBe(1);
  });

  it('a message typed while open but unauthenticated is queued with seq 1, then flushed after auth_ok', () => {
    const h = makeHarness();
    h.client.start();
    const s = h.sock();
    s.open();
    expect(h.client.state.phase).toBe('authenticating');
    const r = h.client.sendMessage('T1', 'hello');
    expect(r).toMatchObject({ ok: true, seq: 1, queued: true });
    expect(h.client.nextOutgoingSeq).toBe(2);
    expect(s.json().map((m) => m.type ?? 'envelope')).toEqual(['relay.auth']);
    s.receive({ type: 'auth_ok', role: 'mobile', sessionID: 'S_session_abcdefghij', nextDeviceSessionToken: 'n'.repeat(43), desktopConnected: true });
    const sent = s.json();
    const cmd = sent.find((m) => m.seq === 1)!;
    expect(cmd).toBeDefined();
    expect((cmd.payload as { payload: Record<string, unknown> }).payload).toEqual({
      name: 'thread.send_message',
      commandID: r.ok ? r.commandID : '',
      threadID: 'T1',
      projectID: null,
      text: 'hello',
      runtimeRequestID: null,
      runtimeRequestKind: null,
      runtimeRequestResponse: null,
    });
    expect(sent.some((m) => m.type === 'relay.snapshot_request' && m.reason === 'initial_sync')).toBe(true);
    expect(h.client.queue.length).toBe(0);
    expect(h.client.state.outgoing[0].status).toBe('sent');
  });

  it('seq keeps increasing across reconnects and is never reused', () => {
    const h = makeHarness();
    const s1 = connectOnline(h);
    expect(h.client.sendMessage('T1', 'a')).toMatchObject({ ok: true, seq: 1, queued: false });
    s1.serverClose(1006);
    expect(h.client.sendMessage('T1', 'b')).toMatchObject({ ok: true, seq: 2, queued: true });
    h.timers.advance(2000);
    const s2 = h.sock();
    expect(s2).not.toBe(s1);
    s2.open();
    s2.receive({ type: 'auth_ok', role: 'mobile', sessionID: 'S_session_abcdefghij', desktopConnected: true });
    expect(h.client.sendMessage('T1', 'c')).toMatchObject({ ok: true, seq: 3, queued: false });
    expect(s2.json().filter((m) => typeof m.seq === 'number').map((m) => m.seq)).toEqual([2, 3]);
  });

  it('queues while the desktop is offline and flushes when it comes back', () => {
    const h = makeHarness();
    const s = connectOnline(h, { desktopConnected: false });
    expect(h.client.sendMessage('T1', 'later')).toMatchObject({ ok: true, queued: true });
    expect(s.json().filter((m) => typeof m.seq === 'number')).toHaveLength(0);
    s.receive({ type: 'relay.desktop_status', sessionID: 'S_session_abcdefghij', desktopConnected: true });
    expect(s.json().filter((m) => typeof m.seq === 'number').map((m) => m.seq)).toEqual([1]);
  });

  it('a rejected ack removes the pending entry and adds a local system message', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    const r = h.client.sendMessage('T1', 'hi');
    if (!r.ok) throw new Error('send failed');
    s.receive(env(1, 'command_ack', { commandSeq: 1, commandID: r.commandID, commandName: 'thread.send_message', status: 'rejected', reason: 'desktop_busy' }));
    expect(h.client.state.outgoing).toHaveLength(0);
    const local = h.client.state.data.localMessages.T1;
    expect(local).toHaveLength(1);
    expect(local[0].id).toBe(`local-command-ack-reject-${r.commandID}`);
    expect(local[0].text).toMatch(/busy/);
    expect(h.client.state.notices.at(-1)?.level).toBe('error');
  });

  it('acks for other phones’ commands are ignored', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    h.client.sendMessage('T1', 'hi');
    s.receive(env(1, 'command_ack', { commandSeq: 1, commandID: 'cmd-1-other', commandName: 'thread.send_message', status: 'rejected', reason: 'desktop_busy' }));
    expect(h.client.state.outgoing).toHaveLength(1);
    expect(h.client.state.data.localMessages.T1).toBeUndefined();
  });
});
