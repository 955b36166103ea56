// E2EE wiring of the connection controller (client.ts + e2eeClient.ts) over fake sockets, against
// an in-test desktop composed of the same primitives the bridge uses (docs/E2EE.md): QR pairing,
// encrypted hello/snapshot/commands, named rejection + resync of tampered or replayed records,
// plaintext from the relay refused, and a `required` desktop refusing a plaintext phone.
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RemoteClient, type ClientDeps } from '../src/core/client';
import * as C from '../src/core/e2eeCrypto';
import { HANDSHAKE_TIMEOUT_MS } from '../src/core/e2eeClient';
import { MemoryKeyStore } from '../src/core/e2eeKeys';
import { CONFIRM, channelTag } from '../src/core/e2eeSession';
import { MemoryStorage } from '../src/core/storage';
import { authOk, env, FakeSocket, FakeTimers, SESSION, TOKEN1 } from './helpers';

C.setCrypto(webcrypto);
const DEVICE = 'dev_12345678';
const ids = { sessionID: SESSION, deviceID: DEVICE };
const snapshot = {
  projects: [{ id: 'P1', name: 'General' }],
  threads: [{ id: 'T1', projectID: 'P1', title: 'Intro', isPinned: false }],
  messages: [{ id: 'M1', threadID: 'T1', role: 'user', text: 'Hello', createdAt: '2026-03-12T06:22:49Z' }],
  pendingRuntimeRequests: [],
};
type Frame = Record<string, unknown>;

/** What desktop-bridge does (e2ee_hub.cpp), reduced to one device: pins, handshake, records. */
class Desktop {
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
      if (this.tx) return [await this.rec(this.appEnvelope('snapshot', snapshot))];
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
    return [await this.rec(CONFIRM), await this.rec(this.appEnvelope('hello', hello)), await this.rec(this.appEnvelope('snapshot', snapshot))];
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

interface Rig {
  client: RemoteClient;
  desktop: Desktop;
  sock: () => FakeSocket;
  /** Moves frames both ways until nothing new happens (bounded). */
  pump: () => Promise<void>;
  wire: () => string;
  timers: FakeTimers;
}

async function rig(link: { dk?: string; ps?: string } | 'qr', dropHellos = 0): Promise<Rig> {
  const desktop = await Desktop.create();
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
    for (let idle = 0, n = 0; idle < 10 && n < 400; n++) {
      await new Promise((r) => setTimeout(r, 5));
      const fresh = sock().sent.slice(read);
      read = sock().sent.length;
      idle = fresh.length === 0 ? idle + 1 : 0;
      for (const t of fresh) for (const f of await desktop.onPhone(t)) sock().receive(f);
    }
  };
  sock().open();
  read = 1; // relay.auth
  sock().receive(authOk());
  await pump();
  return { client, desktop, sock, pump, wire: () => sock().sent.join('\n'), timers };
}

