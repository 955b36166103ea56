// Phone side of the E2EE connection handshake and record channel (docs/E2EE.md). Pure protocol
// logic over e2eeCrypto: the controller moves the returned wire objects; no socket, no DOM.
import {
  b64u,
  deriveKeys,
  ecdh,
  exportPoint,
  generateEphemeral,
  hmac,
  importPoint,
  NONCE_LEN,
  pairMacInput,
  POINT_LEN,
  randomBytes,
  RecordStream,
  safetyCode,
  sign,
  signedInput,
  SIG_LEN,
  transcriptHash,
  unb64u,
  verify,
  type Bytes,
  type Ids,
  type RecordReject,
} from './e2eeCrypto';

export interface PhoneIdentity {
  /** ECDSA P-256 pair; the private key is non-extractable. */
  keyPair: CryptoKeyPair;
  /** our public key (SEC1 uncompressed) */
  pkP: Bytes;
  /** the desktop identity key pinned from the QR */
  dk: Bytes;
}

/** Inner body of a phone → desktop `payload.type:"e2ee"` envelope. */
export type PhoneWire =
  | { v: 1; k: 'hello'; eph: string; n: string; pk?: string; mac?: string }
  | { v: 1; k: 'finish'; sig: string }
  | { v: 1; k: 'rec'; c: number; ct: string }
  | { v: 1; k: 'resync'; reason: string };

/** Desktop → phone frame `{type:"e2ee", sessionID, to, ch, v, k, …}`. */
export interface DesktopWire {
  type: 'e2ee';
  to?: unknown;
  ch?: unknown;
  k?: unknown;
  eph?: unknown;
  n?: unknown;
  sig?: unknown;
  c?: unknown;
  ct?: unknown;
  reason?: unknown;
}

export type HandshakeFailure =
  | RecordReject
  | 'bad_accept_signature'
  | 'malformed_handshake'
  | 'unexpected_message'
  | 'missing_confirm';

export const CONFIRM = '{"t":"confirm"}';
/** Channel tag on desktop frames: lets a phone drop frames meant for an earlier handshake. */
export const channelTag = (nP: Bytes): string => b64u(nP).slice(0, 12);

type Fail = { ok: false; reason: HandshakeFailure };

/**
 * One handshake + record channel for one websocket connection. States:
 * awaiting_accept → awaiting_confirm → open. Any failure is final for this object.
 */
export class PhoneChannel {
  state: 'awaiting_accept' | 'awaiting_confirm' | 'open' | 'failed' = 'awaiting_accept';
  safety: string | null = null;
  readonly ch: string;
  private tx: RecordStream | null = null;
  private rx: RecordStream | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly id: PhoneIdentity,
    private readonly ids: Ids,
    private readonly eph: CryptoKeyPair,
    private readonly ephP: Bytes,
    private readonly nP: Bytes,
  ) {
    this.ch = channelTag(nP);
  }

  /** Fresh ephemeral key + nonce; `pairingSecret` adds the QR proof (first connection only). */
  static async open(id: PhoneIdentity, ids: Ids, pairingSecret?: Bytes | null): Promise<{ channel: PhoneChannel; hello: PhoneWire }> {
    const eph = await generateEphemeral();
    const ephP = await exportPoint(eph.publicKey);
    const nP = randomBytes(NONCE_LEN);
    const channel = new PhoneChannel(id, ids, eph, ephP, nP);
    const hello: PhoneWire = { v: 1, k: 'hello', eph: b64u(ephP), n: b64u(nP) };
    if (pairingSecret) {
      hello.pk = b64u(id.pkP);
      hello.mac = b64u(await hmac(pairingSecret, pairMacInput(id.pkP, id.dk, ids)));
    }
    return { channel, hello };
  }

  /** Runs `fn` after every earlier call: counters follow call order although crypto is async. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private fail(reason: HandshakeFailure): Fail {
    this.state = 'failed';
    this.tx = this.rx = null;
    return { ok: false, reason } as Fail;
  }

  /** accept → verify the desktop's signature with the pinned key, derive keys, answer. */
  onAccept(m: DesktopWire): Promise<{ ok: true; finish: PhoneWire; confirm: PhoneWire } | Fail> {
    return this.serial(async () => {
      if (this.state !== 'awaiting_accept') return this.fail('unexpected_message');
      const ephD = typeof m.eph === 'string' ? unb64u(m.eph) : null;
      const nD = typeof m.n === 'string' ? unb64u(m.n) : null;
      const sig = typeof m.sig === 'string' ? unb64u(m.sig) : null;
      if (!ephD || ephD.length !== POINT_LEN || !nD || nD.length !== NONCE_LEN || !sig || sig.length !== SIG_LEN)
        return this.fail('malformed_handshake');
      const dkKey = await importPoint(this.id.dk, 'ECDSA');
      const peer = await importPoint(ephD, 'ECDH');
      if (!dkKey || !peer) return this.fail('malformed_handshake');
      const h = await transcriptHash({ ...this.ids, dk: this.id.dk, pkP: this.id.pkP, ephP: this.ephP, nP: this.nP, ephD, nD });
      if (!(await verify(dkKey, sig, signedInput('accept', h)))) return this.fail('bad_accept_signature');
      const keys = await deriveKeys(await ecdh(this.eph.privateKey, peer), h);
      this.tx = new RecordStream(keys.p2d, 'p2d', this.ids);
      this.rx = new RecordStream(keys.d2p, 'd2p', this.ids);
      const finish: PhoneWire = { v: 1, k: 'finish', sig: b64u(await sign(this.id.keyPair.privateKey, signedInput('finish', h))) };
      const r = await this.tx.seal(CONFIRM);
      this.state = 'awaiting_confirm';
      this.safety = await safetyCode(this.id.dk, this.id.pkP);
      return { ok: true, finish, confirm: { v: 1, k: 'rec', c: r.c, ct: b64u(r.ct) } };
    });
  }

  /** A desktop record: the first must be the confirm; later ones yield app JSON. */
  onRecord(m: DesktopWire): Promise<{ ok: true; text: string | null } | Fail> {
    return this.serial(async () => {
      if (!this.rx || (this.state !== 'awaiting_confirm' && this.state !== 'open')) return this.fail('unexpected_message');
      const ct = typeof m.ct === 'string' ? unb64u(m.ct) : null;
      if (typeof m.c !== 'number' || !ct) return this.fail('malformed_record');
      const r = await this.rx.open(m.c, ct);
      if (!r.ok) return this.fail(r.reason);
      if (this.state === 'awaiting_confirm') {
        if (r.text !== CONFIRM) return this.fail('missing_confirm');
        this.state = 'open';
        return { ok: true, text: null };
      }
      return { ok: true, text: r.text };
    });
  }

  /** Encrypts one app JSON (only once open). */
  seal(text: string): Promise<PhoneWire | null> {
    return this.serial(async () => {
      if (this.state !== 'open' || !this.tx) return null;
      const r = await this.tx.seal(text);
      return { v: 1, k: 'rec', c: r.c, ct: b64u(r.ct) } as PhoneWire;
    });
  }
}
