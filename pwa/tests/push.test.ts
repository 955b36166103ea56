// Web push, phone side (issue 14): wire validators, command encoding, the push.state event (E2EE
// only), and the settings logic against a stubbed PushManager over the in-test E2EE desktop.
import { describe, expect, it } from 'vitest';
import * as C from '../src/core/e2eeCrypto';
import { appPayloadEffect } from '../src/core/clientInbound';
import { initialState } from '../src/core/clientTypes';
import { E2EE_OFF } from '../src/core/e2eeClient';
import { makeCommand, validateCommand } from '../src/core/protocol';
import {
  isP256Point,
  isPushEndpoint,
  loadPushLocal,
  needsResend,
  parsePushState,
  pushSupport,
  PUSH_LOCAL_KEY,
  savePushLocal,
  subscriptionWire,
  type PushEnv,
} from '../src/core/push';
import { desktopPushBlocker, PushController, type Permission, type PushManagerLike, type PushPlatform, type PushSubscriptionLike } from '../src/core/pushController';
import { MemoryStorage } from '../src/core/storage';
import { rig, snapshot, type Frame, type Rig } from './e2eeRig';

const point = async () => C.b64u(await C.exportPoint((await C.generateIdentity()).publicKey));
const VAPID = await point();
const P256DH = await point();
const AUTH = C.b64u(C.randomBytes(16));
const ENDPOINT = 'https://push.example.test/send/abc123';
const KINDS = { approval: true, turn: true, pairing: false };
const pushState = (over: Frame = {}) => ({ name: 'push.state', vapidPublicKey: VAPID, subscribed: false, kinds: KINDS, generic: false, ...over });

describe('push wire validators', () => {
  it('accepts only uncompressed P-256 points, https endpoints and 16-byte auth secrets', () => {
    expect(isP256Point(VAPID)).toBe(true);
    expect(isP256Point(VAPID.slice(0, -2))).toBe(false);
    expect(isP256Point(C.b64u(new Uint8Array(65)))).toBe(false); // no 0x04 prefix
    expect(isP256Point(VAPID + '=')).toBe(false);
    expect(isPushEndpoint(ENDPOINT)).toBe(true);
    for (const bad of ['http://push.example.test/x', 'https://u:p@push.example.test/x', 'javascript:alert(1)', `https://x.test/${'a'.repeat(2100)}`, 42])
      expect(isPushEndpoint(bad)).toBe(false);
    const json = { endpoint: ENDPOINT, expirationTime: null, keys: { p256dh: P256DH, auth: AUTH } };
    expect(subscriptionWire(json)).toEqual({ endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH });
    expect(subscriptionWire({ ...json, keys: { p256dh: P256DH, auth: C.b64u(C.randomBytes(12)) } })).toBeNull();
    expect(subscriptionWire({ endpoint: ENDPOINT })).toBeNull();
  });

  it('decodes push.state strictly (top-level fields or an object body), dropping anything malformed', () => {
    expect(parsePushState(pushState({ subscribed: true, generic: true }))).toEqual({ vapidPublicKey: VAPID, subscribed: true, kinds: KINDS, generic: true });
    expect(parsePushState({ name: 'push.state', body: pushState() })?.vapidPublicKey).toBe(VAPID);
    expect(parsePushState(pushState({ vapidPublicKey: 'AAAA' }))).toBeNull();
    expect(parsePushState(pushState({ subscribed: 'yes' }))).toBeNull();
    expect(parsePushState(pushState({ kinds: { approval: true, turn: true } }))).toBeNull();
    expect(parsePushState(null)).toBeNull();
  });

  it('encodes push commands with their own fields and validates them', () => {
    const sub = makeCommand('push.subscribe', 'cmd-1-a', { subscription: { endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH }, kinds: KINDS });
    expect(JSON.parse(JSON.stringify(sub))).toEqual({
      name: 'push.subscribe',
      commandID: 'cmd-1-a',
      threadID: null,
      projectID: null,
      text: null,
      runtimeRequestID: null,
      runtimeRequestKind: null,
      runtimeRequestResponse: null,
      subscription: { endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH },
      kinds: KINDS,
    });
    expect(validateCommand(sub)).toBeNull();
    expect(validateCommand({ ...sub, subscription: { endpoint: 'http://x.test/', p256dh: P256DH, auth: AUTH } })).toMatch(/not valid/);
    expect(validateCommand({ ...sub, kinds: undefined })).toMatch(/kinds/);
    const vis = makeCommand('push.visibility', 'cmd-2-a', { visible: false });
    expect(vis.visible).toBe(false);
    expect(validateCommand(vis)).toBeNull();
    expect(validateCommand(makeCommand('push.visibility', 'cmd-3-a'))).toMatch(/visible/);
    const un = makeCommand('push.unsubscribe', 'cmd-4-a');
    expect(validateCommand(un)).toBeNull();
    expect(Object.keys(un)).toHaveLength(8);
  });

  it('applies push.state only on an encrypted pairing', () => {
    const plain = initialState(null, E2EE_OFF);
    expect(appPayloadEffect(plain, 'event', pushState(), () => 0, new Map())).toEqual({});
    const enc = initialState(null, { ...E2EE_OFF, mode: 'verified' });
    expect(appPayloadEffect(enc, 'event', pushState(), () => 0, new Map()).patch?.push?.vapidPublicKey).toBe(VAPID);
    expect(appPayloadEffect(enc, 'event', pushState({ kinds: null }), () => 0, new Map())).toEqual({});
  });

  it('says why push cannot work here', () => {
    const ok: PushEnv = { secure: true, serviceWorker: true, pushManager: true, notification: true, ios: false, standalone: false };
    expect(pushSupport(ok)).toEqual({ ok: true });
    expect(pushSupport({ ...ok, ios: true, pushManager: false })).toEqual({ ok: false, reason: 'ios_not_installed' });
    expect(pushSupport({ ...ok, ios: true, standalone: true })).toEqual({ ok: true });
    expect(pushSupport({ ...ok, serviceWorker: false })).toEqual({ ok: false, reason: 'no_service_worker' });
    expect(pushSupport({ ...ok, pushManager: false })).toEqual({ ok: false, reason: 'no_push' });
    expect(pushSupport({ ...ok, secure: false })).toEqual({ ok: false, reason: 'insecure' });
  });

  it('keeps the local record bounded and re-sends only a changed endpoint', () => {
    const s = new MemoryStorage();
    expect(loadPushLocal(s).enabled).toBe(false);
    s.setItem(PUSH_LOCAL_KEY, '{not json');
    expect(loadPushLocal(s)).toEqual({ enabled: false, sent: null, kinds: KINDS });
    savePushLocal(s, { enabled: true, sent: ENDPOINT, kinds: { ...KINDS, pairing: true } });
    const l = loadPushLocal(s);
    expect(l).toEqual({ enabled: true, sent: ENDPOINT, kinds: { ...KINDS, pairing: true } });
    const wire = { endpoint: ENDPOINT, p256dh: P256DH, auth: AUTH };
    expect(needsResend(l, wire)).toBe(false);
    expect(needsResend(l, { ...wire, endpoint: ENDPOINT + 'x' })).toBe(true);
    expect(needsResend({ ...l, enabled: false }, { ...wire, endpoint: ENDPOINT + 'x' })).toBe(false);
  });
});

