// Shared harness of the browser end-to-end scripts: process bookkeeping (every child killed by
// PID), bounded waits, screenshots/steps, and the real relay + vite preview + desktop bridge stack.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PWA = resolve(HERE, '..');
export const ROOT = resolve(PWA, '..');
/** $E2E_ARTIFACTS (ctest sets it to the build dir) or pwa/test-artifacts/ (git-ignored) */
export let ART = process.env.E2E_ARTIFACTS ? resolve(process.env.E2E_ARTIFACTS) : join(PWA, 'test-artifacts');
/** Put logs and screenshots of this run in a sub-folder (a second script after e2e.mjs). */
export function setArtifacts(dir) {
  ART = dir;
}
export const RELAY_BIN = process.env.RELAY_BIN || join(ROOT, 'build/bin/relay-node');
export const BRIDGE_BIN = process.env.BRIDGE_BIN || join(ROOT, 'build/bin/desktop-bridge');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Exit 0 (skip) when a C++ binary is missing, 1 without Chromium. */
export function requireBinaries(label) {
  const missing = [RELAY_BIN, BRIDGE_BIN].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    console.log(`${label} SKIPPED: missing binaries: ${missing.join(', ')} (build the C++ targets first, e.g. cmake --build build).`);
    process.exit(0);
  }
  if (!existsSync(CHROMIUM)) {
    console.error(`${label} FAILED: Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------- process bookkeeping
const procs = new Map(); // pid -> {name, child}
export const tmpDirs = [];
export const browser = { context: null };

export function start(name, cmd, args, opts = {}) {
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

export async function stop(child, signal = 'SIGTERM', graceMs = 3000) {
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

export async function cleanup() {
  if (browser.context) {
    await Promise.race([browser.context.close().catch(() => undefined), sleep(5000)]);
    browser.context = null;
  }
  for (const { child } of [...procs.values()]) await stop(child);
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

// ---------------------------------------------------------------- helpers
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a waitFor predicate to abort the wait at once. */
export class Fatal extends Error {}

export async function waitFor(what, fn, timeoutMs, stepMs = 100) {
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

export function freePort() {
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
export function lineReader(child, stream = 'stdout') {
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

export function deepStrings(v, out = []) {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => deepStrings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => deepStrings(x, out));
  return out;
}
export function deepFind(v, key) {
  if (!v || typeof v !== 'object') return undefined;
  if (!Array.isArray(v) && typeof v[key] === 'string') return v[key];
  for (const x of Object.values(v)) {
    const r = deepFind(x, key);
    if (r !== undefined) return r;
  }
  return undefined;
}

let shotN = 0;
export async function shot(page, name) {
  const file = join(ART, `${String(++shotN).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: false }).catch((e) => console.log(`  (screenshot failed: ${e.message})`));
  return file;
}

export const results = [];
export async function step(page, name, fn) {
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

/** Builds the PWA (optional), starts Redis (optional), the relay, vite preview and the bridge; returns the join link. */
export async function startStack({ stateDir, bridgeArgTemplate, build = true }) {
  // 1. build the PWA
  if (build) {
  console.log('building PWA …');
  const b = spawnSync(process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: PWA, stdio: 'inherit', timeout: 120_000 });
  if (b.status !== 0) throw new Error('vite build failed');
  }

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
  const argTemplate = bridgeArgTemplate;
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

  return { relayHttp, relayWs, pwaBase, startRelay, relay, bridge, bridgeOut, bridgeCmd, fragment, joinURL };
}

/** Headless Debian Chromium with a phone profile and a fresh profile dir; the console goes to the artifacts. */
export async function launchBrowser({ args = [], viewport = { width: 390, height: 844 }, colorScheme = 'dark' } = {}) {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'rc-e2e-chromium-'));
  tmpDirs.push(userDataDir);
  browser.context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args],
    viewport,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
    colorScheme,
  });
  browser.context.setDefaultTimeout(15_000);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const consoleLog = createWriteStream(join(ART, 'browser-console.log'));
  page.on('console', (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
  const state = () =>
    page.evaluate(() => {
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
        disconnectReason: s.disconnectReason ?? null,
      };
    });
  const statusText = () => page.locator('[data-testid=status-text]').innerText().catch(() => '');
  return { page, state, statusText };
}

/** Click Pair, wait for the bridge's pair_request and approve it there. */
export async function pairThroughBridge(page, bridgeOut, bridgeCmd, onWaiting = async () => undefined) {
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
  await onWaiting();
  bridgeCmd(`approve ${reqID}`);
  return reqID;
}

/** Run the steps in main(), always clean up, write results.json, exit non-zero on failure. */
export async function runMain(label, main) {
  let failed = false;
  try {
    await main();
  } catch (e) {
    failed = true;
    if (!results.some((r) => !r.ok)) console.error(`${label} setup failed: ${e?.stack ?? e}`);
  } finally {
    await cleanup();
    writeFileSync(join(ART, 'results.json'), JSON.stringify(results, null, 2));
    const ok = results.filter((r) => r.ok).length;
    console.log(`\n${label}: ${ok}/${results.length} steps passed${failed ? ' — FAILED' : ''}. Artifacts: ${ART}`);
    process.exit(failed ? 1 : 0);
  }
}
