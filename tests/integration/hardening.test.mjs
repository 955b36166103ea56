// Issue 10: the bad-input suite. Hostile input of every class against the real relay-node on
// loopback, one test per class (HTTP framing, smuggling, bodies, slowloris, static paths, websocket
// upgrade, frames, floods, nesting, tokens), each asserting the specified answer; after each class
// the node must still pair and forward (pair/start + desktop + join + phone, a command one way and a
// frame the other) and its RSS (/proc/<pid>/status VmRSS) must be back within RSS_SLACK_KIB of the
// baseline taken after a warm-up round trip. Then the connection caps (MAX_OPEN_CONNECTIONS,
// MAX_PREAUTH_WEBSOCKETS), each with a relay of its own.
// Specified answers: RELAY_PROTOCOL.md, RFC 9112 (HTTP/1.1 framing), RFC 6455 (websocket) and the
// README's "Bounds on hostile input" table; where the relay answers differently from the RFC
// wording (no 400 before closing on an unparseable header, for example) the test says so.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startRelay, waitFor } from './lib/relay.mjs';
import { WsClient, openAndAuth, assertDropped } from './lib/ws.mjs';
import { RawWs, rawAuth, frame, OP, upgradeRequest } from './lib/rawws.mjs';
import {
  newCreds, startBody, pairStart, pairedFixture, command, threadSelect, snapshotRequest, assertForwarded,
  connectDesktop, b64url, isoIn, PWA_ORIGIN, EVIL_ORIGIN,
} from './lib/fixture.mjs';
import { MSG, raw } from './lib/http.mjs';

const T = { timeout: 20000 };
/** RSS after a class may exceed the warm baseline by at most this much (generous: allocator
 * arenas and socket buffers settle at slightly different sizes; a class that buffered what it
 * should have refused, e.g. 64 bodies of 1 MiB, shows up as +64 MiB). */
const RSS_SLACK_KIB = 20 * 1024;


