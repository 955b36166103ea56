#!/usr/bin/env node
// Browser end-to-end test: the built PWA in Debian Chromium (phone viewport) against a REAL relay
// (relay-node) and a REAL desktop bridge (desktop-bridge --json --runtime demo).
//
// Skips (exit 0) only when the relay or bridge binary is missing. Every process started here is
// killed by PID on exit, also on failure; every wait is bounded. Screenshots and logs go to
// pwa/test-artifacts/.
//
// Environment (all optional):
//   RELAY_BIN            default ../build/bin/relay-node
//   BRIDGE_BIN           default ../build/bin/desktop-bridge
//   E2E_BRIDGE_ARGS      bridge arguments; placeholders {relayWs} {relayHttp} {pwaBase} {stateDir}
//                        default: --json --runtime demo --relay {relayWs} --join-url {pwaBase}
//                                 --state-file {stateDir}/bridge-session.json --approvals --demo-delay-ms 80
//   CHROMIUM_PATH        default /usr/bin/chromium
//   E2E_REDIS            "0" disables Redis persistence for the relay (restart step then expects re-pair)
//   E2E_KEEP_ARTIFACTS   keep old screenshots (default: wipe test-artifacts/ first)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PWA = resolve(HERE, '..');
const ROOT = resolve(PWA, '..');
const ART = join(PWA, 'test-artifacts');
const RELAY_BIN = process.env.RELAY_BIN || join(ROOT, 'build/bin/relay-node');
const BRIDGE_BIN = process.env.BRIDGE_BIN || join(ROOT, 'build/bin/desktop-bridge');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const missing = [RELAY_BIN, BRIDGE_BIN].filter((p) => !existsSync(p));
if (missing.length > 0) {
  console.log(`e2e SKIPPED: missing binaries: ${missing.join(', ')} (build the C++ targets first, e.g. cmake --build build).`);
  process.exit(0);
}
if (!existsSync(CHROMIUM)) {
  console.error(`e2e FAILED: Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  process.exit(1);
}

// ---------------------------------------------------------------- process bookkeeping
const procs = new Map(); // pid -> {name, child}
const tmpDirs = [];
let browserContext = null;

function start(name, cmd, args, opts = {}) {
  const log = createWriteStream(join(ART, `${name}.log`), { flags: 'a' });
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  procs.set(child.pid, { name, child });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.on('exit', (code, sig) => {
    procs.delete(child.pid);
    log.write(`\n[e2e] ${name} exited code=${code} signal=${sig}\n`);
  });
  console.log(`  started ${name} pid=${child.pid}`);
  return child;
}

async function stop(child, signal = 'SIGTERM', graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  const t = await Promise.race([exited.then(() => 'exited'), sleep(graceMs).then(() => 'timeout')]);
  if (t === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([exited, sleep(2000)]);
  }
}

async function cleanup() {
  if (browserContext) {
    await Promise.race([browserContext.close().catch(() => undefined), sleep(5000)]);
    browserContext = null;
  }
  for (const { child } of [...procs.values()]) await stop(child);
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a waitFor predicate to abort the wait at once. */
class Fatal extends Error {}

async function waitFor(what, fn, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Collects stdout lines of a child and parses JSON ones. */
function lineReader(child, stream = 'stdout') {
  const lines = [];
  let buf = '';
  child[stream].on('data', (d) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let json = null;
      try {
        json = JSON.parse(line);
      } catch {
        /* not JSON */
      }
      lines.push({ line, json, at: Date.now() });
    }
  });
  return lines;
}

function deepStrings(v, out = []) {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => deepStrings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => deepStrings(x, out));
  return out;
}
function deepFind(v, key) {
  if (!v || typeof v !== 'object') return undefined;
  if (!Array.isArray(v) && typeof v[key] === 'string') return v[key];
  for (const x of Object.values(v)) {
    const r = deepFind(x, key);
    if (r !== undefined) return r;
  }
  return undefined;
}

let shotN = 0;
async function shot(page, name) {
  const file = join(ART, `${String(++shotN).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false }).catch((e) => console.log(`  (screenshot failed: ${e.message})`));
  return file;
}

