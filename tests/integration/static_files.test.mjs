// STATIC_DIR: the relay serves the built PWA from its own origin (issue: one process hosts both).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRelay } from './lib/relay.mjs';

const T = { timeout: 15000 };

describe('STATIC_DIR serves the PWA', () => {
  let relay; let dir;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-static-'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>pwa</title>');
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(os.tmpdir(), 'rc-secret-outside.txt'), 'secret');
    relay = await startRelay({ STATIC_DIR: dir });
  });
  after(async () => { await relay?.kill(); fs.rmSync(dir, { recursive: true, force: true }); });

  test('GET / and a route path return index.html (single-page app)', T, async () => {
    for (const p of ['/', '/threads/abc']) {
      const r = await relay.get(p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers['content-type'], /text\/html/);
      assert.match(r.text, /<title>pwa<\/title>/);
    }
  });

  test('assets get their MIME type', T, async () => {
    const r = await relay.get('/assets/app.js');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /javascript/);
    assert.equal(r.text, 'console.log(1)');
  });

  test('path traversal is refused', T, async () => {
    for (const p of ['/../rc-secret-outside.txt', '/assets/../../rc-secret-outside.txt', '/%2e%2e/rc-secret-outside.txt']) {
      const r = await relay.get(p);
      assert.ok(!r.text.includes('secret'), `${p} leaked a file outside STATIC_DIR`);
    }
  });

  test('API, health and websocket routes are not shadowed', T, async () => {
    assert.equal((await relay.get('/healthz')).body.ok, true);
    assert.equal((await relay.get('/pair/start')).status, 405);
  });
});
