// The in-test desktop of the E2EE controller tests (split out of clientE2ee.test.ts so the push
// tests reuse it): what desktop-bridge does (e2ee_hub.cpp), reduced to one device.
import { webcrypto } from 'node:crypto';
import { expect } from 'vitest';
import { RemoteClient, type ClientDeps } from '../src/core/client';
import * as C from '../src/core/e2eeCrypto';
import { MemoryKeyStore } from '../src/core/e2eeKeys';
import { CONFIRM, channelTag } from '../src/core/e2eeSession';
import { MemoryStorage } from '../src/core/storage';
import { authOk, env, FakeSocket, FakeTimers, SESSION, TOKEN1 } from './helpers';

// Node runs WebCrypto on its thread pool, so the client's crypto finishes in real time, outside
// the fake timers. Count the calls in flight: pump() waits for them to finish instead of guessing
// with real-time sleeps (which lost the race under CPU load).
let inFlight = 0;
const waiters: (() => void)[] = [];
const subtle = new Proxy(webcrypto.subtle, {
  get(target, key) {
    const v = Reflect.get(target, key) as unknown;
    if (typeof v !== 'function') return v;
    return (...args: unknown[]) => {
      inFlight++;
      return Promise.resolve(v.apply(target, args)).finally(() => {
        if (--inFlight === 0) waiters.splice(0).forEach((w) => w());
      });
    };
  },
});
C.setCrypto({ subtle, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as Crypto);

/** Resolves once no WebCrypto call is running and every continuation of the last one has run. */
async function settled(): Promise<void> {
  for (let n = 0; n < 10_000; n++) {
    // one macrotask turn: every queued microtask (the client's await continuations) runs first
    await new Promise((r) => setTimeout(r, 0));
    if (inFlight === 0) return;
    await new Promise<void>((r) => waiters.push(r));
  }
  throw new Error('e2eeRig: WebCrypto calls kept starting (10 000 rounds)');
}
export const DEVICE = 'dev_12345678';
export const ids = { sessionID: SESSION, deviceID: DEVICE };
export const snapshot = {
  projects: [{ id: 'P1', name: 'General' }],
  threads: [{ id: 'T1', projectID: 'P1', title: 'Intro', isPinned: false }],
  messages: [{ id: 'M1', threadID: 'T1', role: 'user', text: 'Hello', createdAt: '2026-03-12T06:22:49Z' }],
  pendingRuntimeRequests: [],
};
export type Frame = Record<string, unknown>;

/** What desktop-bridge does (e2ee_hub.cpp), reduced to one device: pins, handshake, records. */
export class Desktop {
  dk!: C.Bytes;
  private idD!: CryptoKeyPair;
  ps = C.randomBytes(32);
  pinned: C.Bytes | null = null;
  required = true;
  dropHellos = 0; // the relay loses this many hellos
  commands: Frame[] = [];
  named: string[] = []; // reasons the phone sent in `resync`
  private pk: C.Bytes | null = null;
  private h: C.Bytes | null = null;
  private ch = '';
  tx: C.RecordStream | null = null;
  private rx: C.RecordStream | null = null;
  private seq = 100;
  /** snapshot sent on channel open and on snapshot requests */
  snap: Frame = snapshot;
  /** extra app envelopes (type, payload) sent after each snapshot the channel serves */
  onOpen: [string, unknown][] = [];

  static async create(): Promise<Desktop> {
    const d = new Desktop();
    d.idD = await C.generateIdentity();
    d.dk = await C.exportPoint(d.idD.publicKey);
    return d;
  }
  private frame(k: string, extra: Frame): Frame {
    return { type: 'e2ee', sessionID: SESSION, to: DEVICE, ch: this.ch, v: 1, k, ...extra };
  }
  async rec(text: string): Promise<Frame> {
    const r = await this.tx!.seal(text);
    return this.frame('rec', { c: r.c, ct: C.b64u(r.ct) });
  }
  appEnvelope(type: string, payload: unknown): string {
    return JSON.stringify(env(++this.seq, type, payload));
  }

  /** One frame the phone sent; returns the frames the desktop answers with. */
  async onPhone(text: string): Promise<Frame[]> {
    const m = JSON.parse(text) as Frame & { payload?: { type?: string; payload?: Frame } };
    if (m.type === 'relay.snapshot_request') {
      if (this.tx) {
        const out = [await this.rec(this.appEnvelope('snapshot', this.snap))];
        for (const [t, p] of this.onOpen) out.push(await this.rec(this.appEnvelope(t, p)));
        return out;
      }
      return this.required && !this.pinned ? [this.frame('refused', { ch: undefined, reason: 'e2ee_required' })] : [];
    }
    if (m.payload?.type === 'command') return this.required ? [this.frame('refused', { reason: 'e2ee_required' })] : [];
    if (m.payload?.type !== 'e2ee') return [];
    const b = m.payload.payload as Record<string, string & number>;
    if (b.k === 'hello' && this.dropHellos > 0) {
      this.dropHellos--;
      return [];
    }
    if (b.k === 'hello') return this.onHello(b);
    if (b.k === 'finish') {
      const ok = await C.verify((await C.importPoint(this.pk!, 'ECDSA'))!, C.unb64u(b.sig)!, C.signedInput('finish', this.h!));
      if (!ok) return [this.frame('refused', { reason: 'bad_finish_signature' })];
      this.pinned = this.pk;
      return [];
    }
    if (b.k === 'resync') {
      this.named.push(b.reason);
      this.tx = this.rx = null;
      return [];
    }
    const r = await this.rx!.open(b.c, C.unb64u(b.ct)!);
    if (!r.ok) return [this.frame('resync', { reason: r.reason })];
    if (r.text !== CONFIRM) {
      this.commands.push(JSON.parse(r.text) as Frame);
      return [];
    }
    const hello = { role: 'desktop', clientName: 'test desktop', supportsRuntimeRequests: true };
    return [await this.rec(CONFIRM), await this.rec(this.appEnvelope('hello', hello)), await this.rec(this.appEnvelope('snapshot', this.snap))];
  }

  private async onHello(b: Record<string, string>): Promise<Frame[]> {
    const ephP = C.unb64u(b.eph)!;
    const nP = C.unb64u(b.n)!;
    this.ch = channelTag(nP);
    this.tx = this.rx = null;
    if (b.pk) {
      const pk = C.unb64u(b.pk)!;
      if (!(await C.hmacVerify(this.ps, C.unb64u(b.mac)!, C.pairMacInput(pk, this.dk, ids)))) return [this.frame('refused', { reason: 'pair_mac_mismatch' })];
      this.pk = pk;
    } else if (this.pinned) this.pk = this.pinned;
    else return [this.frame('refused', { reason: 'unknown_device_key' })];
    const eph = await C.generateEphemeral();
    const ephD = await C.exportPoint(eph.publicKey);
    const nD = C.randomBytes(32);
    this.h = await C.transcriptHash({ ...ids, dk: this.dk, pkP: this.pk, ephP, nP, ephD, nD });
    const keys = await C.deriveKeys(await C.ecdh(eph.privateKey, (await C.importPoint(ephP, 'ECDH'))!), this.h);
    this.tx = new C.RecordStream(keys.d2p, 'd2p', ids);
    this.rx = new C.RecordStream(keys.p2d, 'p2d', ids);
    const sig = await C.sign(this.idD.privateKey, C.signedInput('accept', this.h));
    return [this.frame('accept', { eph: C.b64u(ephD), n: C.b64u(nD), sig: C.b64u(sig) })];
  }
}

export interface Rig {
  client: RemoteClient;
  desktop: Desktop;
  sock: () => FakeSocket;
  /** Moves frames both ways until the phone has nothing left to send and no crypto is running (bounded). */
  pump: () => Promise<void>;
  wire: () => string;
  timers: FakeTimers;
}

export async function rig(link: { dk?: string; ps?: string } | 'qr', dropHellos = 0, setup: (d: Desktop) => void = () => undefined): Promise<Rig> {
  const desktop = await Desktop.create();
  setup(desktop);
  desktop.dropHellos = dropHellos;
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  const deps: ClientDeps = {
    storage: new MemoryStorage(),
    keys: new MemoryKeyStore(),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    fetch: async () => ({
      status: 200,
      ok: true,
      text: async () => JSON.stringify({ sessionID: SESSION, deviceID: DEVICE, deviceSessionToken: TOKEN1, wsURL: 'ws://relay.test/ws' }),
    }),
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    now: () => timers.now,
    random: () => 0.5,
  };
  const client = new RemoteClient(deps);
  const qr = link === 'qr' ? { dk: C.b64u(desktop.dk), ps: C.b64u(desktop.ps) } : link;
  client.offerJoinLink({ sessionID: SESSION, joinToken: 'J'.repeat(43), ...qr }, 'http://relay.test');
  expect(await client.pair('Phone')).toBe(true);
  const sock = () => sockets[sockets.length - 1];
  let read = 0;
  const pump = async () => {
    for (let n = 0; n < 400; n++) {
      await settled();
      const fresh = sock().sent.slice(read);
      read = sock().sent.length;
      if (fresh.length === 0) return;
      for (const t of fresh) for (const f of await desktop.onPhone(t)) sock().receive(f);
    }
    throw new Error('e2eeRig: phone and desktop still exchanging frames after 400 rounds');
  };
  sock().open();
  read = 1; // relay.auth
  sock().receive(authOk());
  await pump();
  return { client, desktop, sock, pump, wire: () => sock().sent.join('\n'), timers };
}

