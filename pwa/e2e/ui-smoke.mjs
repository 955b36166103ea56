#!/usr/bin/env node
// UI smoke test WITHOUT the C++ binaries: the built PWA in Debian Chromium (phone viewport), with
// the relay's HTTP and WebSocket endpoints mocked in the browser (page.route / routeWebSocket) by a
// tiny simulated desktop. It checks the screens render and takes screenshots into
// test-artifacts/ui-*.png. The real end-to-end test is e2e.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { qrY4M } from './qr-y4m.mjs';
import { screenMatrix } from './viewports.mjs';

const PWA = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ART = process.env.E2E_ARTIFACTS ? resolve(process.env.E2E_ARTIFACTS) : join(PWA, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
mkdirSync(ART, { recursive: true });

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

async function waitFor(what, fn, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const b = spawnSync(process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: PWA, stdio: 'inherit', timeout: 120_000 });
if (b.status !== 0) process.exit(1);

const port = await freePort();
const base = `http://127.0.0.1:${port}/`;
const preview = spawn(process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: PWA, stdio: 'ignore' });
const userDataDir = mkdtempSync(join(tmpdir(), 'rc-ui-'));
const QR_LINK = `${base}#sid=MockSession_0123456789&jt=join_token_aaaaaaaaaaaaaaaaaaaaaa&relay=http%3A%2F%2Frelay.mock`;
const y4m = join(userDataDir, 'qr.y4m');
qrY4M(QR_LINK, y4m);
let ctx = null;
let failed = false;

// ------------------------------------------------------------ simulated desktop behind the relay
const SID = 'MockSession_0123456789';
const P1 = 'AAAAAAAA-0000-4000-8000-000000000001';
const P2 = 'AAAAAAAA-0000-4000-8000-000000000002';
const T1 = 'BBBBBBBB-0000-4000-8000-000000000001';
const T2 = 'BBBBBBBB-0000-4000-8000-000000000002';
const T3 = 'BBBBBBBB-0000-4000-8000-000000000003';
const desk = {
  seq: 0,
  supports: true,
  threads: [
    { id: T1, projectID: P1, title: 'Welcome', isPinned: true },
    { id: T2, projectID: P1, title: 'Refactor the relay config loader', isPinned: false },
    { id: T3, projectID: P2, title: 'Landing page copy', isPinned: false },
  ],
  messages: [
    { id: 'm1', threadID: T1, role: 'assistant', text: 'Hi! I am the demo agent. Send me a message; include the word "approve" to see an approval request.', createdAt: '2026-03-12T06:20:00Z' },
    { id: 'm2', threadID: T2, role: 'user', text: 'Can you split config parsing from validation?', createdAt: '2026-03-12T06:21:00Z' },
    { id: 'm3', threadID: T2, role: 'assistant', text: 'Sure — I moved validation into `validate()` and added tests for every key.', createdAt: '2026-03-12T06:21:30Z' },
    { id: 'm4', threadID: T3, role: 'system', text: 'Project created: Website', createdAt: '2026-03-12T06:22:00Z' },
  ],
  running: null,
  requests: [],
  nextReq: 17,
};
// T2: a long, rich history (paging, cards, markdown, system lines, reasoning)
for (let i = 0; i < 110; i++) desk.messages.push({ id: `h${i}`, threadID: T2, role: i % 2 ? 'assistant' : 'user', text: `history message ${i}`, createdAt: `2026-03-12T05:${String(Math.floor(i / 2) % 60).padStart(2, '0')}:00Z` });
desk.messages.push(
  { id: 'r1', threadID: T2, role: 'system', text: 'Completed reasoning: compared the two loaders', createdAt: '2026-03-12T06:21:40Z' },
  { id: 'c1', threadID: T2, role: 'system', text: 'Command: `npm test -- --run` (exit 1)\nFAIL tests/config.test.ts\n  expected 3 keys', createdAt: '2026-03-12T06:21:41Z' },
  { id: 'f1', threadID: T2, role: 'system', text: 'File change: src/config.ts (completed)\ndiff --git a/src/config.ts b/src/config.ts\n--- a/src/config.ts\n+++ b/src/config.ts\n@@ -1,2 +1,2 @@\n-const a = 1;\n+const a = 2;', createdAt: '2026-03-12T06:21:42Z' },
  { id: 's1', threadID: T2, role: 'system', text: 'Codex: stream error (retrying)', createdAt: '2026-03-12T06:21:43Z' },
  { id: 'md1', threadID: T2, role: 'assistant', text: 'Done:\n\n```ts\nexport const a = 2; // ' + 'w'.repeat(120) + '\n```\n\n<img src=x onerror="window.__xss=1"> [x](javascript:window.__xss=2) ' + 'L'.repeat(200), createdAt: '2026-03-12T06:21:44Z' },
);
let sockets = [];
const sendAll = (obj) => sockets.forEach((ws) => ws.send(JSON.stringify(obj)));
const envelope = (type, payload) => ({ schemaVersion: 2, sessionID: SID, seq: ++desk.seq, timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), payload: { type, payload } });
const snapshot = () =>
  envelope('snapshot', {
    projects: [{ id: P1, name: 'General' }, { id: P2, name: 'Website' }],
    threads: desk.threads,
    selectedThreadID: T1,
    messages: desk.messages,
    ...(desk.running ? { turnState: { threadID: desk.running, isTurnInProgress: true, isAwaitingRuntimeRequest: desk.requests.length > 0 } } : {}),
    pendingRuntimeRequests: desk.requests,
    capabilities: { interrupt: true },
  });
