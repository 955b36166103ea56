// STATE_PATH (embedded SQLite store, issue 12 item 3): a paired phone survives kill -9 of the node;
// a corrupt file refuses start-up naming the path (or is moved aside with STATE_QUARANTINE=1);
// STATE_PATH and REDIS_URL together are refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRelay, runRelayToExit } from './lib/relay.mjs';
import { ROOMY } from './lib/setup.mjs';
import { WsClient } from './lib/ws.mjs';
import { pairedFixture, connectDesktop, connectPhone } from './lib/fixture.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-state-'));
const cleanup = [];
after(async () => {
  WsClient.terminateAll();
  for (const f of cleanup.reverse()) await f();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a paired phone still authenticates after kill -9 and a restart on the same STATE_PATH',
  { timeout: 30000 }, async () => {
    const STATE_PATH = path.join(dir, 'relay.db');
    const a = await startRelay({ ...ROOMY, STATE_PATH });
    cleanup.push(() => a.kill());
    assert.match(a.logs(), /"persistence":"sqlite"/);
    assert.equal(fs.statSync(STATE_PATH).mode & 0o777, 0o600, 'the state file holds tokens: 0600');
    const f = await pairedFixture(a);
    f.phone.terminate();
    f.desktop.terminate();
    await a.kill(); // SIGKILL: no drain, no flush beyond what each write already fsynced

    const b = await startRelay({ ...ROOMY, STATE_PATH });
    cleanup.push(() => b.kill());
    assert.match(b.logs(), /"restoredSessions":1/);
    const desk = await connectDesktop(b, f.creds.desktopSessionToken);
    assert.equal(desk.authOk.sessionID, f.desktopAuthOk.sessionID);
    const phone = await connectPhone(b, f.rotatedToken, { label: 'phone-after-restart' });
    assert.equal(phone.authOk.deviceID, f.deviceID);
    const next = phone.authOk.nextDeviceSessionToken;
    assert.ok(next && next !== f.rotatedToken, 'the token rotates again');
    phone.ws.terminate();
    desk.ws.terminate();
    await b.kill();

    // The rotation issued by B is durable too.
    const c = await startRelay({ ...ROOMY, STATE_PATH });
    cleanup.push(() => c.kill());
    const again = await connectPhone(c, next, { label: 'phone-second-restart' });
    assert.equal(again.authOk.deviceID, f.deviceID);
    again.ws.terminate();
    await c.stop();
  });

test('a corrupt STATE_PATH refuses start-up, naming the path, and is left untouched', { timeout: 20000 }, async () => {
  const STATE_PATH = path.join(dir, 'corrupt.db');
  const junk = Buffer.alloc(8192, 0x78);
  fs.writeFileSync(STATE_PATH, junk);
  const r = await runRelayToExit({ STATE_PATH });
  assert.equal(r.listened, false, r.output);
  assert.equal(r.code, 1, r.output);
  assert.ok(r.output.includes(STATE_PATH), r.output);
  assert.match(r.output, /corrupt/);
  assert.match(r.output, /STATE_QUARANTINE=1/);
  assert.ok(fs.readFileSync(STATE_PATH).equals(junk), 'never silently reset');
});

test('STATE_QUARANTINE=1 moves a corrupt file aside and starts empty', { timeout: 20000 }, async () => {
  const STATE_PATH = path.join(dir, 'quarantine.db');
  const junk = Buffer.alloc(4096, 0x71);
  fs.writeFileSync(STATE_PATH, junk);
  const relay = await startRelay({ ...ROOMY, STATE_PATH, STATE_QUARANTINE: '1' });
  cleanup.push(() => relay.kill());
  assert.match(relay.logs(), /corrupt state file moved aside/);
  const moved = fs.readdirSync(dir).filter((n) => n.startsWith('quarantine.db.corrupt-'));
  assert.equal(moved.length, 1, JSON.stringify(fs.readdirSync(dir)));
  assert.ok(fs.readFileSync(path.join(dir, moved[0])).equals(junk));
  assert.match(relay.logs(), /"restoredSessions":0/);
  await relay.stop();
});

test('STATE_PATH with REDIS_URL is a configuration error', { timeout: 20000 }, async () => {
  const r = await runRelayToExit({ STATE_PATH: path.join(dir, 'x.db'), REDIS_URL: 'redis://127.0.0.1:6379' });
  assert.equal(r.listened, false);
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /STATE_PATH and REDIS_URL are mutually exclusive/);
  assert.equal(fs.existsSync(path.join(dir, 'x.db')), false);
});
