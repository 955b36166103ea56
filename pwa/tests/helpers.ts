import { RemoteClient, type ClientDeps, type SocketLike } from '../src/core/client';
import { MemoryStorage, PAIRED_DEVICE_KEY, type PairedDevice } from '../src/core/storage';

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on non-open socket');
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  // test drivers
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(obj: unknown): void {
    this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  json(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s));
  }
}

export class FakeTimers {
  now = 1_700_000_000_000;
  private id = 0;
  timers = new Map<number, { at: number; fn: () => void; ms: number }>();
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.id;
    this.timers.set(id, { at: this.now + ms, fn, ms });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.ms);
  }
}

export const SESSION = 'S_session_abcdefghij';
export const TOKEN1 = 'tok1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
export const TOKEN2 = 'tok2_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

export function pairedRecord(over: Partial<PairedDevice> = {}): PairedDevice {
  return {
    sessionID: SESSION,
    deviceID: 'dev_12345678',
    deviceName: 'iPhone',
    relayBaseURL: 'http://relay.test',
    deviceSessionToken: TOKEN1,
    wsURL: 'ws://relay.test/ws',
    storedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

export interface Harness {
  client: RemoteClient;
  storage: MemoryStorage;
  timers: FakeTimers;
  sockets: FakeSocket[];
  sock(): FakeSocket;
  fetchCalls: { url: string; body: string }[];
  setFetch(fn: (url: string, body: string) => Promise<{ status: number; body: unknown }>): void;
}

export function makeHarness(opts: { paired?: PairedDevice | null; random?: () => number } = {}): Harness {
  const storage = new MemoryStorage();
  if (opts.paired !== null) storage.setItem(PAIRED_DEVICE_KEY, JSON.stringify(opts.paired ?? pairedRecord()));
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  const fetchCalls: { url: string; body: string }[] = [];
  let fetchImpl: (url: string, body: string) => Promise<{ status: number; body: unknown }> = async () => ({ status: 500, body: {} });
  const deps: ClientDeps = {
    storage,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    fetch: async (url, init) => {
      fetchCalls.push({ url, body: init.body });
      const r = await fetchImpl(url, init.body);
      return { status: r.status, ok: r.status >= 200 && r.status < 300, text: async () => JSON.stringify(r.body) };
    },
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    now: () => timers.now,
    random: opts.random ?? (() => 0.5),
  };
  const client = new RemoteClient(deps);
  return {
    client,
    storage,
    timers,
    sockets,
    sock: () => sockets[sockets.length - 1],
    fetchCalls,
    setFetch: (fn) => {
      fetchImpl = fn;
    },
  };
}

export function authOk(over: Record<string, unknown> = {}) {
  return {
    type: 'auth_ok',
    role: 'mobile',
    sessionID: SESSION,
    deviceID: 'dev_12345678',
    nextDeviceSessionToken: TOKEN2,
    connectedDeviceCount: 1,
    desktopConnected: true,
    ...over,
  };
}

export function env(seq: number, type: string, payload: unknown, sessionID = SESSION) {
  return { schemaVersion: 2, sessionID, seq, timestamp: '2026-03-12T06:22:49Z', payload: { type, payload } };
}

/** Start + open + auth_ok; returns the socket. */
export function connectOnline(h: Harness, over: Record<string, unknown> = {}): FakeSocket {
  h.client.start();
  const s = h.sock();
  s.open();
  s.receive(authOk(over));
  return s;
}
