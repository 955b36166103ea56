// Web push settings logic (issue 14): asks for the notification permission only from enable()
// (a user gesture), subscribes with the desktop's VAPID key, sends push.subscribe / push.unsubscribe
// / push.visibility through the client (E2EE channel only), and re-sends a subscription the service
// worker renewed. The browser APIs are injected (PushPlatform), so vitest drives it with stubs.
import { unb64u, type Bytes } from './e2eeCrypto';
import type { ClientState, RemoteClient } from './client';
import {
  loadPushLocal,
  needsResend,
  pushSupport,
  savePushLocal,
  subscriptionWire,
  type PushEnv,
  type PushKind,
  type PushKinds,
  type PushLocal,
  type PushSubscriptionWire,
  type PushSupport,
} from './push';
import type { KeyValueStorage } from './storage';

export interface PushSubscriptionLike {
  endpoint: string;
  options?: { applicationServerKey?: ArrayBuffer | null };
  toJSON(): unknown;
  unsubscribe(): Promise<boolean>;
}
export interface PushManagerLike {
  getSubscription(): Promise<PushSubscriptionLike | null>;
  subscribe(o: { userVisibleOnly: boolean; applicationServerKey: Bytes }): Promise<PushSubscriptionLike>;
}
export type Permission = 'default' | 'granted' | 'denied';
export interface PushPlatform {
  env(): PushEnv;
  permission(): Permission;
  /** Notification.requestPermission(): only ever called from enable() */
  requestPermission(): Promise<Permission>;
  /** the service worker registration's pushManager, null when none is active */
  pushManager(): Promise<PushManagerLike | null>;
  visible(): boolean;
}

export interface PushView {
  support: PushSupport;
  permission: Permission;
  busy: boolean;
  error: string | null;
  local: PushLocal;
}

/** Why the desktop side is not available, or null when push can be switched on. */
export function desktopPushBlocker(s: ClientState): string | null {
  if (!s.paired) return 'Pair with a desktop first.';
  if (s.e2ee.mode === 'off') return 'Notifications need an end-to-end encrypted pairing: pair again.';
  if (s.phase !== 'online' || s.desktopConnected === false || s.e2ee.mode !== 'verified') return 'Connect to the desktop first.';
  if (s.data.capabilities.push !== true) return 'This desktop does not send notifications (update it).';
  if (!s.push) return 'Waiting for the desktop…';
  return null;
}

const sameKey = (a: ArrayBuffer | null | undefined, b: Uint8Array): boolean => {
  if (!a) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
};

export class PushController {
  view: PushView;
  private listeners = new Set<(v: PushView) => void>();
  private wasReady = false;

  constructor(
    private readonly client: RemoteClient,
    private readonly platform: PushPlatform,
    private readonly storage: KeyValueStorage,
  ) {
    const env = platform.env();
    const support = pushSupport(env);
    this.view = { support, permission: support.ok ? platform.permission() : 'default', busy: false, error: null, local: loadPushLocal(storage) };
    client.subscribe((s) => this.onState(s));
    this.onState(client.state);
  }

