// Client-state additions for the phone app: disconnect reason, last seq, manual resync,
// project.select, thread.interrupt and the snapshot's capabilities.
import { describe, expect, it } from 'vitest';
import { connectOnline, env, makeHarness, SESSION } from './helpers';

const snap = (over: Record<string, unknown> = {}) => ({
  projects: [{ id: 'P1', name: 'General' }],
  threads: [{ id: 'T1', projectID: 'P1', title: 'Intro', isPinned: false }],
  messages: [],
  pendingRuntimeRequests: [],
  ...over,
});
const last = (s: { json(): Record<string, unknown>[] }) => s.json().at(-1)!;

describe('disconnect reason', () => {
  it('keeps the transient reason of a relay disconnect, a dropped socket and a connect timeout', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    expect(h.client.state.disconnectReason).toBeNull();
    s.receive({ type: 'disconnect', reason: 'server_shutdown' });
    expect(h.client.state.phase).toBe('reconnecting');
    expect(h.client.state.disconnectReason).toBe('server_shutdown');
    h.timers.advance(2000);
    h.sock().serverClose(1006);
    expect(h.client.state.disconnectReason).toBe('connection_lost');
    h.timers.advance(5000);
    h.timers.advance(31_000); // neither open nor authenticated in time
    expect(h.client.state.disconnectReason).toBe('connect_timeout');
  });
  it('uses the close reason when there is one, and clears it once online', () => {
    const h = makeHarness();
    connectOnline(h);
    h.sock().serverClose(1000, 'device_reconnected');
    expect(h.client.state.disconnectReason).toBe('device_reconnected');
    h.timers.advance(2000);
    h.sock().open();
    h.sock().receive({ type: 'auth_ok', role: 'mobile', sessionID: SESSION, desktopConnected: true });
    expect(h.client.state.disconnectReason).toBeNull();
  });
});

describe('connection details and commands', () => {
  it('exposes the last accepted seq and resyncs on demand with reason "manual"', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    expect(h.client.state.lastSeq).toBeNull();
    s.receive(env(7, 'snapshot', snap()));
    expect(h.client.state.lastSeq).toBe(7);
    h.timers.advance(200); // within the 1 s coalescing window: forced anyway
    h.client.requestSnapshot('manual', true);
    expect(last(s)).toEqual({ type: 'relay.snapshot_request', sessionID: SESSION, reason: 'manual', lastSeq: 7 });
  });
  it('project.select and thread.interrupt are sent with all eight keys, and refused offline', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    expect(h.client.sendCommand('project.select', { projectID: 'P1' }).ok).toBe(true);
    expect((last(s).payload as { payload: Record<string, unknown> }).payload).toMatchObject({ name: 'project.select', projectID: 'P1', threadID: null, text: null });
    expect(h.client.sendCommand('thread.interrupt', { threadID: 'T1' }).ok).toBe(true);
    expect((last(s).payload as { payload: Record<string, unknown> }).payload).toMatchObject({ name: 'thread.interrupt', threadID: 'T1', projectID: null });
    expect(h.client.sendCommand('thread.interrupt', { threadID: 'bad id!' }).ok).toBe(false);
    expect(h.client.sendCommand('thread.load_earlier', { threadID: 'T1' }).ok).toBe(true);
    expect((last(s).payload as { payload: Record<string, unknown> }).payload).toMatchObject({ name: 'thread.load_earlier', threadID: 'T1' });
    s.serverClose(1006);
    const r = h.client.sendCommand('thread.interrupt', { threadID: 'T1' });
    expect(r.ok).toBe(false);
  });
  it('reads capabilities from the snapshot (only true flags with sane names)', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive(env(1, 'snapshot', snap({ capabilities: { interrupt: true, loadEarlier: false, other: 'yes', 'bad key!': true } })));
    expect(h.client.state.data.capabilities).toEqual({ interrupt: true });
    s.receive(env(2, 'snapshot', snap()));
    expect(h.client.state.data.capabilities).toEqual({});
  });
});
