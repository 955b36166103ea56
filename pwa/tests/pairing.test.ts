import { describe, expect, it } from 'vitest';
import { joinPairing, pairingGuidance } from '../src/core/pairing';
import { deviceNameFromUserAgent, loadPairedDevice, MemoryStorage, PAIRED_DEVICE_KEY } from '../src/core/storage';
import { FakeTimers } from './helpers';

const link = { sessionID: 'S'.repeat(22), joinToken: 'J'.repeat(43) };

describe('pair/join client', () => {
  it('maps relay errors to specific guidance', async () => {
    for (const [status, code, title] of [
      [403, 'pair_request_denied', /declined/],
      [408, 'pair_request_timed_out', /No answer/],
      [409, 'pair_request_in_progress', /already waiting|Another/],
      [410, 'join_token_expired', /expired/],
    ] as const) {
      const t = new FakeTimers();
      const r = await joinPairing('http://r.test', link, 'iPhone', {
        fetch: async () => ({ status, ok: false, text: async () => JSON.stringify({ error: code, message: 'm' }) }),
        setTimeout: t.setTimeout,
        clearTimeout: t.clearTimeout,
      });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(code);
        expect(r.status).toBe(status);
        expect(r.title).toMatch(title);
      }
    }
  });

  it('falls back to the relay message for unknown codes', () => {
    expect(pairingGuidance('weird_code', 'Relay says no.').message).toBe('Relay says no.');
  });

  it('aborts after the 60 s client timeout', async () => {
    const t = new FakeTimers();
    const p = joinPairing('http://r.test', link, 'iPhone', {
      fetch: (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
      setTimeout: t.setTimeout,
      clearTimeout: t.clearTimeout,
    });
    expect(t.pendingDelays()).toEqual([60_000]);
    t.advance(60_000);
    const r = await p;
    expect(r).toMatchObject({ ok: false, code: 'client_timeout' });
  });

  it('reports network errors', async () => {
    const t = new FakeTimers();
    const r = await joinPairing('http://r.test', link, 'iPhone', {
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
      setTimeout: t.setTimeout,
      clearTimeout: t.clearTimeout,
    });
    expect(r).toMatchObject({ ok: false, code: 'network_error' });
  });

  it('derives wsURL from the relay base when the response lacks one, and omits an empty device name', async () => {
    const t = new FakeTimers();
    let body = '';
    const r = await joinPairing('https://r.test/', link, '  ', {
      fetch: async (_u, init) => {
        body = init.body;
        return { status: 200, ok: true, text: async () => JSON.stringify({ accepted: true, deviceID: 'd', deviceSessionToken: 'K'.repeat(43) }) };
      },
      setTimeout: t.setTimeout,
      clearTimeout: t.clearTimeout,
    });
    expect(r).toMatchObject({ ok: true, wsURL: 'wss://r.test/ws', sessionID: link.sessionID });
    expect(JSON.parse(body)).toEqual({ sessionID: link.sessionID, joinToken: link.joinToken });
  });
});

describe('storage and device name', () => {
  it('purges an unreadable stored record', () => {
    const s = new MemoryStorage();
    s.setItem(PAIRED_DEVICE_KEY, '{not json');
    expect(loadPairedDevice(s)).toBeNull();
    expect(s.getItem(PAIRED_DEVICE_KEY)).toBeNull();
  });

  it('infers a device name from the user agent', () => {
    expect(deviceNameFromUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)')).toBe('iPhone');
    expect(deviceNameFromUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari')).toBe('Android Device');
    expect(deviceNameFromUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)')).toBe('Mac Browser');
    expect(deviceNameFromUserAgent('curl/8')).toBe('Mobile Browser');
  });
});