/** Writes `bytes` on a new connection; resolves with the first response's head (then hangs up). */
function responseHead(port, bytes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no response head within ${timeoutMs} ms: ${out}`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(out); };
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { out += d.toString('latin1'); if (out.includes('\r\n\r\n')) done(); });
    sock.on('error', () => {});
    sock.on('close', done);
  });
}

const statusOf = (text) => text.split('\r\n', 1)[0];
const statusLines = (text) => [...text.matchAll(/HTTP\/1\.[01] \d{3}[^\r]*/g)].map((m) => m[0]);
const rssKiB = (pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const nested = (depth, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('bad input, one class per test; the node pairs, forwards and returns to its RSS baseline after each', () => {
  let relay; let root; let baseline;
  const notes = [];

  /** The node still pairs and forwards, and its RSS comes back within RSS_SLACK_KIB of the baseline. */
  async function assertServes(label) {
    assert.equal(relay.exitState.exited, false, `${label}: the relay died: ${JSON.stringify(relay.exitState)}`);
    const h = await relay.get('/healthz');
    assert.equal(h.status, 200, `${label}: /healthz ${h.status}`);
    const fx = await pairedFixture(relay);
    const cmd = command(fx.creds.sessionID, 1, threadSelect());
    fx.phone.send(cmd);
    assertForwarded(await fx.desktop.nextSkipping(['relay.device_count']), cmd, fx.deviceID);
    const out = JSON.stringify({ type: 'thread.update', sessionID: fx.creds.sessionID, label });
    fx.desktop.send(out);
    assert.equal(await fx.phone.nextRaw(), out, `${label}: desktop frame not forwarded`);
    fx.phone.terminate();
    fx.desktop.terminate();
    let last = 0;
    await waitFor(() => (last = rssKiB(relay.pid)) <= baseline + RSS_SLACK_KIB,
      { timeoutMs: 10000, intervalMs: 200, what: `${label}: RSS back within ${RSS_SLACK_KIB} KiB of the baseline ${baseline} KiB` });
    notes.push(`${label}: RSS ${last} KiB (baseline ${baseline} KiB, +${last - baseline})`);
  }

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-hard-'));
    fs.mkdirSync(path.join(root, 'dist', 'assets'), { recursive: true });
    fs.mkdirSync(path.join(root, 'dist-private'));
    fs.writeFileSync(path.join(root, 'dist', 'index.html'), '<title>pwa</title>');
    fs.writeFileSync(path.join(root, 'dist', 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(root, 'dist-private', 'secret.txt'), 'secret');
    fs.writeFileSync(path.join(root, 'dist.env'), 'secret=1');
    fs.writeFileSync(path.join(root, 'secret-outside.txt'), 'secret');
    fs.symlinkSync(path.join(root, 'dist-private'), path.join(root, 'dist', 'link'));
    relay = await startRelay({
      STATIC_DIR: path.join(root, 'dist'),
      MAX_PAIR_REQUESTS_PER_MINUTE: '100000',
      MAX_WS_MESSAGES_PER_MINUTE: '100', // floods: text budget 100, binary/ping budget max(4 × 100, 600)
      TOKEN_ROTATION_GRACE_MS: '0', // tokens: a rotated-out device token is stale at once
    });
    await assertServesWarmup();
  });
  async function assertServesWarmup() {
    baseline = Number.MAX_SAFE_INTEGER;
    await assertServes('warm-up');
    baseline = rssKiB(relay.pid);
    notes.length = 0;
  }
  afterEach(() => { WsClient.terminateAll(); });
  after(async () => {
    WsClient.terminateAll();
    if (notes.length) console.log(`# RSS after each class (slack ${RSS_SLACK_KIB} KiB):\n#   ${notes.join('\n#   ')}`);
    await relay?.kill();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('HTTP framing: Transfer-Encoding not ending in chunked → 400 + close; HEAD carries no body', T, async () => {
    // RFC 9112 §6.3: a final coding other than chunked cannot be framed: 400 and close, and the
    // bytes after it must not be read as a second request.
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n';
    for (const te of ['identity', 'chunked, identity', 'gzip', 'chunked, chunked']) {
      const r = await raw(relay.port, 'POST /pair/stop HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n' +
        `Transfer-Encoding: ${te}\r\n\r\n${smuggled}`);
      assert.equal(statusOf(r), 'HTTP/1.1 400 Bad Request', te);
      assert.deepEqual(statusLines(r), ['HTTP/1.1 400 Bad Request'], `${te}: a second response was smuggled`);
    }
    // §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
    const r10 = await raw(relay.port, 'POST /pair/stop HTTP/1.0\r\nHost: relay\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.equal(statusOf(r10), 'HTTP/1.0 400 Bad Request', 'Transfer-Encoding in an HTTP/1.0 request');
    // HEAD: the GET headers (Content-Length included) and no body, so keep-alive stays in sync.
    for (const target of ['/healthz', '/index.html', '/nope-at-all', '/pair/start']) {
      const r = await raw(relay.port, `HEAD ${target} HTTP/1.1\r\nHost: relay\r\n\r\nGET /assets/app.js HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n`);
      const cut = r.indexOf('\r\n\r\n') + 4;
      const [first, rest] = [r.slice(0, cut), r.slice(cut)];
      assert.match(first, /Content-Length: \d+\r\n/, target);
      assert.equal(statusOf(rest), 'HTTP/1.1 200 OK', `${target}: the next response starts right after the HEAD headers`);
      assert.ok(rest.endsWith('console.log(1)'), target);
    }
    const head = await raw(relay.port, 'HEAD /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n');
    assert.match(head, /Content-Length: [1-9]\d*\r\n/);
    assert.ok(head.endsWith('\r\n\r\n'), 'HEAD /healthz has no body');
    // A header block over 16 KiB: the connection closes without an answer (RFC 9110 would
    // suggest 431; the relay just closes).
    const big = await raw(relay.port, `GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Pad: ${'a'.repeat(20000)}\r\n\r\n`);
    assert.equal(big, '', 'a header over 16 KiB is not answered');
    await assertServes('HTTP framing');
  });

  test('smuggling: CL+TE, duplicate or list Content-Length, bad header syntax → closed, the second request never answered', T, async () => {
    // RFC 9112 §6.1/§6.3: such a request "ought to be handled as an error" and invalid
    // Content-Length gets 400 then close. The relay closes without a response (Beast refuses the
    // header) — stricter on the smuggling side, but no 400 (noted in the issue-10 notes).
    const ct = 'Host: relay\r\nContent-Type: application/json\r\n';
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n';
    const cases = {
      'CL + TE chunked': `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      'TE + CL (order swapped)': `POST /pair/stop HTTP/1.1\r\n${ct}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${smuggled}`,
      'two Transfer-Encoding lines': `POST /pair/stop HTTP/1.1\r\n${ct}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${smuggled}`,
      'space before the colon': `POST /pair/stop HTTP/1.1\r\n${ct}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      'two different Content-Length': `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}${smuggled}`,
      'Content-Length list': `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: 2, 40\r\n\r\n{}${smuggled}`,
      'negative Content-Length': `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: -1\r\n\r\n{}${smuggled}`,
      'signed Content-Length': `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: +2\r\n\r\n{}${smuggled}`,
      'bare LF line ends': `POST /pair/stop HTTP/1.1\n${ct.replaceAll('\r\n', '\n')}Content-Length: 2\n\n{}${smuggled}`,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const r = await raw(relay.port, bytes);
      assert.ok(r === '' || statusOf(r) === 'HTTP/1.1 400 Bad Request', `${name}: ${JSON.stringify(statusLines(r))}`);
      assert.ok(statusLines(r).length <= 1 && !r.includes('"ok"'), `${name}: the smuggled /healthz was answered`);
    }
    // Identical duplicates are one Content-Length (RFC 9112 §6.3 allows it): two requests, two answers.
    const same = await raw(relay.port, `POST /pair/stop HTTP/1.1\r\n${ct}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}` +
      'GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statusLines(same), ['HTTP/1.1 422 Unprocessable Entity', 'HTTP/1.1 200 OK']);
    await assertServes('smuggling');
  });

  test('bodies on paths that take none: 413 at header time, body never read; wrong method with a body: 405 + close', T, async () => {
    const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const heads = [
      'GET /healthz HTTP/1.1\r\nHost: r\r\n', 'GET /metricsz HTTP/1.1\r\nHost: r\r\n', 'GET /metrics HTTP/1.1\r\nHost: r\r\n',
      `GET /ws HTTP/1.1\r\nHost: r\r\n${ws}`, 'GET /index.html HTTP/1.1\r\nHost: r\r\n', 'GET / HTTP/1.1\r\nHost: r\r\n',
      'HEAD /healthz HTTP/1.1\r\nHost: r\r\n', `OPTIONS /pair/join HTTP/1.1\r\nHost: r\r\nOrigin: ${PWA_ORIGIN}\r\n`,
    ];
    // The body is never sent: an answer at all proves the relay did not wait for (read) it.
    for (const head of heads) {
      for (const framing of ['Content-Length: 1048576\r\n', 'Transfer-Encoding: chunked\r\n']) {
        const r = await raw(relay.port, `${head}${framing}\r\n`);
        assert.equal(statusOf(r), 'HTTP/1.1 413 Payload Too Large', `${head.split('\r\n', 1)[0]} ${framing.trim()}`);
        assert.equal(statusLines(r).length, 1);
      }
    }
    for (const head of ['GET /pair/start HTTP/1.1\r\n', 'PUT /pair/join HTTP/1.1\r\n']) {
      const r = await raw(relay.port, `${head}Host: r\r\nContent-Length: 1048576\r\n\r\n`);
      assert.equal(statusOf(r), 'HTTP/1.1 405 Method Not Allowed', head);
      assert.match(r, /Connection: close\r\n/i, `${head}: the unread body ends the connection`);
    }
    // Volume: 64 clients that do send 1 MiB each after the header. Refused, not buffered: the RSS
    // check below would see +64 MiB otherwise.
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => new Promise((resolve) => {
      const sock = net.connect(relay.port, '127.0.0.1');
      let out = '';
      const timer = setTimeout(() => { sock.destroy(); resolve(`no close: ${out}`); }, 10000);
      sock.on('connect', () => { sock.write(`${heads[i % 4]}Content-Length: ${chunk.length}\r\n\r\n`); sock.write(chunk); });
      sock.on('data', (d) => { out += d.toString('latin1'); });
      sock.on('error', () => {});
      sock.on('close', () => { clearTimeout(timer); resolve(out); });
    })));
    for (const a of answers) assert.ok(a === '' || statusOf(a) === 'HTTP/1.1 413 Payload Too Large', statusOf(a));
    assert.ok(answers.filter((a) => statusOf(a) === 'HTTP/1.1 413 Payload Too Large').length >= 1, 'no 413 at all');
    await assertServes('bodies');
  });

  test('slowloris: a header trickle, a body trickle and an idle connection are closed by the 30 s request deadline', { timeout: 70000 }, async () => {
    // README "Bounds on hostile input": 30 s for header and body together. Each trickle sends one
    // byte a second for at most 55 s and never completes its request; the relay must end all three
    // (without answering them) and keep serving meanwhile.
    const trickle = (prefix, step) => new Promise((resolve) => {
      const sock = net.connect(relay.port, '127.0.0.1');
      let out = ''; let sent = 0; let closed = false;
      const timer = setInterval(() => {
        if (closed) return;
        if (++sent > 55) { clearInterval(timer); sock.destroy(); resolve({ closedByRelay: false, out, sent }); return; }
        if (step) sock.write(step);
      }, 1000);
      sock.on('connect', () => { if (prefix) sock.write(prefix); });
      sock.on('data', (d) => { out += d.toString('latin1'); });
      sock.on('error', () => {});
      sock.on('close', () => { closed = true; clearInterval(timer); resolve({ closedByRelay: true, out, sent }); });
    });
    const runs = Promise.all([
      trickle('GET /healthz HTTP/1.1\r\nHost: r\r\nX-A: ', 'a'),
      trickle('POST /pair/start HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{', ' '),
      trickle('', ''),
    ]);
    const h = await relay.get('/healthz');
    assert.equal(h.status, 200, 'served while the trickles run');
    const results = await runs;
    for (const [i, r] of results.entries()) {
      assert.ok(r.closedByRelay, `trickle ${i} still open after ${r.sent} s`);
      assert.ok(!/HTTP\/1\.1 (200|2\d\d)/.test(r.out), `trickle ${i} got an answer: ${statusOf(r.out)}`);
    }
    await assertServes('slowloris');
  });

  test('static paths: no escape from STATIC_DIR by prefix, .., encodings, symlinks or NUL', T, async () => {
    // Request targets that are not origin-form never reach path handling (400).
    for (const target of ['-private/secret.txt', '.env', 'http://relay/../dist.env', '..%2fdist.env']) {
      const r = await raw(relay.port, `GET ${target} HTTP/1.1\r\nHost: relay\r\n\r\n`);
      assert.equal(statusOf(r), 'HTTP/1.1 400 Bad Request', target);
      assert.ok(!r.includes('secret'), `${target} leaked a sibling of STATIC_DIR`);
    }
    const escapes = [
      '/../dist-private/secret.txt', '/../dist.env', '/assets/../../dist.env', '/%2e%2e/dist.env', '/%2E%2E%2Fdist.env',
      '/.%2e/dist.env', '/assets/%2e%2e/%2e%2e/secret-outside.txt', '/..%5cdist.env', '/assets\\..\\..\\dist.env',
      '/%252e%252e/dist.env', '/link/secret.txt', '/index.html%00.env', '/%00', '//../dist.env', '/assets/..%2f..%2fdist.env',
    ];
    for (const target of escapes) {
      const r = await raw(relay.port, `GET ${target} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n`);
      assert.ok(!r.includes('secret'), `${target} leaked a file outside STATIC_DIR`);
      const st = statusOf(r);
      assert.ok(['HTTP/1.1 400 Bad Request', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200 OK'].includes(st), `${target}: ${st}`);
      if (st === 'HTTP/1.1 200 OK') assert.ok(r.endsWith('<title>pwa</title>'), `${target}: 200 but not the SPA fallback`);
    }
    assert.equal((await relay.get('/assets/app.js')).text, 'console.log(1)', 'real assets are still served');
    await assertServes('static paths');
  });

  test('websocket upgrade: bad Sec-WebSocket-Key → 400, missing version → 400, other version → 426; Origin is checked at auth, not at upgrade', T, async () => {
    // RFC 6455 §4.1/§4.2.1: the key is base64 of 16 bytes; §4.4: an unsupported version gets
    // 426 with the supported Sec-WebSocket-Version.
    const keys = ['abc', 'AAAAAAAAAAAAAAAAAAAAAA=', 'AAAAAAAAAAAAAAAAAAAAAAA==', '!!!!!!!!!!!!!!!!!!!!!!==',
      Buffer.alloc(15).toString('base64'), Buffer.alloc(17).toString('base64'), 'AAAAAAAAAAAAAAAAAAAAAA=A', ''];
    for (const key of keys) {
      const r = await raw(relay.port, upgradeRequest({ key }));
      assert.equal(statusOf(r), 'HTTP/1.1 400 Bad Request', `key ${JSON.stringify(key)}`);
    }
    const cases = [
      [upgradeRequest({ key: null }), 'HTTP/1.1 400 Bad Request', 'no key'],
      // RFC 6455 §11.3.1: the key "MUST NOT appear more than once". A bad first copy is refused;
      // (a valid first copy followed by a bad one is accepted today: see the issue-10 notes).
      [upgradeRequest({ key: 'abc', extra: 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' }), 'HTTP/1.1 400 Bad Request', 'two keys, a bad one first'],
      [upgradeRequest({ version: null }), 'HTTP/1.1 400 Bad Request', 'no version'],
      [upgradeRequest({ version: '8' }), 'HTTP/1.1 426 Upgrade Required', 'version 8'],
      [upgradeRequest().replace('GET', 'POST'), 'HTTP/1.1 405 Method Not Allowed', 'POST upgrade'],
    ];
    for (const [req, status, name] of cases) {
      const r = await responseHead(relay.port, req);
      assert.equal(statusOf(r), status, name);
      if (status.includes('426')) assert.match(r, /Sec-WebSocket-Version: 13\r\n/i);
    }
    // §5: no origin check at upgrade time; §6.4: a phone with a disallowed Origin is dropped
    // with nothing sent, before rotation (its token still works from the allowed origin).
    const fx = await pairedFixture(relay);
    const token = fx.rotatedToken;
    fx.phone.terminate();
    await fx.desktop.nextOfType('relay.device_count');
    const evil = await RawWs.open(relay.port, { origin: EVIL_ORIGIN });
    evil.text(JSON.stringify({ type: 'relay.auth', token }));
    assert.equal(await evil.waitEnd(), null, 'dropped without a close frame');
    assert.deepEqual(evil.frames, [], 'nothing sent to a phone with a disallowed Origin');
    const ok = await rawAuth(relay.port, token, { origin: PWA_ORIGIN });
    assert.equal(ok.authOk.role, 'mobile');
    ok.ws.destroy();
    // The desktop is never origin-checked.
    const d = await connectDesktop(relay, fx.creds.desktopSessionToken, { origin: EVIL_ORIGIN });
    assert.equal(d.authOk.role, 'desktop');
    await assertServes('websocket upgrade');
  });

  test('frames: reserved opcodes, unmasked, RSV bits, fragmented or long control, bad UTF-8, oversize → RFC 6455 close codes, nothing forwarded', T, async () => {
    // RFC 6455 §7.4.1: 1002 protocol error, 1007 data inconsistent with the type (UTF-8), 1009
    // too big. RELAY_PROTOCOL §9.1 ("read error → end socket"); §5 / README: frames up to
    // 2 × MAX_WS_MESSAGE_BYTES get `disconnect message_too_large` (forwarding_presence tests),
    // beyond that the transport fails (1009).
    const cases = [
      ['reserved data opcode 3', frame(0x3, 'x'), 1002],
      ['reserved control opcode 0xB', frame(0xb, 'x'), 1002],
      ['unmasked client text frame', frame(OP.text, '{}', { mask: false }), 1002],
      ['RSV1 without an extension', frame(OP.text, '{}', { rsv: 4 }), 1002],
      ['fragmented ping', frame(OP.ping, 'x', { fin: false }), 1002],
      ['ping payload over 125 bytes', frame(OP.ping, Buffer.alloc(126)), 1002],
      ['continuation without a start', frame(OP.cont, 'x'), 1002],
      ['new text frame inside a fragmented message', Buffer.concat([frame(OP.text, 'a', { fin: false }), frame(OP.text, 'b')]), 1002],
      ['invalid UTF-8 in a text frame', frame(OP.text, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007],
      ['frame over 2 × MAX_WS_MESSAGE_BYTES', frame(OP.text, Buffer.alloc(2 * 65536 + 8192, 0x61)), 1009],
      ['length header of 2^40 bytes', frame(OP.text, Buffer.alloc(8), { lengthOverride: 2 ** 40 }), 1009],
    ];
    const fx = await pairedFixture(relay);
    let token = fx.rotatedToken;
    fx.phone.terminate();
    for (const [name, bytes, code] of cases) {
      const { ws, authOk } = await rawAuth(relay.port, token, { origin: PWA_ORIGIN });
      token = authOk.nextDeviceSessionToken;
      ws.write(bytes);
      const close = await ws.waitEnd();
      assert.equal(close?.closeCode, code, `${name}: ${JSON.stringify(close)}`);
      assert.deepEqual(ws.frames.filter((f) => f.opcode === OP.text), [], `${name}: a text frame was sent`);
    }
    // Before authentication too.
    const pre = await RawWs.open(relay.port);
    pre.write(frame(OP.text, '{}', { mask: false }));
    assert.equal((await pre.waitEnd())?.closeCode, 1002, 'unmasked frame before auth');
    const seen = (await fx.desktop.drain(100)).map((t) => JSON.parse(t)).filter((m) => m.type !== 'relay.device_count');
    assert.deepEqual(seen, [], 'nothing of the bad frames reached the desktop');
    await assertServes('frames');
  });

  test('floods: text over MAX_WS_MESSAGES_PER_MINUTE, binary, ping or (empty) continuation frames over max(4 × it, 600) → disconnect socket_rate_limited', T, async () => {
    // RELAY_PROTOCOL §9.1 step 3 / §10 (text), README bounds table (binary, ping): the text
    // `disconnect socket_rate_limited`, then the socket ends without a close frame (§7.4).
    const before = (await relay.metrics()).disconnectReasons.socket_rate_limited;
    const fx = await pairedFixture(relay);
    let token = fx.rotatedToken;
    fx.phone.terminate();
    const other = JSON.stringify({ sessionID: 'another-session', n: 1 }); // dropped silently, charged
    const floods = {
      text: Buffer.concat(Array.from({ length: 150 }, () => frame(OP.text, other))),
      binary: Buffer.concat(Array.from({ length: 700 }, () => frame(OP.binary, Buffer.from([1, 2, 3])))),
      ping: Buffer.concat(Array.from({ length: 700 }, () => frame(OP.ping, 'p'))),
      // A text message begun and then 20 000 zero-length continuation frames: Beast reports them
      // to no callback, the frame meter under it charges each (they kept the socket open before).
      continuation: Buffer.concat([frame(OP.text, '{', { fin: false }),
        ...Array.from({ length: 20000 }, () => frame(OP.cont, Buffer.alloc(0), { fin: false }))]),
    };
    for (const [name, bytes] of Object.entries(floods)) {
      const { ws, authOk } = await rawAuth(relay.port, token, { origin: PWA_ORIGIN });
      token = authOk.nextDeviceSessionToken;
      ws.write(bytes);
      assert.equal(await ws.waitEnd(), null, `${name}: ended without a close frame`);
      const texts = ws.frames.filter((f) => f.opcode === OP.text).map((f) => f.text);
      if (name === 'ping') {
        // The disconnect frame is best effort here: the pongs of the still-arriving pings hold
        // the write side until the 100 ms flush bound ends the socket (§7.4 "up to ~100 ms").
        assert.ok(texts.length === 0 || (texts.length === 1 && texts[0] === '{"type":"disconnect","reason":"socket_rate_limited"}'), JSON.stringify(texts));
        const pongs = ws.frames.filter((f) => f.opcode === OP.pong).length;
        assert.ok(pongs <= 601, `ping flood: ${pongs} pongs, not more than the budget`);
      } else assert.deepEqual(texts, ['{"type":"disconnect","reason":"socket_rate_limited"}'], name);
    }
    await waitFor(async () => (await relay.metrics()).disconnectReasons.socket_rate_limited >= before + 4,
      { timeoutMs: 3000, what: 'four socket_rate_limited disconnects counted' });
    const seen = (await fx.desktop.drain(100)).map((t) => JSON.parse(t)).filter((m) => m.type !== 'relay.device_count');
    assert.deepEqual(seen, [], 'nothing of the floods reached the desktop');
    await assertServes('floods');
  });

  test('nesting: a command nested 32 000 deep (issue 10 item 1) → invalid_payload, not forwarded; auth, snapshot, desktop and HTTP bodies too', T, async () => {
    // protocol/untrusted_json: every parse of untrusted text is refused beyond depth 64 before
    // it is parsed (no recursion per level). The mobile answer is the "not JSON" error of §9.3.
    const fx = await pairedFixture(relay);
    const sid = fx.creds.sessionID;
    const deep = JSON.stringify(command(sid, 1, threadSelect())).replace(/"timestamp":"[^"]*"/, `"timestamp":${nested(32000)}`);
    assert.ok(deep.length < 65536, 'fits in MAX_WS_MESSAGE_BYTES');
    const deepObj = JSON.stringify(command(sid, 2, threadSelect())).replace(/"timestamp":"[^"]*"/, `"timestamp":${'{"a":'.repeat(9000)}0${'}'.repeat(9000)}`);
    assert.ok(deepObj.length < 65536);
    const deepSnap = JSON.stringify(snapshotRequest(sid)).replace(/"reason":"[^"]*"/, `"reason":${nested(30000)}`);
    for (const [name, text] of [['array', deep], ['object', deepObj], ['snapshot', deepSnap], ['depth 65', nested(65)]]) {
      fx.phone.send(text);
      assert.deepEqual(await fx.phone.next(), { type: 'relay.error', error: 'invalid_payload', message: 'Payload must be valid JSON.' }, name);
    }
    // Shallow enough is still fine (depth 60 in an unvalidated field is a valid command).
    const ok = command(sid, 3, threadSelect(), { timestamp: JSON.parse(nested(60)) });
    fx.phone.send(ok);
    assertForwarded(await fx.desktop.nextSkipping(['relay.device_count']), ok, fx.deviceID);
    // Desktop → phone is forwarded byte-for-byte whatever it is (§9.2); the relay's own look at
    // it (sessionID, pair_decision) must survive the depth.
    const deepDesktop = `{"type":"x","sessionID":"${sid}","v":${nested(32000)}}`;
    fx.desktop.send(deepDesktop);
    assert.equal(await fx.phone.nextRaw(), deepDesktop);
    // A nested relay.auth first frame is "not parseable": `{}` then dropped (§6.4).
    const a = await WsClient.connect(relay.wsURL, { origin: PWA_ORIGIN, label: 'nested-auth' });
    a.send(`{"type":"relay.auth","token":"${b64url(32)}","x":${nested(32000)}}`);
    assert.deepEqual(await a.next(), {});
    assertDropped(await a.waitClose());
    // HTTP bodies: malformed JSON → 400 plain text (§3.2).
    const creds = newCreds();
    const body = JSON.stringify(startBody(creds)).replace(/"idleTimeoutSeconds":1800/, `"idleTimeoutSeconds":${nested(30000)}`);
    const r = await relay.post('/pair/start', body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body, undefined, 'plain text, not the JSON error shape');
    await assertServes('nesting');
  });

  test('tokens: wrong / expired / reused join tokens and stale websocket tokens get one constant answer each', T, async () => {
    // §4.2 rows 6-8: expired 410 before used 409 before mismatch 403; the body never depends on
    // (or echoes) the presented token. §6.4: a stale token → session_expired + Close 1008.
    const join = (creds, joinToken) => relay.post('/pair/join', { sessionID: creds.sessionID, joinToken }, { origin: PWA_ORIGIN });
    const variants = (t) => [b64url(32), `${t.slice(0, -1)}${t.at(-1) === 'A' ? 'B' : 'A'}`, `${t[0] === 'A' ? 'B' : 'A'}${t.slice(1)}`, b64url(24)];
    const sameAnswer = async (creds, tokens, status, error, message) => {
      const bodies = new Set();
      for (const t of tokens) {
        const r = await join(creds, t);
        assert.equal(r.status, status, `${r.status} ${r.text}`);
        assert.deepEqual(r.body, { error, message });
        assert.ok(!r.text.includes(t), 'the token is echoed');
        bodies.add(r.text);
      }
      assert.equal(bodies.size, 1, `one constant body: ${[...bodies].join(' | ')}`);
    };
    // Wrong.
    const fx = await pairedFixture(relay);
    const c2 = newCreds();
    await pairStart(relay, c2);
    const d2 = await connectDesktop(relay, c2.desktopSessionToken, { label: 'desktop-2' });
    await sameAnswer(c2, variants(c2.joinToken), 403, 'invalid_join_token', MSG.joinInvalid);
    // Reused: the fixture's join token is spent; right and wrong tokens get the same 409.
    await sameAnswer(fx.creds, [fx.creds.joinToken, ...variants(fx.creds.joinToken)], 409, 'join_token_already_used', MSG.joinUsed);
    // Expired: right and wrong tokens get the same 410 once the expiry has passed.
    const c3 = newCreds();
    await pairStart(relay, c3, { joinTokenExpiresAt: isoIn(1500) });
    await waitFor(async () => (await join(c3, c3.joinToken)).status === 410, { timeoutMs: 10000, intervalMs: 200, what: 'the join token expires' });
    await sameAnswer(c3, [c3.joinToken, ...variants(c3.joinToken)], 410, 'join_token_expired', MSG.joinExpired);
    d2.ws.terminate();
    // Websocket auth: unknown, one character off, rotated out (grace 0 here), a stopped session's
    // desktop token: the same frame and the same close for each.
    const rotatedOut = fx.joinToken; // the join-issued device token, rotated at the phone's auth
    const c4 = newCreds();
    await pairStart(relay, c4);
    assert.equal((await relay.post('/pair/stop', { sessionID: c4.sessionID, desktopSessionToken: c4.desktopSessionToken })).status, 200);
    const stale = [b64url(32), ...variants(fx.rotatedToken).slice(1, 3), rotatedOut, c4.desktopSessionToken];
    const outcomes = new Set();
    for (const token of stale) {
      const { ws, first } = await openAndAuth(relay.wsURL, token, { origin: PWA_ORIGIN });
      assert.deepEqual(first, { type: 'disconnect', reason: 'session_expired' });
      const ci = await ws.waitClose();
      assert.equal(ci.code, 1008);
      outcomes.add(`${JSON.stringify(first)} ${ci.code} ${ci.reason}`);
    }
    assert.equal(outcomes.size, 1, [...outcomes].join(' | '));
    await assertServes('tokens');
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

describe('websocket auth failures are limited per address (WS_AUTH_FAILURES_PER_IP=3)', () => {
  const LIMITS = { WS_AUTH_FAILURES_PER_IP: '3', WS_AUTH_FAILURE_WINDOW_MS: '2000' };
  /** One raw websocket that sends relay.auth with a well-formed but unknown token; resolves
   * with its close frame once the relay ended it. */
  async function failAuth(port, extra = '') {
    const ws = await RawWs.open(port, { origin: PWA_ORIGIN, extra });
    ws.text(JSON.stringify({ type: 'relay.auth', token: b64url(32) }));
    return ws.waitEnd();
  }
  const upgradeHead = (port, extra = '') => responseHead(port, upgradeRequest({ origin: PWA_ORIGIN, extra }));

  test('after 3 failed auths the address gets 429 at upgrade (HTTP still served) until its window ends', T, async () => {
    const relay = await startRelay(LIMITS);
    try {
      const fx = await pairedFixture(relay);
      const token = fx.rotatedToken;
      fx.phone.terminate();
      for (let i = 0; i < 3; ++i) assert.equal((await failAuth(relay.port))?.closeCode, 1008, `failure ${i + 1}: policy close`);
      const head = await upgradeHead(relay.port);
      assert.equal(statusOf(head), 'HTTP/1.1 429 Too Many Requests', head);
      assert.equal((await relay.get('/healthz')).status, 200);
      const prom = await relay.get('/metrics');
      assert.match(prom.text, /^relay_ws_auth_failure_refused_total [1-9]\d*$/m);
      assert.match(prom.text, /^relay_ws_auth_failure_addresses 1$/m);
      // Even a valid token waits for the window (2 s from the first failure) to pass.
      const { authOk } = await waitFor(async () => {
        try { return await rawAuth(relay.port, token, { origin: PWA_ORIGIN }); } catch { return null; }
      }, { timeoutMs: 10000, intervalMs: 200, what: 'the upgrade accepted again once the window passed' });
      assert.equal(authOk.type, 'auth_ok');
    } finally {
      WsClient.terminateAll();
      await relay.kill();
    }
  });

  test('with TRUST_PROXY the forwarded address is what is limited', T, async () => {
    const relay = await startRelay({ ...LIMITS, TRUST_PROXY: 'true' });
    try {
      const guesser = 'X-Forwarded-For: 198.51.100.1\r\n';
      for (let i = 0; i < 3; ++i) await failAuth(relay.port, guesser);
      assert.equal(statusOf(await upgradeHead(relay.port, guesser)), 'HTTP/1.1 429 Too Many Requests');
      // Another client behind the same proxy still upgrades.
      assert.equal(statusOf(await upgradeHead(relay.port, 'X-Forwarded-For: 198.51.100.2\r\n')), 'HTTP/1.1 101 Switching Protocols');
    } finally {
      await relay.kill();
    }
  });
});