const results = [];
async function step(page, name, fn) {
  const t0 = Date.now();
  process.stdout.write(`• ${name} … `);
  try {
    const note = await fn();
    await shot(page, name);
    const ms = Date.now() - t0;
    results.push({ name, ok: true, ms, note });
    console.log(`ok (${ms} ms)${note ? ` — ${note}` : ''}`);
  } catch (e) {
    await shot(page, `FAILED-${name}`);
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(e?.message ?? e) });
    console.log(`FAILED\n    ${e?.stack ?? e}`);
    throw e;
  }
}

// ---------------------------------------------------------------- main
async function main() {
  if (!process.env.E2E_KEEP_ARTIFACTS) rmSync(ART, { recursive: true, force: true });
  mkdirSync(ART, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-e2e-'));
  tmpDirs.push(stateDir);

  // 1. build the PWA
  console.log('building PWA …');
  const b = spawnSync(process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: PWA, stdio: 'inherit', timeout: 120_000 });
  if (b.status !== 0) throw new Error('vite build failed');

  const [relayPort, pwaPort, redisPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const pwaBase = `http://127.0.0.1:${pwaPort}/`;
  const relayHttp = `http://127.0.0.1:${relayPort}`;
  const relayWs = `ws://127.0.0.1:${relayPort}/ws`;

  // 2. optional Redis so the relay restart keeps sessions (CONFIG_REFERENCE §4)
  let redisURL = '';
  if (process.env.E2E_REDIS !== '0' && existsSync('/usr/bin/redis-server')) {
    const redis = start('redis', '/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', stateDir]);
    const rl = lineReader(redis);
    await waitFor('redis ready', () => rl.some((l) => /Ready to accept connections/i.test(l.line)), 10_000);
    redisURL = `redis://127.0.0.1:${redisPort}`;
  }

  // 3. relay
  const relayEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(relayPort),
    PUBLIC_BASE_URL: relayHttp,
    ALLOWED_ORIGINS: `http://127.0.0.1:${pwaPort}`,
    PAIR_APPROVAL_TIMEOUT_MS: '30000',
    ...(redisURL ? { REDIS_URL: redisURL } : {}),
  };
  const startRelay = async (label) => {
    const relay = start(label, RELAY_BIN, [], { env: relayEnv });
    const errLines = lineReader(relay, 'stderr');
    const outLines = lineReader(relay, 'stdout');
    await waitFor(
      'relay "listening" log line',
      async () => {
        if (relay.exitCode !== null) throw new Fatal(`relay exited with ${relay.exitCode} (see test-artifacts/${label}.log)`);
        const l = [...errLines, ...outLines].find((x) => x.json && x.json.msg === 'listening');
        if (l) return true;
        const r = await fetch(`${relayHttp}/healthz`).catch(() => null);
        return r?.ok ?? false;
      },
      20_000,
      150,
    );
    return relay;
  };
  let relay = await startRelay('relay');

  // 4. PWA static server (vite preview on the built dist)
  const preview = start('pwa-preview', process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(pwaPort), '--strictPort', '--host', '127.0.0.1'], { cwd: PWA });
  await waitFor('vite preview', async () => (await fetch(pwaBase).catch(() => null))?.ok ?? false, 20_000, 150);
  void preview;

  // 5. desktop bridge
  const argTemplate =
    process.env.E2E_BRIDGE_ARGS || '--json --runtime demo --relay {relayWs} --join-url {pwaBase} --state-file {stateDir}/bridge-session.json --approvals --demo-delay-ms 80';
  const bridgeArgs = argTemplate
    .split(/\s+/)
    .filter(Boolean)
    .map((a) => a.replaceAll('{relayWs}', relayWs).replaceAll('{relayHttp}', relayHttp).replaceAll('{pwaBase}', pwaBase).replaceAll('{stateDir}', stateDir));
  const bridge = start('bridge', BRIDGE_BIN, bridgeArgs, {
    cwd: stateDir,
    env: {
      ...process.env,
      CODEXCHAT_REMOTE_CONTROL_JOIN_URL: pwaBase,
      CODEXCHAT_REMOTE_CONTROL_RELAY_WS_URL: relayWs,
      HOME: stateDir,
    },
  });
  const bridgeOut = lineReader(bridge);
  const bridgeCmd = (line) => {
    console.log(`    bridge <- ${line}`);
    bridge.stdin.write(`${line}\n`);
  };

  const joinLine = await waitFor(
    'join link from the bridge',
    () => {
      if (bridge.exitCode !== null) throw new Fatal(`bridge exited with ${bridge.exitCode} (see test-artifacts/bridge.log)`);
      for (const l of bridgeOut) {
        const s = deepStrings(l.json ?? l.line).find((x) => /#sid=[^&\s]+&jt=/.test(x));
        if (s) return s.match(/\S*#sid=[^\s"]+/)[0];
      }
      return null;
    },
    30_000,
  );
  // Point the link at this PWA regardless of the bridge's configured base.
  const fragment = joinLine.slice(joinLine.indexOf('#') + 1);
  const joinURL = `${pwaBase}#${fragment}`;
  console.log(`  join link fragment has relay=${/relay=/.test(fragment)}`);
  bridgeCmd('approvals on');

  // 6. browser
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'rc-e2e-chromium-'));
  tmpDirs.push(userDataDir);
  browserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
    colorScheme: 'dark',
  });
  browserContext.setDefaultTimeout(15_000);
  const page = browserContext.pages()[0] ?? (await browserContext.newPage());
  const consoleLog = createWriteStream(join(ART, 'browser-console.log'));
  page.on('console', (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
  // E2EE (docs/E2EE.md): every frame the phone exchanged with the relay, checked at the end.
  const wire = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => wire.push(String(f.payload)));
    ws.on('framereceived', (f) => wire.push(String(f.payload)));
  });

  const state = () => page.evaluate(() => {
    const s = window.__remote?.state;
    if (!s) return null;
    return {
      phase: s.phase,
      desktopConnected: s.desktopConnected,
      canRespond: s.canRespond,
      threads: s.data.threads.length,
      snapshots: s.data.snapshotCount,
      openThreadID: s.data.openThreadID,
      pending: s.data.pendingRuntimeRequests.length,
      deviceID: s.paired?.deviceID ?? null,
    };
  });
  const statusText = () => page.locator('[data-testid=status-text]').innerText().catch(() => '');
  const assistantTexts = () => page.locator('[data-testid=message][data-role=assistant] .bubble').allInnerTexts();
  const messageCount = () => page.locator('[data-testid=message]').count();

  await step(page, 'open-join-link', async () => {
    await page.goto(joinURL, { waitUntil: 'load' });
    await page.locator('[data-testid=pair-button]').waitFor();
    const url = page.url();
    if (url.includes('jt=') || url.includes('#')) throw new Error(`fragment not removed from the address bar: ${url}`);
    return `address bar: ${url}`;
  });

  await step(page, 'waiting-for-approval', async () => {
    const seenBefore = bridgeOut.length;
    await page.locator('[data-testid=pair-button]').click();
    await page.locator('[data-testid=pair-waiting]').waitFor();
    const reqID = await waitFor(
      'relay.pair_request surfaced by the bridge',
      () => {
        for (const l of bridgeOut.slice(seenBefore)) {
          if (l.json && l.json.event === 'pair_request' && typeof l.json.requestID === 'string') return l.json.requestID;
          if (!/pair_request/i.test(l.line) || /pair_request_timeout/.test(l.line)) continue;
          const id = l.json ? deepFind(l.json, 'requestID') ?? deepFind(l.json, 'requestId') : l.line.match(/requestID["=: ]+([A-Za-z0-9_-]{6,})/)?.[1];
          if (id) return id;
        }
        return null;
      },
      20_000,
    );
    await shot(page, 'pair-waiting-shown');
    bridgeCmd(`approve ${reqID}`);
    return `pair request ${reqID}`;
  });

  await step(page, 'paired-threads-visible', async () => {
    await page.locator('[data-testid=thread-row]').first().waitFor({ timeout: 30_000 });
    await waitFor('status Connected', async () => (await statusText()) === 'Connected', 15_000);
    const rows = await page.locator('[data-testid=thread-row]').count();
    const projects = await page.locator('[data-testid=project-chip]').count();
    if (rows < 1 || projects < 1) throw new Error(`rows=${rows} projects=${projects}`);
    const stored = await page.evaluate(() => localStorage.getItem('codexchat.remote.pairedDevice.v1'));
    if (!stored || !JSON.parse(stored).deviceSessionToken) throw new Error('pairing not persisted');
    return `${projects} projects, ${rows} threads`;
  });

  await step(page, 'e2ee-verified', async () => {
    const badge = page.locator('[data-testid=e2ee-badge][data-e2ee=verified]');
    await badge.waitFor({ timeout: 20_000 });
    const code = (await page.locator('[data-testid=e2ee-safety]').innerText()).trim();
    const desk = await waitFor('bridge e2ee_verified event', () => bridgeOut.find((l) => l.json?.event === 'e2ee_verified')?.json, 15_000);
    if (desk.safetyCode !== code) throw new Error(`safety codes differ: phone ${code}, desktop ${desk.safetyCode}`);
    return `end-to-end encrypted, safety code ${code} on both screens`;
  });

  await step(page, 'open-thread', async () => {
    const row = page.locator('[data-testid=thread-row]', { hasText: 'Welcome' }).first();
    await ((await row.count()) > 0 ? row : page.locator('[data-testid=thread-row]').first()).click();
    await page.locator('[data-testid=thread-view]').waitFor();
    await waitFor('a message in the thread', async () => (await messageCount()) > 0, 15_000);
    return `${await messageCount()} message(s)`;
  });

  const sendAndAwaitReply = async (text, { expectApproval = false } = {}) => {
    const before = (await assistantTexts()).length;
    await page.locator('[data-testid=composer-input]').fill(text);
    await page.locator('[data-testid=send-button]').click();
    await page.locator('[data-testid=message][data-role=user]', { hasText: text }).first().waitFor({ timeout: 15_000 });
    if (expectApproval) return null;
    const lengths = new Set();
    const final = await waitFor(
      'streamed assistant reply',
      async () => {
        const t = await assistantTexts();
        if (t.length <= before) return null;
        const last = t[t.length - 1];
        lengths.add(last.length);
        const running = await page.locator('[data-testid=turn-status]').getAttribute('data-running');
        return last.includes(text) && running === 'false' && /demo agent\.?$/.test(last.trim()) ? last : null;
      },
      30_000,
      50,
    );
    return { final, partials: lengths.size };
  };

  await step(page, 'streamed-reply', async () => {
    const r = await sendAndAwaitReply('hello from the phone');
    return `reply observed at ${r.partials} different lengths while streaming`;
  });

  await step(page, 'send-and-answer', async () => {
    const r = await sendAndAwaitReply('what are you working on');
    return `"${r.final.slice(0, 60)}…"`;
  });

  await step(page, 'approval-card', async () => {
    await sendAndAwaitReply('please approve this step', { expectApproval: true });
    const card = page.locator('[data-testid=approval-card]').first();
    await card.waitFor({ timeout: 20_000 });
    await waitFor('remote approvals enabled (hello.supportsRuntimeRequests)', async () => (await state())?.canRespond === true, 15_000);
    await page.locator('[data-testid=approval-option]').first().waitFor();
    return `request ${await card.getAttribute('data-request-id')}`;
  });

  await step(page, 'approved', async () => {
    const before = (await assistantTexts()).length;
    await page.locator('[data-testid=approval-option][data-option-id=approve_once]').first().click();
    await page.locator('[data-testid=approval-card]').first().waitFor({ state: 'detached', timeout: 20_000 });
    const reply = await waitFor(
      'agent answer after approval',
      async () => {
        const t = await assistantTexts();
        return t.length > before && /Approved/.test(t[t.length - 1]) && /demo agent\.?$/.test(t[t.length - 1].trim()) ? t[t.length - 1] : null;
      },
      30_000,
    );
    return `"${reply.slice(0, 50)}…"`;
  });

  await step(page, 'relay-restart', async () => {
    const before = await state();
    const msgs = await messageCount();
    const signal = process.env.E2E_RELAY_KILL_SIGNAL || 'SIGKILL';
    await stop(relay, signal, 5000);
    await waitFor('PWA notices the relay is gone', async () => ['reconnecting', 'connecting', 'authenticating'].includes((await state())?.phase), 20_000);
    await shot(page, 'relay-down-reconnecting');
    relay = await startRelay('relay-restarted');
    await waitFor(
      'PWA reconnected and resynced',
      async () => {
        const s = await state();
        if (s?.phase === 'ended' || s?.phase === 'revoked')
          throw new Fatal(`pairing ended after the relay restart (${s.phase}): the relay did not keep the session — is REDIS_URL persistence working?`);
        return s?.phase === 'online' && s.desktopConnected === true && s.snapshots > before.snapshots;
      },
      60_000,
      250,
    );
    await waitFor('status Connected', async () => (await statusText()) === 'Connected', 15_000);
    const after = await messageCount();
    if (after < msgs) throw new Error(`history lost: ${msgs} → ${after} messages`);
    return `${msgs} → ${after} messages, snapshots ${before.snapshots} → ${(await state()).snapshots}`;
  });

  await step(page, 'send-after-restart', async () => {
    const r = await sendAndAwaitReply('still there after the restart');
    return `"${r.final.slice(0, 40)}…"`;
  });

  await step(page, 'relay-saw-no-plaintext', async () => {
    const all = wire.join('\n');
    const secrets = ['hello from the phone', 'what are you working on', 'please approve this step', 'still there after the restart', 'demo agent', 'Approved', 'Welcome'];
    const leaked = secrets.filter((t) => all.includes(t));
    if (leaked.length) throw new Error(`relay frames contain plaintext: ${leaked.join(', ')}`);
    const records = wire.filter((f) => f.includes('"e2ee"')).length;
    if (records < 10) throw new Error(`only ${records} E2EE frames captured`);
    return `${wire.length} frames captured, ${records} E2EE, no prompt/reply/approval text`;
  });

  await step(page, 'revoked', async () => {
    const s = await state();
    if (!s?.deviceID) throw new Error('no deviceID stored');
    bridgeCmd(`revoke ${s.deviceID}`);
    await page.locator('[data-testid=terminal-state][data-reason=device_revoked]').waitFor({ timeout: 20_000 });
    const stored = await page.evaluate(() => localStorage.getItem('codexchat.remote.pairedDevice.v1'));
    if (stored) throw new Error('pairing still stored after revoke');
    return 'revoked screen shown, pairing cleared';
  });

  bridgeCmd('stop');
  await Promise.race([new Promise((r) => bridge.once('exit', r)), sleep(5000)]);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  if (!results.some((r) => !r.ok)) console.error(`e2e setup failed: ${e?.stack ?? e}`);
} finally {
  await cleanup();
  writeFileSync(join(ART, 'results.json'), JSON.stringify(results, null, 2));
  const ok = results.filter((r) => r.ok).length;
  console.log(`\ne2e: ${ok}/${results.length} steps passed${failed ? ' — FAILED' : ''}. Artifacts: ${ART}`);
  process.exit(failed ? 1 : 0);
}