const pushSnapshot = () => sendAll(snapshot());
async function streamReply(threadID, text) {
  desk.running = threadID;
  sendAll(envelope('event', { name: 'turn.status.update', threadID, body: 'running' }));
  const id = `a-${Date.now()}`;
  const words = text.split(' ');
  const msg = { id, threadID, role: 'assistant', text: '', createdAt: new Date().toISOString() };
  desk.messages.push(msg);
  for (let i = 0; i < words.length; i++) {
    if (desk.interrupt) {
      desk.interrupt = false;
      desk.messages.push({ id: `i-${Date.now()}`, threadID, role: 'system', text: 'Turn interrupted.', createdAt: new Date().toISOString() });
      break;
    }
    msg.text = words.slice(0, i + 1).join(' ');
    pushSnapshot();
    await sleep(60);
  }
  desk.running = null;
  sendAll(envelope('event', { name: 'turn.status.update', threadID, body: 'idle' }));
  pushSnapshot();
}
function onCommand(ws, env) {
  const c = env.payload.payload;
  const ack = (status, reason) => ws.send(JSON.stringify(envelope('command_ack', { commandSeq: env.seq, commandID: c.commandID, commandName: c.name, status, ...(reason ? { reason } : {}), ...(c.threadID ? { threadID: c.threadID } : {}) })));
  if (c.name === 'thread.select' || c.name === 'project.select') return ack('accepted');
  if (c.name === 'thread.interrupt') {
    desk.interrupt = desk.running === c.threadID;
    desk.interrupts = (desk.interrupts ?? 0) + 1;
    return ack('accepted');
  }
  if (c.name === 'thread.send_message') {
    if (c.text.includes('busy')) return ack('rejected', 'desktop_busy');
    desk.messages.push({ id: `u-${Date.now()}`, threadID: c.threadID, role: 'user', text: c.text, createdAt: new Date().toISOString() });
    ack('accepted');
    pushSnapshot();
    if (c.text.includes('approve')) {
      desk.running = c.threadID;
      desk.requests.push({
        requestID: String(desk.nextReq++),
        kind: 'approval',
        threadID: c.threadID,
        title: 'Approval needed',
        summary: 'The demo agent wants to run `npm test -- --run`',
        responseOptions: [
          { id: 'approve_once', label: 'Approve once' },
          { id: 'approve_for_session', label: 'Approve for session' },
          { id: 'decline', label: 'Decline' },
        ],
      });
      sendAll(envelope('event', { name: 'runtime_request.requested', threadID: c.threadID, body: 'Approval needed: run npm test' }));
      return;
    }
    void streamReply(c.threadID, `You said: "${c.text}". This reply is streamed word by word by the demo agent.`);
    return;
  }
  if (c.name === 'runtime_request.respond') {
    const r = desk.requests.find((x) => x.requestID === c.runtimeRequestID);
    if (!r) return ack('rejected', 'unknown_runtime_request');
    desk.requests = desk.requests.filter((x) => x !== r);
    sendAll(envelope('event', { name: 'runtime_request.responded', threadID: r.threadID, body: 'Approval needed: run npm test' }));
    ack('accepted');
    void streamReply(r.threadID, `Approved (${c.runtimeRequestResponse.decision}). Tests passed: 87 of 87.`);
  }
}

