import { describe, expect, it } from 'vitest';
import { PAIRED_DEVICE_KEY } from '../src/core/storage';
import { authOk, connectOnline, env, makeHarness, pairedRecord, SESSION, TOKEN1, TOKEN2 } from './helpers';

const stored = (h: ReturnType<typeof makeHarness>) => {
  const raw = h.storage.getItem(PAIRED_DEVICE_KEY);
  return raw ? JSON.parse(raw) : null;
};

const snapshot = {
  projects: [{ id: 'P1', name: 'General' }],
  threads: [{ id: 'T1', projectID: 'P1', title: 'Intro', isPinned: false }],
  messages: [{ id: 'M1', threadID: 'T1', role: 'user', text: 'Hello', createdAt: '2026-03-12T06:22:49Z' }],
  pendingRuntimeRequests: [],
};

describe('connect and auth', () => {
  it('sends relay.auth with the stored token on open', () => {
    const h = makeHarness();
    h.client.start();
    expect(h.sock().url).toBe('ws://relay.test/ws');
    h.sock().open();
    expect(h.sock().json()[0]).toEqual({ type: 'relay.auth', token: TOKEN1 });
  });

  // Scenario 118
  it('auth_ok with nextDeviceSessionToken replaces and persists the token and records desktopConnected (118)', () => {
    const h = makeHarness();
    connectOnline(h, { desktopConnected: true });
    expect(h.client.state.paired?.deviceSessionToken).toBe(TOKEN2);
    expect(stored(h).deviceSessionToken).toBe(TOKEN2);
    expect(stored(h).sessionID).toBe(SESSION);
    expect(stored(h).wsURL).toBe('ws://relay.test/ws');
    expect(h.client.state.desktopConnected).toBe(true);
    expect(h.client.state.phase).toBe('online');

    // next connect uses the rotated token, and the next rotation replaces it again
    h.sock().serverClose(1006);
    h.timers.advance(2000);
    h.sock().open();
    expect(h.sock().json()[0]).toEqual({ type: 'relay.auth', token: TOKEN2 });
    h.sock().receive(authOk({ nextDeviceSessionToken: 'tok3_' + 'c'.repeat(38), desktopConnected: false }));
    expect(stored(h).deviceSessionToken).toBe('tok3_' + 'c'.repeat(38));
    expect(h.client.state.desktopConnected).toBe(false);
  });

  it('sends an initial_sync snapshot request after auth and applies the snapshot', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    expect(s.json()[1]).toEqual({ type: 'relay.snapshot_request', sessionID: SESSION, reason: 'initial_sync' });
    s.receive(env(5, 'snapshot', snapshot));
    expect(h.client.state.data.threads.map((t) => t.id)).toEqual(['T1']);
    expect(h.client.state.data.buckets.T1.map((m) => m.text)).toEqual(['Hello']);
    expect(h.client.state.lastSyncedAt).toBe(h.timers.now);
  });

  it('requests a snapshot with lastSeq on a sequence gap and drops the gapped event', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive(env(5, 'snapshot', snapshot));
    h.timers.advance(5000);
    s.receive(env(8, 'event', { name: 'thread.message.append', threadID: 'T1', body: 'lost?', messageID: 'M9', role: 'assistant' }));
    expect(s.json().at(-1)).toEqual({ type: 'relay.snapshot_request', sessionID: SESSION, reason: 'gap_detected', lastSeq: 5 });
    expect(h.client.state.data.buckets.T1.map((m) => m.id)).toEqual(['M1']);
  });

  it('drops envelopes of another session or another schemaVersion', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive(env(1, 'snapshot', snapshot, 'OTHER_session_xxxxxx'));
    s.receive({ ...env(1, 'snapshot', snapshot), schemaVersion: 3 });
    expect(h.client.state.data.snapshotCount).toBe(0);
  });

  it('derives canRespond from hello.supportsRuntimeRequests and resets it on reconnect', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    expect(h.client.state.canRespond).toBe(false);
    s.receive(env(1, 'hello', { role: 'desktop', clientName: 'CodexChat Desktop', supportsRuntimeRequests: true }));
    expect(h.client.state.canRespond).toBe(true);
    expect(h.client.state.desktopName).toBe('CodexChat Desktop');
    s.serverClose(1006);
    h.timers.advance(2000);
    h.sock().open();
    h.sock().receive(authOk());
    expect(h.client.state.canRespond).toBe(false);
  });

  it('requests a snapshot on runtime_request events (coalesced)', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    h.timers.advance(2000);
    s.receive(env(1, 'event', { name: 'runtime_request.requested', threadID: 'T1', body: 'x: y' }));
    s.receive(env(2, 'event', { name: 'runtime_request.resolved', body: 'r' }));
    const reqs = () => s.json().filter((m) => m.type === 'relay.snapshot_request' && m.reason === 'runtime_request_event');
    expect(reqs()).toHaveLength(1);
    h.timers.advance(1000);
    expect(reqs()).toHaveLength(2);
  });

  it('visibility resume requests a snapshot when online, reconnects immediately when waiting', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    h.timers.advance(3000);
    h.client.onVisible();
    expect(s.json().at(-1)).toMatchObject({ type: 'relay.snapshot_request', reason: 'visibility_resume' });
    s.serverClose(1006);
    expect(h.client.state.phase).toBe('reconnecting');
    const n = h.sockets.length;
    h.client.onVisible();
    expect(h.sockets.length).toBe(n + 1);
  });
});

