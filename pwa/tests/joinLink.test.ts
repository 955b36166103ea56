import { describe, expect, it } from 'vitest';
import { buildJoinLink, parseJoinLink, relayBaseFromWebSocketURL, webSocketURLFromRelayBase } from '../src/core/joinLink';

// Scenario 121
describe('join link parsing (121)', () => {
  it('parses a bare fragment with an unescaped relay', () => {
    expect(parseJoinLink('#sid=SESSION_abcdefghijkl&jt=JOIN_tokenabcdefghijklmnopq&relay=https://relay.example')).toEqual({
      sessionID: 'SESSION_abcdefghijkl',
      joinToken: 'JOIN_tokenabcdefghijklmnopq',
      relayBaseURL: 'https://relay.example',
    });
  });

  it('parses a full URL with a percent-encoded relay and reduces it to its origin', () => {
    const l = parseJoinLink('https://remote.bikz.cc/rc?x=1#sid=abc_DEF-123456789012&jt=tok&relay=https%3A%2F%2Frelay.example%3A8443%2Fws%3Fq%3D1');
    expect(l).toEqual({ sessionID: 'abc_DEF-123456789012', joinToken: 'tok', relayBaseURL: 'https://relay.example:8443' });
  });

  it('accepts query-style parameters and pasted text around the link', () => {
    expect(parseJoinLink('?sid=s1&jt=j1')).toEqual({ sessionID: 's1', joinToken: 'j1' });
    expect(parseJoinLink('Open this: http://127.0.0.1:4173/#sid=s2&jt=j2&relay=http://127.0.0.1:8787 ')).toEqual({
      sessionID: 's2',
      joinToken: 'j2',
      relayBaseURL: 'http://127.0.0.1:8787',
    });
    expect(parseJoinLink('sid=s3&jt=j3')).toEqual({ sessionID: 's3', joinToken: 'j3' });
  });

  it('prefers the fragment over the query', () => {
    expect(parseJoinLink('https://x.test/?sid=q&jt=q#sid=f&jt=f')).toEqual({ sessionID: 'f', joinToken: 'f' });
  });

  it('drops a non-http relay but keeps the link', () => {
    expect(parseJoinLink('#sid=s&jt=j&relay=javascript:alert(1)')).toEqual({ sessionID: 's', joinToken: 'j' });
    expect(parseJoinLink('#sid=s&jt=j&relay=wss://relay.example/ws')).toEqual({ sessionID: 's', joinToken: 'j' });
  });

  it('yields nothing for unrelated text, route hashes or missing parameters', () => {
    expect(parseJoinLink('hello world')).toBeNull();
    expect(parseJoinLink('#/threads/42')).toBeNull();
    expect(parseJoinLink('https://example.com/#section-2')).toBeNull();
    expect(parseJoinLink('#sid=only')).toBeNull();
    expect(parseJoinLink('#jt=only')).toBeNull();
    expect(parseJoinLink('#sid=&jt=x')).toBeNull();
    expect(parseJoinLink('')).toBeNull();
    expect(parseJoinLink(null)).toBeNull();
  });

  it('builds <base>#sid=…&jt=…&relay=<percent-encoded>, dropping the base query/fragment', () => {
    const url = buildJoinLink('https://remote.bikz.cc/rc?utm=1#old', {
      sessionID: 'S1_abcdefghijklmnop',
      joinToken: 'J-1_abc',
      relayBaseURL: 'https://relay.example/ws',
    });
    expect(url).toBe('https://remote.bikz.cc/rc#sid=S1_abcdefghijklmnop&jt=J-1_abc&relay=https%3A%2F%2Frelay.example');
    expect(buildJoinLink('https://host.example', { sessionID: 's', joinToken: 'j' })).toBe('https://host.example/#sid=s&jt=j');
  });

  it('round-trips build → parse', () => {
    const link = { sessionID: 'S_abcdefghijklmnop', joinToken: 'J_abcdefghijklmnopqrstuvwxyz', relayBaseURL: 'http://127.0.0.1:9000' };
    expect(parseJoinLink(buildJoinLink('http://127.0.0.1:4173/', link))).toEqual(link);
  });

  it('maps between relay WebSocket URLs and HTTP bases', () => {
    expect(relayBaseFromWebSocketURL('wss://relay.example/ws')).toBe('https://relay.example');
    expect(relayBaseFromWebSocketURL('ws://127.0.0.1:8787/ws?token=x')).toBe('http://127.0.0.1:8787');
    expect(webSocketURLFromRelayBase('https://relay.example')).toBe('wss://relay.example/ws');
    expect(webSocketURLFromRelayBase('http://127.0.0.1:8787')).toBe('ws://127.0.0.1:8787/ws');
  });
});