describe('controller E2EE wiring', () => {
  it('pairs from the QR, decrypts the snapshot, shows the safety code, sends commands only as records', async () => {
    const r = await rig('qr');
    const st = r.client.state;
    expect(st.e2ee.mode).toBe('verified');
    expect(r.desktop.pinned).not.toBeNull();
    expect(st.e2ee.safetyCode).toBe(await C.safetyCode(r.desktop.dk, r.desktop.pinned!));
    expect(st.e2ee.safetyCode).toMatch(/^\d{3} \d{3} \d{3}$/);
    expect(st.data.threads.map((t) => t.id)).toEqual(['T1']);
    const res = r.client.sendMessage('T1', 'secret payroll prompt');
    expect(res.ok).toBe(true);
    await r.pump();
    expect(r.desktop.commands).toHaveLength(1);
    const cmd = r.desktop.commands[0] as { seq: number; payload: { type: string; payload: { name: string; text: string } } };
    expect(cmd.payload.payload).toMatchObject({ name: 'thread.send_message', text: 'secret payroll prompt' });
    expect(res.ok && cmd.seq).toBe(res.ok ? res.seq : -1);
    expect(r.wire()).not.toContain('secret payroll prompt');
    expect(r.wire()).not.toContain('thread.send_message');
    for (const f of r.sock().json().slice(1)) if (f.type !== 'relay.snapshot_request') expect((f.payload as { type: string }).type).toBe('e2ee');
  });

  it('names a bit-flipped or replayed desktop record, resyncs, and applies nothing forged', async () => {
    const r = await rig('qr');
    const other = { ...snapshot, threads: [{ id: 'T9', projectID: 'P1', title: 'FORGED', isPinned: false }] };
    for (const [attack, want] of [
      ['flip', 'bad_record_tag'],
      ['replay', 'replayed_record'],
    ] as const) {
      expect(r.client.state.e2ee.mode).toBe('verified');
      const seen = new Set<string>();
      let appliedT9 = false;
      const off = r.client.subscribe((s) => {
        if (s.e2ee.reason) seen.add(s.e2ee.reason);
        appliedT9 ||= s.data.threads.some((t) => t.id === 'T9');
      });
      const hellosBefore = r.sock().sent.filter((t) => t.includes('"k":"hello"')).length;
      const f = await r.desktop.rec(r.desktop.appEnvelope('snapshot', other));
      if (attack === 'flip') {
        const ct = C.unb64u(f.ct as string)!;
        ct[3] ^= 0x01;
        r.sock().receive({ ...f, ct: C.b64u(ct) });
      } else {
        r.sock().receive(f); // genuine: applied once
        await r.pump();
        expect(r.client.state.data.threads.map((t) => t.id)).toEqual(['T9']);
        r.sock().receive(f); // replayed by the relay
      }
      await r.pump();
      off();
      expect(seen.has(want)).toBe(true);
      expect(r.desktop.named.at(-1)).toBe(want); // the phone told the desktop, named
      expect(r.sock().sent.filter((t) => t.includes('"k":"hello"')).length).toBe(hellosBefore + 1);
      expect(r.client.state.e2ee.mode).toBe('verified'); // a fresh handshake resynchronised
      // the tampered copy is never applied (a rejected record is never delivered: the replayed
      // one neither, which the named replayed_record above shows)
      if (attack === 'flip') expect(appliedT9).toBe(false);
    }
    // a plaintext app frame (a relay stripping encryption) is never applied
    r.sock().receive(env(999, 'snapshot', { ...snapshot, threads: [{ id: 'TX', projectID: 'P1', title: 'INJECTED', isPinned: false }] }));
    expect(r.client.state.e2ee.reason).toBe('plaintext_refused');
    expect(r.client.state.data.threads.map((t) => t.id)).not.toContain('TX');
  });

  it('a refused pairing proof is final: named, no retry', async () => {
    const other = await Desktop.create();
    const wrong = await rig({ dk: C.b64u(other.dk), ps: C.b64u(other.ps) }); // the relay's own key + secret
    expect(wrong.client.state.e2ee.mode).toBe('failed');
    expect(wrong.client.state.e2ee.reason).toBe('pair_mac_mismatch');
    expect(wrong.sock().sent.filter((t) => t.includes('"k":"hello"'))).toHaveLength(1);
    expect(wrong.desktop.pinned).toBeNull();
  });

  it('a lost hello is retried after the handshake timeout, then named as failed', async () => {
    const r = await rig('qr', 1);
    expect(r.client.state.e2ee.mode).toBe('pending');
    r.timers.advance(HANDSHAKE_TIMEOUT_MS);
    await r.pump();
    expect(r.client.state.e2ee.mode).toBe('verified'); // the retry carried the pairing proof again
    const lost = await rig('qr', 99);
    for (let i = 0; i < 3; i++) {
      lost.timers.advance(HANDSHAKE_TIMEOUT_MS);
      await lost.pump();
    }
    expect(lost.client.state.e2ee).toMatchObject({ mode: 'failed', reason: 'handshake_timeout' });
    expect(lost.sock().sent.filter((t) => t.includes('"k":"hello"'))).toHaveLength(3);
  });

  it('a `required` desktop refuses a plaintext phone with a clear message', async () => {
    const r = await rig({});
    expect(r.sock().json()[1]).toMatchObject({ type: 'relay.snapshot_request' });
    expect(r.client.state.e2ee.mode).toBe('failed');
    expect(r.client.state.e2ee.reason).toBe('e2ee_required');
    expect(r.client.state.e2ee.text).toMatch(/requires end-to-end encryption/);
    expect(r.client.state.data.threads).toEqual([]);
  });
});