  subscribe(fn: (v: PushView) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private set(p: Partial<PushView>): void {
    this.view = { ...this.view, ...p };
    for (const l of this.listeners) l(this.view);
  }
  private saveLocal(local: PushLocal): void {
    savePushLocal(this.storage, local);
    this.set({ local });
  }

  /** The channel can carry push commands right now. */
  ready(s: ClientState = this.client.state): boolean {
    return s.phase === 'online' && s.desktopConnected !== false && s.e2ee.mode === 'verified' && s.data.capabilities.push === true;
  }

  /** Rising edge of ready(): a new connection (or channel) to a push-capable desktop. */
  private onState(s: ClientState): void {
    const ready = this.ready(s);
    const rose = ready && !this.wasReady;
    this.wasReady = ready;
    if (rose) void Promise.resolve().then(() => this.onConnected());
  }

  /** On every connection: the page's visibility, then a subscription the desktop has not seen. */
  async onConnected(): Promise<void> {
    this.sendVisibility(this.platform.visible());
    await this.resendIfChanged();
  }

  sendVisibility(visible: boolean): void {
    if (this.ready()) this.client.sendCommand('push.visibility', { visible });
  }

  /** The service worker renewed the subscription (pushsubscriptionchange), or a connection opened. */
  async resendIfChanged(): Promise<void> {
    const local = this.view.local;
    if (!local.enabled || !this.view.support.ok || !this.ready()) return;
    const [pm, sub] = await this.current();
    let wire = sub ? subscriptionWire(sub.toJSON()) : null;
    // Lost (expired and not renewed): subscribe again silently when the permission still stands.
    if (!wire && pm && this.platform.permission() === 'granted' && this.client.state.push) wire = await this.subscribeWith(pm).catch(() => null);
    if (wire && needsResend(local, wire)) this.send(wire, local.kinds);
  }

  /** The PushManager and the browser's current subscription (nulls when unavailable). */
  private async current(): Promise<[PushManagerLike | null, PushSubscriptionLike | null]> {
    const pm = await this.platform.pushManager().catch(() => null);
    return [pm, pm ? await pm.getSubscription().catch(() => null) : null];
  }

  private async subscribeWith(pm: PushManagerLike): Promise<PushSubscriptionWire> {
    const key = unb64u(this.client.state.push?.vapidPublicKey ?? '');
    if (!key || key.length !== 65) throw new Error('no usable desktop key');
    let sub = await pm.getSubscription();
    // A subscription made for another key (desktop re-keyed) cannot be reused.
    if (sub && !sameKey(sub.options?.applicationServerKey, key)) {
      await sub.unsubscribe().catch(() => false);
      sub = null;
    }
    sub = sub ?? (await pm.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
    const wire = subscriptionWire(sub.toJSON());
    if (!wire) throw new Error('unusable subscription');
    return wire;
  }

  private send(wire: PushSubscriptionWire, kinds: PushKinds): string | null {
    const r = this.client.sendCommand('push.subscribe', { subscription: wire, kinds });
    if (!r.ok) return r.error;
    this.saveLocal({ enabled: true, sent: wire.endpoint, kinds: { ...kinds } });
    return null;
  }

  /** User gesture only: permission prompt, subscribe, push.subscribe. */
  async enable(): Promise<boolean> {
    if (!this.view.support.ok || this.view.busy) return false;
    const blocked = desktopPushBlocker(this.client.state);
    if (blocked) return this.fail(blocked);
    this.set({ busy: true, error: null });
    try {
      const perm = this.platform.permission() === 'granted' ? 'granted' : await this.platform.requestPermission();
      this.set({ permission: perm });
      if (perm !== 'granted')
        return this.fail(perm === 'denied' ? 'Notifications are blocked: allow them in the site settings.' : 'Notifications were not allowed.');
      const pm = await this.platform.pushManager();
      if (!pm) return this.fail('The service worker is not active: reload.');
      const wire = await this.subscribeWith(pm);
      const err = this.send(wire, this.view.local.kinds);
      return err ? this.fail(err) : this.done();
    } catch (e) {
      return this.fail(`Could not subscribe: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The kinds to show: this phone's choice while it has push on, else what the desktop reports. */
  shownKinds(): PushKinds {
    const push = this.client.state.push;
    return !this.view.local.enabled && push?.subscribed ? push.kinds : this.view.local.kinds;
  }

  /** Toggle one kind; re-sends push.subscribe when push is on. */
  async setKind(kind: PushKind, on: boolean): Promise<boolean> {
    const kinds = { ...this.shownKinds(), [kind]: on };
    if (!this.view.local.enabled) {
      this.saveLocal({ ...this.view.local, kinds });
      return true;
    }
    const sub = (await this.current())[1];
    const wire = sub ? subscriptionWire(sub.toJSON()) : null;
    if (!wire) return this.fail('No subscription: turn notifications on again.');
    const err = this.send(wire, kinds);
    return err ? this.fail(err) : this.done();
  }

  /** push.unsubscribe to the desktop, then drop the browser subscription. */
  async disable(): Promise<boolean> {
    this.set({ busy: true, error: null });
    const r = this.ready() ? this.client.sendCommand('push.unsubscribe', {}) : { ok: false as const, error: 'Not connected: the desktop keeps the subscription.' };
    const sub = (await this.current())[1];
    if (sub) await sub.unsubscribe().catch(() => false);
    this.saveLocal({ enabled: false, sent: null, kinds: this.view.local.kinds });
    return r.ok ? this.done() : this.fail(r.error);
  }

  private done(): true {
    this.set({ busy: false, error: null });
    return true;
  }
  private fail(error: string): false {
    this.set({ busy: false, error });
    return false;
  }
}
