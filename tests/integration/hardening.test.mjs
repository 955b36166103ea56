// Issue 10 (gateway): hostile HTTP against the real relay-node on loopback. Request targets that
// are not origin-form, framing that cannot be delimited, bodies on paths that take none, and the
// connection cap counting every HTTP connection; the node still answers afterwards.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startRelay, waitFor } from './lib/relay.mjs';
import { raw } from './lib/http.mjs';
import { WsClient } from './lib/ws.mjs';
import { newCreds, startBody } from './lib/fixture.mjs';

const T = { timeout: 20000 };


const statusOf = (text) => text.split('\r\n', 1)[0];

describe('hostile HTTP requests', () => {
  let relay; let root;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-hard-'));
    fs.mkdirSync(path.join(root, 'dist'));
    fs.mkdirSync(path.join(root, 'dist-private'));
    fs.writeFileSync(path.join(root, 'dist', 'index.html'), '<title>pwa</title>');
    fs.writeFileSync(path.join(root, 'dist-private', 'secret.txt'), 'secret');
    fs.writeFileSync(path.join(root, 'dist.env'), 'secret=1');
    relay = await startRelay({ STATIC_DIR: path.join(root, 'dist') });
  });
  after(async () => { await relay?.kill(); fs.rmSync(root, { recursive: true, force: true }); });

  test('targets without a leading slash get 400 and no sibling of STATIC_DIR', T, async () => {
    for (const target of ['-private/secret.txt', '.env']) {
      const r = await raw(relay.port, `GET ${target} HTTP/1.1\r\nHost: relay\r\n\r\n`);
      assert.equal(statusOf(r), 'HTTP/1.1 400 Bad Request', target);
      assert.ok(!r.includes('secret'), `${target} leaked a sibling of STATIC_DIR`);
    }
  });

  test('Transfer-Encoding not ending in chunked: 400, close, no smuggled request', T, async () => {
    for (const te of ['identity', 'chunked, identity']) {
      const r = await raw(relay.port, 'POST /pair/stop HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n' +
        `Transfer-Encoding: ${te}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n`);
      assert.equal(statusOf(r), 'HTTP/1.1 400 Bad Request', te);
      assert.equal(r.indexOf('HTTP/1.1', 1), -1, `${te}: a second response was smuggled`);
    }
  });

  test('HEAD answers have the GET headers and no body (keep-alive stays in sync)', T, async () => {
    const r = await raw(relay.port, 'HEAD /healthz HTTP/1.1\r\nHost: relay\r\n\r\nGET /index.html HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n');
    const [first, rest] = [r.slice(0, r.indexOf('\r\n\r\n') + 4), r.slice(r.indexOf('\r\n\r\n') + 4)];
    assert.equal(statusOf(first), 'HTTP/1.1 200 OK');
    assert.match(first, /Content-Length: [1-9]\d*\r\n/);
    assert.equal(statusOf(rest), 'HTTP/1.1 200 OK', 'the next response starts right after the HEAD headers');
    assert.ok(rest.endsWith('<title>pwa</title>'));
  });

  test('bodies on /healthz and the /ws upgrade get 413 without being sent', T, async () => {
    const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const head of ['GET /healthz HTTP/1.1\r\nHost: r\r\n', `GET /ws HTTP/1.1\r\nHost: r\r\n${ws}`]) {
      const r = await raw(relay.port, `${head}Content-Length: 1048576\r\n\r\n`);
      assert.equal(statusOf(r), 'HTTP/1.1 413 Payload Too Large', head);
    }
    const bad = await raw(relay.port, `GET /ws HTTP/1.1\r\nHost: r\r\n${ws.replace('dGhlIHNhbXBsZSBub25jZQ==', 'abc')}\r\n`);
    assert.equal(statusOf(bad), 'HTTP/1.1 400 Bad Request');
    assert.equal((await relay.get('/healthz')).status, 200);
  });
});

describe('MAX_OPEN_CONNECTIONS counts plain HTTP connections', () => {
  let relay;
  before(async () => { relay = await startRelay({ MAX_OPEN_CONNECTIONS: '4' }); });
  after(async () => { await relay?.kill(); });

  test('idle HTTP connections fill the cap; one more is refused at accept; freed slots serve again', T, async () => {
    const idle = [];
    try {
      for (let i = 0; i < 4; ++i) {
        const s = net.connect(relay.port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        idle.push(s);
      }
      // The relay learns of the accepted sockets asynchronously: a fifth must end up refused.
      await waitFor(async () => (await raw(relay.port, 'GET /healthz HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n')) === '',
        { timeoutMs: 5000, what: 'a connection beyond the cap is closed without an answer' });
    } finally {
      for (const s of idle) s.destroy();
    }
    await waitFor(async () => statusOf(await raw(relay.port, 'GET /healthz HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n')) === 'HTTP/1.1 200 OK',
      { timeoutMs: 5000, what: 'healthz answers once the idle connections are gone' });
  });
});

describe('unauthenticated websockets cannot lock out the HTTP API (MAX_OPEN_CONNECTIONS=8)', () => {
  let relay;
  before(async () => { relay = await startRelay({ MAX_OPEN_CONNECTIONS: '8' }); });
  after(async () => { await relay?.kill(); });

  test('websockets that never authenticate: new upgrades get 503, /healthz and /pair/start answer', T, async () => {
    const open = [];
    let refused = 0;
    try {
      for (let i = 0; i < 8; ++i) {
        try {
          open.push(await WsClient.connect(relay.wsURL, { label: `unauth-${i}`, timeoutMs: 2000 }));
        } catch (e) {
          assert.match(String(e.message), /unexpected upgrade response 503/);
          ++refused;
        }
      }
      const h = await relay.get('/healthz');
      assert.equal(h.status, 200);
      const p = await relay.post('/pair/start', startBody(newCreds()));
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.equal(open.length, 2, 'MAX_PREAUTH_WEBSOCKETS defaults to MAX_OPEN_CONNECTIONS / 4');
      assert.equal(refused, 6);
      assert.ok(open.every((c) => c.isOpen), 'the admitted sockets stay open until their auth timer');
    } finally {
      for (const c of open) c.ws.terminate();
    }
  });
});