// ---------- settings logic over the E2EE rig with a stubbed PushManager ----------
class StubSub implements PushSubscriptionLike {
  unsubscribed = false;
  constructor(
    readonly endpoint: string,
    readonly key: C.Bytes,
  ) {}
  get options() {
    return { applicationServerKey: this.key.slice().buffer };
  }
  toJSON() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: P256DH, auth: AUTH } };
  }
  async unsubscribe() {
    this.unsubscribed = true;
    stub.current = stub.current === this ? null : stub.current;
    return true;
  }
}
const stub: { current: StubSub | null; subscribeCalls: C.Bytes[] } = { current: null, subscribeCalls: [] };
const pm: PushManagerLike = {
  getSubscription: async () => stub.current,
  subscribe: async (o) => {
    stub.subscribeCalls.push(o.applicationServerKey as C.Bytes);
    stub.current = new StubSub(`${ENDPOINT}/${stub.subscribeCalls.length}`, o.applicationServerKey as C.Bytes);
    return stub.current;
  },
};

function platform(over: Partial<PushPlatform> & { perm?: Permission } = {}) {
  const calls = { requestPermission: 0 };
  let perm: Permission = over.perm ?? 'default';
  const p: PushPlatform = {
    env: () => ({ secure: true, serviceWorker: true, pushManager: true, notification: true, ios: false, standalone: false }),
    permission: () => perm,
    requestPermission: async () => {
      calls.requestPermission++;
      perm = 'granted';
      return perm;
    },
    pushManager: async () => pm,
    visible: () => true,
    ...over,
  };
  return { p, calls };
}

const pushCommands = (r: Rig) =>
  r.desktop.commands.map((c) => (c as { payload: { payload: Frame } }).payload.payload).filter((c) => String(c.name).startsWith('push.'));

async function pushRig(capable = true): Promise<Rig> {
  stub.current = null;
  stub.subscribeCalls = [];
  return rig('qr', 0, (d) => {
    d.snap = { ...snapshot, capabilities: { interrupt: true, ...(capable ? { push: true } : {}) } };
    if (capable) d.onOpen = [['event', pushState()]];
  });
}

