// The service worker's push handlers (src/core/pushNotify.ts, bundled into sw.js): strict payload
// decode, collapse tags, the generic fallback, click routing and subscription renewal.
import { describe, expect, it } from 'vitest';
import {
  CHANGED_MESSAGE,
  notificationFor,
  onNotificationClick,
  onSubscriptionChange,
  OPEN_MESSAGE,
  parsePushPayload,
  routeFor,
  type ClientsLike,
  type WindowClientLike,
} from '../src/core/pushNotify';
import { parseRoute } from '../src/core/routes';

const good = { v: 1, kind: 'approval', threadID: 'T1', title: 'Approve: rm -rf build', body: 'The agent wants to run a command', ts: 1_700_000_000_000 };
const enc = (o: unknown) => JSON.stringify(o);

describe('push payload', () => {
  it('decodes a well-formed payload and builds a collapsing notification', () => {
    const p = parsePushPayload(enc(good));
    expect(p).toEqual(good);
    const n = notificationFor(p, 5);
    expect(n.title).toBe(good.title);
    expect(n.options).toMatchObject({ body: good.body, tag: 'approval:T1', timestamp: good.ts, data: { threadID: 'T1', kind: 'approval' } });
    expect(notificationFor(parsePushPayload(enc({ ...good, kind: 'turn' })), 5).options.tag).toBe('turn:T1');
    const noThread = parsePushPayload(enc({ ...good, kind: 'pairing', threadID: undefined }));
    expect(notificationFor(noThread, 5).options).toMatchObject({ tag: 'pairing:', data: { threadID: null } });
  });

  it('rejects anything malformed, which then shows a generic notification (never throws)', () => {
    const bad: unknown[] = [
      null,
      '',
      'not json',
      '[]',
      '"str"',
      enc({ ...good, v: 2 }),
      enc({ ...good, kind: 'other' }),
      enc({ ...good, title: '' }),
      enc({ ...good, title: 5 }),
      enc({ ...good, body: null }),
      enc({ ...good, ts: 'now' }),
      enc({ ...good, ts: -1 }),
      enc({ ...good, threadID: '../../x' }),
      enc({ ...good, threadID: 7 }),
      enc({ ...good, body: 'x'.repeat(5000) }),
    ];
    for (const b of bad) expect(parsePushPayload(b as string)).toBeNull();
    const n = notificationFor(null, 42);
    expect(n).toMatchObject({ title: 'Remote Control', options: { body: 'Your agent needs you.', tag: 'rc-generic', timestamp: 42, data: { threadID: null } } });
  });

  it('clips long texts', () => {
    const n = notificationFor(parsePushPayload(enc({ ...good, title: 'T'.repeat(500), body: 'B'.repeat(2000) })), 0);
    expect(n.title.length).toBe(120);
    expect(n.options.body.length).toBe(400);
    expect(n.title.endsWith('…')).toBe(true);
  });

  it('routes to the app’s thread route and nothing else', () => {
    expect(routeFor({ threadID: 'T1' })).toBe('#/t/T1');
    expect(parseRoute(routeFor({ threadID: 'thr_a:b-1' }))).toEqual({ view: 'thread', threadID: 'thr_a:b-1' });
    expect(routeFor({ threadID: 'a/b' })).toBe('#/');
    expect(routeFor(null)).toBe('#/');
  });
});

class FakeWindow implements WindowClientLike {
  messages: unknown[] = [];
  focusCalls = 0;
  constructor(
    readonly url: string,
    readonly focused = false,
    readonly visibilityState = 'hidden',
    private readonly focusFails = false,
  ) {}
  async focus() {
    this.focusCalls++;
    if (this.focusFails) throw new Error('Not allowed to focus a window.');
    return this;
  }
  postMessage(m: unknown) {
    this.messages.push(m);
  }
}
function clients(wins: FakeWindow[]) {
  const opened: string[] = [];
  const c: ClientsLike = { matchAll: async () => wins, openWindow: async (u) => opened.push(u) };
  return { c, opened };
}
const SCOPE = 'https://phone.example/rc/';

describe('notification click', () => {
  it('routes and focuses the visible app window of this scope', async () => {
    const other = new FakeWindow('https://phone.example/other/', true, 'visible');
    const hidden = new FakeWindow(`${SCOPE}#/`);
    const vis = new FakeWindow(`${SCOPE}#/t/T0`, false, 'visible');
    const { c, opened } = clients([other, hidden, vis]);
    expect(await onNotificationClick({ threadID: 'T1' }, c, SCOPE)).toBe('focused');
    expect(vis.messages).toEqual([{ type: OPEN_MESSAGE, route: '#/t/T1' }]);
    expect(vis.focusCalls).toBe(1);
    expect(other.messages).toEqual([]);
    expect(hidden.messages).toEqual([]);
    expect(opened).toEqual([]);
  });

  it('still routes when focus is refused, and opens a window when the app is closed', async () => {
    const w = new FakeWindow(SCOPE, false, 'hidden', true);
    expect(await onNotificationClick({ threadID: 'T2' }, clients([w]).c, SCOPE)).toBe('focused');
    expect(w.messages).toEqual([{ type: OPEN_MESSAGE, route: '#/t/T2' }]);
    const { c, opened } = clients([new FakeWindow('https://elsewhere.example/')]);
    expect(await onNotificationClick({ threadID: 'T3' }, c, SCOPE)).toBe('opened');
    expect(opened).toEqual([`${SCOPE}#/t/T3`]);
  });
});

describe('pushsubscriptionchange', () => {
  it('resubscribes with the old key when the browser did not, and tells every window', async () => {
    const key = new Uint8Array([4, 1, 2]).buffer;
    const calls: unknown[] = [];
    const pm = { subscribe: async (o: unknown) => calls.push(o) };
    const w = new FakeWindow(SCOPE);
    expect(await onSubscriptionChange({ oldSubscription: { options: { applicationServerKey: key } } }, pm, clients([w]).c)).toBe(true);
    expect(calls).toEqual([{ userVisibleOnly: true, applicationServerKey: key }]);
    expect(w.messages).toEqual([{ type: CHANGED_MESSAGE, renewed: true }]);

    calls.length = 0;
    expect(await onSubscriptionChange({ newSubscription: {}, oldSubscription: null }, pm, clients([w]).c)).toBe(true);
    expect(calls).toEqual([]);

    const failing = { subscribe: async () => Promise.reject(new Error('AbortError')) };
    expect(await onSubscriptionChange({ oldSubscription: { options: { applicationServerKey: key } } }, failing, clients([w]).c)).toBe(false);
    expect(w.messages.at(-1)).toEqual({ type: CHANGED_MESSAGE, renewed: false });
    expect(await onSubscriptionChange({}, pm, clients([]).c)).toBe(false);
  });
});