describe('reconnect', () => {
  it('reconnects with exponential backoff and resets the attempt after auth_ok', () => {
    const h = makeHarness({ random: () => 0 });
    h.client.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      h.sock().serverClose(1006);
      delays.push(h.client.state.nextRetryAt! - h.timers.now);
      h.timers.advance(delays[i]);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    h.sock().open();
    h.sock().receive(authOk());
    expect(h.client.state.attempt).toBe(0);
    h.sock().serverClose(1001);
    expect(h.client.state.nextRetryAt! - h.timers.now).toBe(1000);
  });

  it('a transient disconnect reason reconnects', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive({ type: 'disconnect', reason: 'server_shutdown' });
    expect(h.client.state.phase).toBe('reconnecting');
    expect(stored(h)).not.toBeNull();
    h.timers.advance(1500);
    expect(h.sockets.length).toBe(2);
  });

  it('a socket that never authenticates is retried after the auth timeout', () => {
    const h = makeHarness();
    h.client.start();
    h.sock().open();
    h.timers.advance(30_001);
    expect(h.client.state.phase).toBe('reconnecting');
  });
});

// Scenario 119
describe('terminal disconnects (119)', () => {
  for (const reason of ['device_revoked', 'stopped_by_desktop', 'session_expired', 'replaced_by_new_pair_start', 'idle_timeout']) {
    it(`disconnect ${reason} clears credentials, queue, pending snapshot and persisted pairing`, () => {
      const h = makeHarness();
      const s = connectOnline(h, { desktopConnected: false }); // pending snapshot reason kept
      h.client.sendMessage('T1', 'queued while desktop offline');
      expect(h.client.queue.length).toBe(1);
      s.receive({ type: 'disconnect', reason });
      expect(h.client.state.paired).toBeNull();
      expect(stored(h)).toBeNull();
      expect(h.client.queue.length).toBe(0);
      expect(h.client.state.outgoing).toHaveLength(0);
      expect(h.client.state.phase).toBe(reason === 'device_revoked' ? 'revoked' : 'ended');
      expect(h.client.state.terminal?.reason).toBe(reason);
      expect(h.client.state.pair.link).toBeNull();
      // no reconnect timer, and no later socket
      expect(h.timers.timers.size).toBe(0);
      h.timers.advance(60_000);
      expect(h.sockets.length).toBe(1);
      // the pending snapshot request does not leak into a later pairing
      expect(s.json().filter((m) => m.type === 'relay.snapshot_request')).toHaveLength(0);
    });
  }

  it('a close event whose reason is terminal is also terminal', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.serverClose(1000, 'stopped_by_desktop');
    expect(h.client.state.phase).toBe('ended');
    expect(stored(h)).toBeNull();
  });
});