const shots = [];
const shot = async (page, name) => {
  const f = join(ART, `ui-${String(shots.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: f });
  shots.push(f);
};
// the screens only the mocked relay reaches: light + dark at 390×844, 320×640 and 820×1180
const matrix = (page, name, axe) => screenMatrix(page, join(ART, 'ui-screens'), name, { axe });

try {
  await waitFor('preview', async () => (await fetch(base)).ok, 20_000);
  const { chromium } = await import('playwright-core');
  ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'dark',
    permissions: ['camera'],
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  });
  ctx.setDefaultTimeout(10_000);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const axeSrc = (await import('node:fs')).readFileSync(join(PWA, 'node_modules/axe-core/axe.min.js'), 'utf8');
  const axe = async (where) => {
    await page.evaluate(axeSrc);
    const v = await page.evaluate(async () => (await window.axe.run(document)).violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id}: ${x.nodes.slice(0, 2).map((n) => n.target).join(' | ')}`));
    if (v.length) throw new Error(`axe (${where}): ${v.join('; ')}`);
  };

  const cors = { 'access-control-allow-origin': base.slice(0, -1), 'access-control-allow-methods': 'POST,OPTIONS', 'access-control-allow-headers': 'content-type' };
  await ctx.route('http://relay.mock/**', async (route) => {
    const req = route.request();
    if (req.method() === 'OPTIONS') return route.fulfill({ status: 200, headers: cors, body: '' });
    if (req.url().endsWith('/pair/join')) {
      const body = JSON.parse(req.postData() || '{}');
      if (body.joinToken === 'denied_token_aaaaaaaaaaaaaaaaaa') {
        return route.fulfill({ status: 403, headers: { ...cors, 'content-type': 'application/json' }, body: JSON.stringify({ error: 'pair_request_denied', message: 'Desktop denied this pairing request.' }) });
      }
      await sleep(1500);
      return route.fulfill({
        status: 200,
        headers: { ...cors, 'content-type': 'application/json' },
        body: JSON.stringify({ accepted: true, sessionID: SID, deviceID: 'MockDevice123456', deviceSessionToken: 'tok_' + 'a'.repeat(40), wsURL: 'ws://relay.mock/ws' }),
      });
    }
    return route.fulfill({ status: 404, headers: cors, body: '' });
  });
  let rotation = 0;
  const acceptAuth = (ws) => {
    sockets.push(ws);
    ws.send(JSON.stringify({ type: 'auth_ok', role: 'mobile', sessionID: SID, deviceID: 'MockDevice123456', nextDeviceSessionToken: `rot${++rotation}_` + 'b'.repeat(40), connectedDeviceCount: 1, desktopConnected: true }));
  };
  await ctx.routeWebSocket('ws://relay.mock/ws', (ws) => {
    ws.onMessage((raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'relay.auth') {
        if (desk.held) return desk.held.push(ws); // relay "down": hold the answer until released
        acceptAuth(ws);
        return;
      }
      if (m.type === 'relay.snapshot_request') {
        ws.send(JSON.stringify(envelope('hello', { role: 'desktop', clientName: 'CodexChat Desktop', supportsRuntimeRequests: desk.supports })));
        ws.send(JSON.stringify(snapshot()));
        return;
      }
      if (m.payload?.type === 'command') onCommand(ws, m);
    });
    ws.onClose(() => {
      sockets = sockets.filter((s) => s !== ws);
    });
  });

  // denied pairing
  await page.goto(`${base}#sid=${SID}&jt=denied_token_aaaaaaaaaaaaaaaaaa&relay=http%3A%2F%2Frelay.mock`);
  await page.locator('[data-testid=pair-button]').click();
  await page.locator('[data-testid=pair-error][data-code=pair_request_denied]').waitFor();
  await shot(page, 'pair-denied');
  await matrix(page, 'pair-denied', axe);

  // in-app scanner: the fake camera shows the join QR; the decoded link is offered for pairing
  await page.goto(base);
  await page.locator('[data-testid=scan-button]').click();
  await page.locator('[data-testid=pair-button]').waitFor({ timeout: 20_000 });
  if (!(await page.locator('.pair-card').innerText()).includes('relay.mock')) throw new Error('scanned link not offered');
  await page.locator('[data-testid=pair-screen] button', { hasText: 'Cancel' }).click();

  // pairing happy path
  await page.goto(`${base}#sid=${SID}&jt=join_token_aaaaaaaaaaaaaaaaaaaaaa&relay=http%3A%2F%2Frelay.mock`);
  await page.locator('[data-testid=pair-button]').waitFor();
  if (page.url().includes('#')) throw new Error('fragment not removed');
  await shot(page, 'pair');
  const swActive = await Promise.race([page.evaluate(() => navigator.serviceWorker.ready.then((r) => !!r.active)), sleep(10_000).then(() => false)]);
  if (!swActive) throw new Error('service worker did not activate');
  const cached = await page.evaluate(async () => (await Promise.all((await caches.keys()).map(async (k) => (await (await caches.open(k)).keys()).map((r) => r.url)))).flat());
  if (!cached.some((u) => u.endsWith('/index.html')) || cached.some((u) => /relay\.mock|\/pair\//.test(u))) throw new Error(`unexpected SW cache: ${cached.join(', ')}`);
  await page.locator('[data-testid=pair-button]').click();
  await page.locator('[data-testid=pair-waiting]').waitFor();
  await shot(page, 'pair-waiting');
  await page.locator('[data-testid=thread-row]').first().waitFor();
  await waitFor('Connected', async () => (await page.locator('[data-testid=status-text]').innerText()) === 'Connected', 5000);
  const stored = JSON.parse(await page.evaluate(() => localStorage.getItem('codexchat.remote.pairedDevice.v1')));
  if (!stored.deviceSessionToken.startsWith('rot1_')) throw new Error('rotated token not stored');
  await shot(page, 'threads');

  // rich thread: route, markdown, cards, system toggle, paging, jump, reload, Back, overflow, axe
  await axe('threads');
  await page.locator('[data-testid=thread-row]', { hasText: 'Refactor' }).click();
  await page.locator(`[data-testid=thread-view][data-thread-id="${T2}"]`).waitFor();
  if ((await page.evaluate(() => location.hash)) !== `#/t/${T2}`) throw new Error('no thread route');
  await page.locator('[data-testid=code-block]').waitFor();
  for (const id of ['command-card', 'file-card', 'reasoning', 'diff']) await page.locator(`[data-testid=${id}]`).first().waitFor();
  if (await page.evaluate(() => window.__xss ?? document.querySelectorAll('.messages img').length)) throw new Error('markdown not inert');
  if ((await page.locator('[data-kind=system]').count()) !== 0) throw new Error('system line shown by default');
  await page.locator('[data-testid=system-toggle]').click();
  await page.locator('[data-kind=system]').first().waitFor();
  await page.locator('[data-testid=system-toggle]').click();
  await axe('thread');
  await shot(page, 'rich-thread');
  await matrix(page, 'rich-thread', axe);
  const n0 = await page.locator('[data-testid=message]').count();
  if (n0 > 50) throw new Error(`${n0} messages on the first page`);
  await page.locator('[data-testid=show-earlier]').scrollIntoViewIfNeeded();
  const firstId = await page.locator('[data-testid=message]').first().getAttribute('data-message-id');
  const y0 = (await page.locator('[data-testid=message]').first().boundingBox()).y;
  await page.locator('[data-testid=show-earlier]').click();
  await waitFor('earlier page', async () => (await page.locator('[data-testid=message]').count()) > n0, 3000);
  const y1 = (await page.locator(`[data-message-id="${firstId}"]`).boundingBox()).y;
  if (Math.abs(y1 - y0) > 2) throw new Error(`show-earlier moved the anchor ${y0} → ${y1}`);
  await page.locator('[data-testid=jump-latest]').click();
  await waitFor('bottom', () => page.locator('[data-testid=messages]').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80), 3000);
  for (const width of [360, 320]) {
    await page.setViewportSize({ width, height: 700 });
    await sleep(150);
    const over = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth || [...document.querySelectorAll('.app *')].some((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest('pre, .table-wrap, .chips')));
    if (over) throw new Error(`horizontal overflow at ${width}px`);
  }
  await shot(page, 'rich-thread-320');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await page.locator(`[data-testid=thread-view][data-thread-id="${T2}"]`).waitFor();
  await page.locator('[data-testid=back]').click();
  await waitFor('list after Back', async () => (await page.locator('[data-testid=thread-view]').count()) === 0, 3000);
  await page.goForward();
  await page.locator(`[data-testid=thread-view][data-thread-id="${T2}"]`).waitFor();
  await page.goBack();
  await waitFor('list after browser Back', async () => (await page.locator('[data-testid=thread-view]').count()) === 0, 3000);
  await page.locator('[data-testid=status]').click();
  await page.locator('[data-testid=connection-sheet]').waitFor();
  await axe('connection sheet');
  await page.emulateMedia({ colorScheme: 'light' });
  await shot(page, 'connection-sheet-light');
  await axe('connection sheet light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.keyboard.press('Escape');

  await page.locator('[data-testid=thread-row]', { hasText: 'Welcome' }).click();
  await page.locator('[data-testid=thread-view]').waitFor();
  await page.locator('[data-testid=composer-input]').fill('Summarise what changed today');
  await page.locator('[data-testid=send-button]').click();
  await sleep(450);
  await shot(page, 'streaming');
  await waitFor('reply done', async () => (await page.locator('[data-testid=turn-status]').getAttribute('data-running')) === 'false' && (await page.locator('.msg.assistant .bubble').last().innerText()).endsWith('demo agent.'), 10_000);

  // Stop: shown only while a turn runs (desktop advertises capabilities.interrupt), sends thread.interrupt
  if ((await page.locator('[data-testid=stop-button]').count()) !== 0) throw new Error('stop button while idle');
  await page.locator('[data-testid=composer-input]').fill('tell me a long story ' + 'and then '.repeat(30));
  await page.locator('[data-testid=send-button]').click();
  await page.locator('[data-testid=stop-button]').click();
  await page.locator('[data-kind=notice]', { hasText: 'Turn interrupted.' }).waitFor();
  await page.locator('[data-testid=stop-button]').waitFor({ state: 'detached' });
  if (desk.interrupts !== 1) throw new Error(`thread.interrupt sent ${desk.interrupts} times`);

  await page.locator('[data-testid=composer-input]').fill('please approve running the tests');
  await page.locator('[data-testid=send-button]').click();
  await page.locator('[data-testid=approval-card]').waitFor();
  await sleep(200);
  await shot(page, 'approval');
  await matrix(page, 'approval', axe);
  await page.locator('[data-testid=approval-option][data-option-id=approve_once]').click();
  await page.locator('[data-testid=approval-card]').waitFor({ state: 'detached' });
  await waitFor('approved reply', async () => /Tests passed/.test(await page.locator('.msg.assistant .bubble').last().innerText()), 10_000);
  await page.locator('[data-testid=composer-input]').fill('this one will be busy');
  await page.locator('[data-testid=send-button]').click();
  await page.locator('.msg.system', { hasText: 'Not delivered' }).waitFor();
  await shot(page, 'approved-and-rejected');

  // relay drop → reconnecting, queued message, then back
  desk.held = [];
  for (const ws of sockets) ws.close({ code: 1006 });
  await waitFor('reconnecting', async () => /Reconnecting/.test(await page.locator('[data-testid=status-text]').innerText()), 5000);
  await page.locator('[data-testid=composer-input]').fill('queued while offline');
  await page.locator('[data-testid=send-button]').click();
  await page.locator('[data-testid=pending-message][data-status=queued]').waitFor();
  await page.locator('[data-testid=reconnect-banner]').waitFor();
  await shot(page, 'reconnecting-queued');
  await matrix(page, 'reconnecting-queued', axe);
  const held = desk.held;
  desk.held = null;
  held.forEach(acceptAuth);
  await waitFor('reconnected', async () => (await page.locator('[data-testid=status-text]').innerText()) === 'Connected', 8000);
  await page.locator('.msg.user', { hasText: 'queued while offline' }).waitFor();

  // wide screen: two panes
  await page.setViewportSize({ width: 1024, height: 700 });
  await sleep(300);
  await shot(page, 'two-pane');
  await page.setViewportSize({ width: 390, height: 844 });

  // revoke
  sendAll({ type: 'disconnect', reason: 'device_revoked' });
  await page.locator('[data-testid=terminal-state][data-reason=device_revoked]').waitFor();
  if (await page.evaluate(() => localStorage.getItem('codexchat.remote.pairedDevice.v1'))) throw new Error('pairing not cleared');
  await shot(page, 'revoked');
  await matrix(page, 'revoked', axe);
  // a denied camera gets its text; in standalone mode (the installed app) there is no install hint
  if ((await page.locator('[data-testid=install-hint]').count()) !== 1) throw new Error('no install hint in a browser tab');
  const p2 = await ctx.newPage();
  await p2.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    const mm = window.matchMedia.bind(window);
    const fake = (q) => ({ matches: true, media: q, onchange: null, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {}, dispatchEvent: () => false });
    window.matchMedia = (q) => (q === '(display-mode: standalone)' ? fake(q) : mm(q));
  });
  p2.on('pageerror', (e) => errors.push(e.message));
  await p2.goto(base);
  await p2.locator('[data-testid=pair-screen]').waitFor();
  if ((await p2.locator('[data-testid=install-hint]').count()) !== 0) throw new Error('install hint shown in standalone mode');
  await p2.locator('[data-testid=scan-button]').click();
  await p2.locator('[data-testid=scanner-error]', { hasText: 'Camera access was denied' }).waitFor();
  await shot(p2, 'camera-denied-standalone');
  await p2.close();
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(`ui-smoke: ok, ${shots.length} screenshots in ${ART}`);
} catch (e) {
  failed = true;
  console.error(`ui-smoke FAILED: ${e?.stack ?? e}`);
  if (ctx) await ctx.pages()[0]?.screenshot({ path: join(ART, 'ui-FAILED.png') }).catch(() => undefined);
} finally {
  if (ctx) await Promise.race([ctx.close().catch(() => undefined), sleep(5000)]);
  try {
    process.kill(preview.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  rmSync(userDataDir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
