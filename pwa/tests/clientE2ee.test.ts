// E2EE wiring of the connection controller (client.ts + e2eeClient.ts) over fake sockets, against
// an in-test desktop composed of the same primitives the bridge uses (docs/E2EE.md): QR pairing,
// encrypted hello/snapshot/commands, named rejection + resync of tampered or replayed records,
// plaintext from the relay refused, and a `required` desktop refusing a plaintext phone.
import { describe, expect, it } from 'vitest';
import * as C from '../src/core/e2eeCrypto';
import { HANDSHAKE_TIMEOUT_MS } from '../src/core/e2eeClient';
import { env } from './helpers';
import { Desktop, rig, snapshot } from './e2eeRig';

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