// Scenario 120
describe('close 1008 (120)', () => {
  it('is treated as terminal session_expired: credentials cleared, no reconnect timer', () => {
    const h = makeHarness();
    h.client.start();
    h.sock().open();
    h.sock().receive({ type: 'disconnect', reason: 'session_expired' }); // relay sends this before the close
    expect(h.client.state.terminal?.reason).toBe('session_expired');
    const h2 = makeHarness();
    h2.client.start();
    h2.sock().open();
    h2.sock().serverClose(1008, '');
    expect(h2.client.state.phase).toBe('ended');
    expect(h2.client.state.terminal?.reason).toBe('session_expired');
    expect(h2.client.state.paired).toBeNull();
    expect(stored(h2)).toBeNull();
    expect(h2.timers.timers.size).toBe(0);
    h2.timers.advance(120_000);
    expect(h2.sockets.length).toBe(1);
  });

  it('a 1006 close is transient and keeps the pairing', () => {
    const h = makeHarness();
    h.client.start();
    h.sock().serverClose(1006);
    expect(h.client.state.phase).toBe('reconnecting');
    expect(stored(h)?.deviceSessionToken).toBe(TOKEN1);
  });
});

describe('pairing flow', () => {
  const link = { sessionID: SESSION, joinToken: 'J'.repeat(43), relayBaseURL: 'http://relay.test' };

  it('posts /pair/join, stores the device, connects', async () => {
    const h = makeHarness({ paired: null });
    expect(h.client.state.phase).toBe('unpaired');
    h.setFetch(async () => ({ status: 200, body: { accepted: true, sessionID: SESSION, deviceID: 'dev_99999999', deviceSessionToken: TOKEN1, wsURL: 'ws://relay.test/ws' } }));
    h.client.offerJoinLink(link, 'http://page.test');
    const ok = await h.client.pair('Pixel');
    expect(ok).toBe(true);
    expect(h.fetchCalls[0].url).toBe('http://relay.test/pair/join');
    expect(JSON.parse(h.fetchCalls[0].body)).toEqual({ sessionID: SESSION, joinToken: link.joinToken, deviceName: 'Pixel' });
    expect(stored(h)).toMatchObject({ sessionID: SESSION, deviceID: 'dev_99999999', deviceName: 'Pixel', relayBaseURL: 'http://relay.test', deviceSessionToken: TOKEN1, wsURL: 'ws://relay.test/ws' });
    expect(h.client.state.pair.link).toBeNull();
    expect(h.sockets).toHaveLength(1);
  });

  it('uses the page origin as relay base when the link has no relay', async () => {
    const h = makeHarness({ paired: null });
    h.setFetch(async () => ({ status: 403, body: { error: 'pair_request_denied', message: 'Desktop denied this pairing request.' } }));
    h.client.offerJoinLink({ sessionID: SESSION, joinToken: 'J'.repeat(43) }, 'http://page.test');
    expect(await h.client.pair('Pixel')).toBe(false);
    expect(h.fetchCalls[0].url).toBe('http://page.test/pair/join');
    expect(h.client.state.pair.status).toBe('error');
    expect(h.client.state.pair.error?.code).toBe('pair_request_denied');
    expect(h.client.state.pair.error?.title).toMatch(/declined/);
    expect(stored(h)).toBeNull();
  });

  it('restores a stored pairing on load', () => {
    const h = makeHarness({ paired: pairedRecord({ wsURL: 'ws://other.test/ws' }) });
    expect(h.client.state.phase).toBe('connecting');
    h.client.start();
    expect(h.sock().url).toBe('ws://other.test/ws');
  });
});

describe('offline approvals', () => {
  it('an approval tapped while reconnecting is queued and flushed after auth_ok', () => {
    const h = makeHarness();
    const s = connectOnline(h);
    s.receive(env(1, 'hello', { role: 'desktop', supportsRuntimeRequests: true }));
    s.serverClose(1006);
    const req = { requestID: '17', kind: 'approval' as const, threadID: 'T1', title: 't', summary: 's', responseOptions: [], permissions: [], options: [] };
    expect(h.client.respondToRuntimeRequest(req, 'approve_once')).toMatchObject({ ok: true, queued: true, seq: 1 });
    h.timers.advance(2000);
    h.sock().open();
    h.sock().receive(authOk());
    const cmd = h.sock().json().find((m) => m.seq === 1) as { payload: { payload: Record<string, unknown> } };
    expect(cmd.payload.payload.runtimeRequestResponse).toEqual({ decision: 'accept', optionID: 'approve_once' });
    expect(h.client.state.canRespond).toBe(false); // until the next hello
  });
});
