// Phone E2EE channel against a desktop built from the same primitives: handshake, pairing proof,
// named rejection of substituted keys, replayed handshakes and tampered/replayed/reordered records.
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  b64u,
  deriveKeys,
  ecdh,
  exportPoint,
  fields,
  generateEphemeral,
  generateIdentity,
  hmacVerify,
  importPoint,
  pairMacInput,
  randomBytes,
  RecordStream,
  setCrypto,
  sign,
  signedInput,
  transcriptHash,
  unb64u,
  verify,
  type Bytes,
} from '../src/core/e2eeCrypto';
import { createIdentity, MemoryKeyStore, toPhoneIdentity } from '../src/core/e2eeKeys';
import { CONFIRM, PhoneChannel, type DesktopWire, type PhoneWire } from '../src/core/e2eeSession';
import { buildJoinLink, parseJoinLink } from '../src/core/joinLink';

setCrypto(webcrypto);
const ids = { sessionID: 'session-abcdefghijklmnop', deviceID: 'device-abcdefghijklmnop' };

/** Minimal desktop side (what desktop-bridge does), for driving the phone channel. */
async function desktopAccept(idD: CryptoKeyPair, dk: Bytes, pkP: Bytes, hello: PhoneWire, signer = idD) {
  if (hello.k !== 'hello') throw new Error('not a hello');
  const eph = await generateEphemeral();
  const ephD = await exportPoint(eph.publicKey);
  const nD = randomBytes(32);
  const h = await transcriptHash({ ...ids, dk, pkP, ephP: unb64u(hello.eph)!, nP: unb64u(hello.n)!, ephD, nD });
  const keys = await deriveKeys(await ecdh(eph.privateKey, (await importPoint(unb64u(hello.eph)!, 'ECDH'))!), h);
  const accept: DesktopWire = { type: 'e2ee', k: 'accept', eph: b64u(ephD), n: b64u(nD), sig: b64u(await sign(signer.privateKey, signedInput('accept', h))) };
  return { accept, h, tx: new RecordStream(keys.d2p, 'd2p', ids), rx: new RecordStream(keys.p2d, 'p2d', ids) };
}
async function rec(tx: RecordStream, text: string): Promise<DesktopWire> {
  const r = await tx.seal(text);
  return { type: 'e2ee', k: 'rec', c: r.c, ct: b64u(r.ct) };
}

async function setup() {
  const idD = await generateIdentity();
  const dk = await exportPoint(idD.publicKey);
  const ps = randomBytes(32);
  const store = new MemoryKeyStore();
  const stored = await createIdentity(store, ids.sessionID, b64u(dk), b64u(ps));
  const phone = (await toPhoneIdentity(stored))!;
  return { idD, dk, ps, phone, store };
}

