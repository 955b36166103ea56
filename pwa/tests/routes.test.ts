import { describe, expect, it } from 'vitest';
import { formatRoute, isJoinFragment, parseRoute, planNavigation, resolveThreadRoute } from '../src/core/routes';

const T = '7A3F0B1C-0000-4000-8000-000000000001';
describe('routes', () => {
  it('parses and formats list and thread routes', () => {
    expect(parseRoute('')).toEqual({ view: 'list' });
    expect(parseRoute('#/')).toEqual({ view: 'list' });
    expect(parseRoute(`#/t/${T}`)).toEqual({ view: 'thread', threadID: T });
    expect(parseRoute(`#/t/${T}/`)).toEqual({ view: 'thread', threadID: T });
    expect(formatRoute({ view: 'thread', threadID: T })).toBe(`#/t/${T}`);
    expect(formatRoute({ view: 'list' })).toBe('#/');
    expect(parseRoute(formatRoute({ view: 'thread', threadID: 'a:b_c-1' }))).toEqual({ view: 'thread', threadID: 'a:b_c-1' });
  });
  it('keeps the pair-link fragment and junk apart from routes', () => {
    expect(isJoinFragment('#sid=abc&jt=def&relay=x')).toBe(true);
    expect(isJoinFragment('?jt=def&sid=abc')).toBe(true);
    expect(isJoinFragment(`#/t/${T}`)).toBe(false);
    expect(parseRoute('#sid=abc&jt=def')).toEqual({ view: 'list' });
    expect(parseRoute('#/t/%E0%A4%A')).toEqual({ view: 'list' }); // bad escape
    expect(parseRoute('#/t/<script>')).toEqual({ view: 'list' });
    expect(parseRoute('#/t/a/b')).toEqual({ view: 'list' });
    expect(parseRoute(`#/t/${'x'.repeat(200)}`)).toEqual({ view: 'list' });
  });
  it('plans history: push from the list, back to our own entry, replace otherwise', () => {
    const list = { view: 'list' } as const;
    const a = { view: 'thread', threadID: 'a' } as const;
    const b = { view: 'thread', threadID: 'b' } as const;
    expect(planNavigation(list, a, false)).toBe('push');
    expect(planNavigation(a, b, true)).toBe('replace');
    expect(planNavigation(a, list, true)).toBe('back');
    expect(planNavigation(a, list, false)).toBe('replace'); // opened by reload/deep link
    expect(planNavigation(a, a, true)).toBe('none');
  });
  it('resolves a reloaded thread route once data is there', () => {
    const r = { view: 'thread', threadID: 'a' } as const;
    expect(resolveThreadRoute(r, [], 0)).toBe('wait');
    expect(resolveThreadRoute(r, ['a'], 1)).toBe('open');
    expect(resolveThreadRoute(r, ['b'], 1)).toBe('missing');
    expect(resolveThreadRoute({ view: 'list' }, ['a'], 1)).toBe('list');
  });
});