describe('push settings controller', () => {
  it('never asks for permission on load; enable() asks, subscribes with the VAPID key and sends push.subscribe', async () => {
    const r = await pushRig();
    const { p, calls } = platform();
    const storage = new MemoryStorage();
    const ctl = new PushController(r.client, p, storage); // connected already: sends visibility once
    await r.pump();
    expect(calls.requestPermission).toBe(0);
    expect(r.client.state.push?.vapidPublicKey).toBe(VAPID);
    expect(desktopPushBlocker(r.client.state)).toBeNull();
    expect(pushCommands(r)).toEqual([expect.objectContaining({ name: 'push.visibility', visible: true })]);

    expect(await ctl.enable()).toBe(true);
    await r.pump();
    expect(calls.requestPermission).toBe(1);
    expect(C.b64u(stub.subscribeCalls[0])).toBe(VAPID);
    const sent = pushCommands(r).at(-1)!;
    expect(sent).toMatchObject({ name: 'push.subscribe', subscription: { endpoint: `${ENDPOINT}/1`, p256dh: P256DH, auth: AUTH }, kinds: KINDS });
    expect(r.wire()).not.toContain(`${ENDPOINT}/1`); // only inside E2EE records
    expect(loadPushLocal(storage)).toEqual({ enabled: true, sent: `${ENDPOINT}/1`, kinds: KINDS });

    // toggling a kind re-sends the same subscription with the new kinds
    expect(await ctl.setKind('pairing', true)).toBe(true);
    await r.pump();
    expect(pushCommands(r).at(-1)).toMatchObject({ name: 'push.subscribe', subscription: { endpoint: `${ENDPOINT}/1` }, kinds: { approval: true, turn: true, pairing: true } });
    expect(stub.subscribeCalls).toHaveLength(1);

    // unsubscribe: the desktop is told, the browser subscription is dropped
    const before = stub.current!;
    expect(await ctl.disable()).toBe(true);
    await r.pump();
    expect(pushCommands(r).at(-1)).toMatchObject({ name: 'push.unsubscribe' });
    expect(before.unsubscribed).toBe(true);
    expect(loadPushLocal(storage)).toMatchObject({ enabled: false, sent: null });
  });

  it('re-sends a subscription the service worker renewed, on the next connection', async () => {
    const r = await pushRig();
    const storage = new MemoryStorage();
    const ctl = new PushController(r.client, platform({ perm: 'granted' }).p, storage);
    expect(await ctl.enable()).toBe(true);
    await r.pump();
    const n = pushCommands(r).length;
    await ctl.onConnected(); // same endpoint: only visibility
    await r.pump();
    expect(pushCommands(r).slice(n).map((c) => c.name)).toEqual(['push.visibility']);
    stub.current = new StubSub(`${ENDPOINT}/renewed`, C.unb64u(VAPID)!); // pushsubscriptionchange in the SW
    await ctl.onConnected();
    await r.pump();
    expect(pushCommands(r).at(-1)).toMatchObject({ name: 'push.subscribe', subscription: { endpoint: `${ENDPOINT}/renewed` } });
    expect(loadPushLocal(storage).sent).toBe(`${ENDPOINT}/renewed`);
  });

  it('replaces a subscription made for another VAPID key', async () => {
    const r = await pushRig();
    const old = new StubSub(`${ENDPOINT}/old`, C.unb64u(await point())!);
    stub.current = old;
    const ctl = new PushController(r.client, platform({ perm: 'granted' }).p, new MemoryStorage());
    expect(await ctl.enable()).toBe(true);
    expect(old.unsubscribed).toBe(true);
    expect(C.b64u(stub.subscribeCalls[0])).toBe(VAPID);
  });

  it('refuses without push on the desktop, with a denied permission, and on a plain pairing', async () => {
    const r = await pushRig(false);
    const ctl = new PushController(r.client, platform().p, new MemoryStorage());
    expect(desktopPushBlocker(r.client.state)).toMatch(/does not send notifications/);
    expect(await ctl.enable()).toBe(false);
    expect(ctl.view.error).toMatch(/does not send notifications/);
    expect(r.client.sendCommand('push.visibility', { visible: true })).toMatchObject({ ok: false });
    await ctl.onConnected();
    await r.pump();
    expect(pushCommands(r)).toEqual([]);

    const r2 = await pushRig();
    const denied = new PushController(r2.client, platform({ requestPermission: async () => 'denied' }).p, new MemoryStorage());
    expect(await denied.enable()).toBe(false);
    expect(denied.view.error).toMatch(/blocked/);
    expect(stub.subscribeCalls).toHaveLength(0);

    const plain = await rig({}, 0, (d) => (d.required = false));
    expect(plain.client.state.e2ee.mode).toBe('off');
    expect(desktopPushBlocker(plain.client.state)).toMatch(/end-to-end encrypted/);
    expect(plain.client.sendCommand('push.unsubscribe', {})).toMatchObject({ ok: false });
  });

  it('reports an unsupported browser and never touches the PushManager', async () => {
    const r = await pushRig();
    let touched = 0;
    const ctl = new PushController(
      r.client,
      platform({ env: () => ({ secure: true, serviceWorker: true, pushManager: false, notification: true, ios: true, standalone: false }), pushManager: async () => (touched++, pm) }).p,
      new MemoryStorage(),
    );
    expect(ctl.view.support).toEqual({ ok: false, reason: 'ios_not_installed' });
    expect(await ctl.enable()).toBe(false);
    expect(touched).toBe(0);
  });
});