describe('phone E2EE channel', () => {
  it('pairs: MAC proves the QR, signatures verify, confirm first, records flow both ways', async () => {
    const { idD, dk, ps, phone } = await setup();
    const { channel, hello } = await PhoneChannel.open(phone, ids, ps);
    if (hello.k !== 'hello') throw new Error();
    expect(unb64u(hello.pk!)).toEqual(phone.pkP);
    expect(await hmacVerify(ps, unb64u(hello.mac!)!, pairMacInput(phone.pkP, dk, ids))).toBe(true);
    const d = await desktopAccept(idD, dk, phone.pkP, hello);
    const r = await channel.onAccept(d.accept);
    if (!r.ok) throw new Error(r.reason);
    if (r.finish.k !== 'finish' || r.confirm.k !== 'rec') throw new Error();
    const pk = (await importPoint(phone.pkP, 'ECDSA'))!;
    expect(await verify(pk, unb64u(r.finish.sig)!, signedInput('finish', d.h))).toBe(true);
    expect(await d.rx.open(r.confirm.c, unb64u(r.confirm.ct)!)).toEqual({ ok: true, text: CONFIRM });
    expect(await channel.seal('too early')).toBe(null); // no app payload before the peer's confirm
    expect(await channel.onRecord(await rec(d.tx, CONFIRM))).toEqual({ ok: true, text: null });
    expect(channel.state).toBe('open');
    expect(channel.safety).toMatch(/^\d{3} \d{3} \d{3}$/);
    expect(await channel.onRecord(await rec(d.tx, '{"a":1}'))).toEqual({ ok: true, text: '{"a":1}' });
    const out = (await channel.seal('{"cmd":1}'))!;
    if (out.k !== 'rec') throw new Error();
    expect(await d.rx.open(out.c, unb64u(out.ct)!)).toEqual({ ok: true, text: '{"cmd":1}' });
    // a reconnect without the secret carries no pairing proof
    const again = await PhoneChannel.open(phone, ids, null);
    expect(again.hello).not.toHaveProperty('mac');
  });

  it('names a substituted desktop key and a replayed accept', async () => {
    const { idD, dk, phone } = await setup();
    const mitm = await generateIdentity();
    const a = await PhoneChannel.open(phone, ids);
    const forged = await desktopAccept(idD, dk, phone.pkP, a.hello, mitm);
    expect(await a.channel.onAccept(forged.accept)).toEqual({ ok: false, reason: 'bad_accept_signature' });
    const b = await PhoneChannel.open(phone, ids);
    const old = await desktopAccept(idD, dk, phone.pkP, a.hello); // valid for the earlier hello only
    expect(await b.channel.onAccept(old.accept)).toEqual({ ok: false, reason: 'bad_accept_signature' });
    const c = await PhoneChannel.open(phone, ids);
    expect(await c.channel.onAccept({ type: 'e2ee', k: 'accept', eph: 'x', n: 'y', sig: 'z' })).toEqual({ ok: false, reason: 'malformed_handshake' });
  });

  async function openChannel() {
    const { idD, dk, phone } = await setup();
    const { channel, hello } = await PhoneChannel.open(phone, ids);
    const d = await desktopAccept(idD, dk, phone.pkP, hello);
    await channel.onAccept(d.accept);
    return { channel, d };
  }

  it('names missing confirm, replay, gap and bit flips', async () => {
    const x = await openChannel();
    expect(await x.channel.onRecord(await rec(x.d.tx, '{"app":"before confirm"}'))).toEqual({ ok: false, reason: 'missing_confirm' });
    const y = await openChannel();
    const confirm = await rec(y.d.tx, CONFIRM);
    await y.channel.onRecord(confirm);
    expect(await y.channel.onRecord(confirm)).toEqual({ ok: false, reason: 'replayed_record' });
    const z = await openChannel();
    await z.channel.onRecord(await rec(z.d.tx, CONFIRM));
    await rec(z.d.tx, 'dropped');
    expect(await z.channel.onRecord(await rec(z.d.tx, 'after drop'))).toEqual({ ok: false, reason: 'record_gap' });
    expect(z.channel.state).toBe('failed');
    const w = await openChannel();
    await w.channel.onRecord(await rec(w.d.tx, CONFIRM));
    const flipped = await rec(w.d.tx, 'secret');
    const ct = unb64u(flipped.ct as string)!;
    ct[2] ^= 0x80;
    expect(await w.channel.onRecord({ ...flipped, ct: b64u(ct) })).toEqual({ ok: false, reason: 'bad_record_tag' });
  });
});

describe('E2EE encodings and the join link', () => {
  it('base64url is strict and canonical; fields are length-prefixed', () => {
    const b = randomBytes(33);
    expect(unb64u(b64u(b))).toEqual(b);
    expect(unb64u('ab+c')).toBe(null);
    expect(unb64u('AB==')).toBe(null);
    expect(unb64u('AA')).toEqual(new Uint8Array([0]));
    expect(unb64u('AB')).toBe(null); // non-canonical trailing bits
    expect(Array.from(fields('ab', new Uint8Array([7])))).toEqual([0, 2, 97, 98, 0, 1, 7]);
  });

  it('parses dk/ps from the fragment, round-trips them, and refuses a damaged or half key set', () => {
    const dk = 'B' + 'A'.repeat(86);
    const ps = 'c'.repeat(43);
    const link = parseJoinLink(`https://app/#sid=s1&jt=j1&relay=https%3A%2F%2Fr.example&dk=${dk}&ps=${ps}`)!;
    expect(link).toEqual({ sessionID: 's1', joinToken: 'j1', relayBaseURL: 'https://r.example', dk, ps });
    expect(parseJoinLink(buildJoinLink('https://app/', link))).toEqual(link);
    expect(parseJoinLink(`#sid=s1&jt=j1&dk=${dk}`)).toBe(null);
    expect(parseJoinLink(`#sid=s1&jt=j1&dk=${dk.slice(1)}&ps=${ps}`)).toBe(null);
    expect(parseJoinLink(`#sid=s1&jt=j1&dk=${dk}&ps=${ps}!`)).toBe(null);
    expect(parseJoinLink('#sid=s1&jt=j1')).toEqual({ sessionID: 's1', joinToken: 'j1' });
  });
});
