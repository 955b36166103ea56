#!/usr/bin/env node
// Phone-app checks that need a relay which misbehaves on demand, so the relay is simulated inside
// Chromium (routeWebSocket; no C++ binaries): run by `npm run e2e` after phone.mjs, artifacts in
// $E2E_ARTIFACTS/extra/ (ctest: build/pwa-e2e-artifacts/extra).
//   • every disconnect reason the PWA maps shows ITS text: each transient `disconnect` reason, a
//     close carrying a reason, a close without one, a socket that cannot open, a socket never
//     authenticated; each terminal reason and close code 1008; each relay.error code
//   • "Copy pair link" puts the right link on the clipboard; "Paste from clipboard" offers it
//   • each camera failure (denied, none, busy, other, no camera API) shows its text on the scanner;
//     the install hint's Install calls beforeinstallprompt's prompt(), "Not now" hides it
//   • tablet 820×1180: two panes with the desktop-offline and reconnect banners above both
//   • theme-color per scheme, manifest orientation, project chips by activity + project.select,
//     focus kept in the connection sheet, live region, Ctrl+Enter sends, composer follows visualViewport
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ART, launchBrowser, freePort, PWA, runMain, setArtifacts, shot, start, step, waitFor } from './harness.mjs';
import { screenMatrix } from './viewports.mjs';

setArtifacts(join(ART, 'extra'));
rmSync(ART, { recursive: true, force: true });
mkdirSync(ART, { recursive: true });

/** `key: 'text',` rows of a TS string table (the texts the app is supposed to show). */
function tsTable(file, name) {
  const src = readFileSync(join(PWA, 'src/core', file), 'utf8');
  const at = src.indexOf(`const ${name}`);
  if (at < 0) throw new Error(`${name} not in ${file}`);
  const body = src.slice(at);
  const block = body.slice(body.indexOf('{') + 1, body.indexOf('};'));
  const rows = [...block.matchAll(/^\s*([a-z_]+):\s*'([^']*)',?\s*(?:\/\/.*)?$/gm)].map((m) => [m[1], m[2]]);
  if (rows.length < 3) throw new Error(`could not read ${name} from ${file}`);
  return Object.fromEntries(rows);
}
const TRANSIENT = tsTable('connectionText.ts', 'TRANSIENT_DISCONNECT_TEXT');
const TERMINAL = tsTable('protocol.ts', 'DISCONNECT_TEXT');

const SID = 'ExtraSession_0123456789';
const PA = 'CCCCCCCC-0000-4000-8000-00000000000a';
const PB = 'CCCCCCCC-0000-4000-8000-00000000000b';
const TA = 'DDDDDDDD-0000-4000-8000-00000000000a';
const TB = 'DDDDDDDD-0000-4000-8000-00000000000b';

/** The simulated relay + desktop: auth, snapshots, commands recorded, faults on demand. */
class FakeRelay {
  seq = 0;
  sockets = [];
  holdAuth = false;
  held = [];
  commands = [];
  snapshotReasons = [];
  desktopOnline = true;
  extra = [];
  extraThreads = [];
  requests = [];
  env(type, payload) {
    return { schemaVersion: 2, sessionID: SID, seq: ++this.seq, timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), payload: { type, payload } };
  }
  snapshot() {
    // Project B is listed second but has the newest message: its chip must come first.
    return this.env('snapshot', {
      projects: [{ id: PA, name: 'Alpha' }, { id: PB, name: 'Beta' }],
      threads: [
        { id: TA, projectID: PA, title: 'Old work', isPinned: false },
        { id: TB, projectID: PB, title: 'Fresh work', isPinned: false },
        ...this.extraThreads,
      ],
      messages: [
        { id: 'a1', threadID: TA, role: 'assistant', text: 'older reply', createdAt: '2026-03-01T08:00:00Z' },
        { id: 'b1', threadID: TB, role: 'assistant', text: 'newer reply', createdAt: '2026-03-02T08:00:00Z' },
        ...this.extra,
      ],
      pendingRuntimeRequests: this.requests,
    });
  }
  accept(ws) {
    this.sockets.push(ws);
    ws.send(JSON.stringify({ type: 'auth_ok', role: 'mobile', sessionID: SID, deviceID: 'ExtraDevice1234', connectedDeviceCount: 1, desktopConnected: this.desktopOnline }));
  }
  attach(ws) {
    ws.onMessage((raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'relay.auth') return this.holdAuth ? this.held.push(ws) : this.accept(ws);
      if (m.type === 'relay.snapshot_request') {
        this.snapshotReasons.push(m.reason);
        ws.send(JSON.stringify(this.env('hello', { role: 'desktop', clientName: 'Work laptop', supportsRuntimeRequests: true })));
        ws.send(JSON.stringify(this.snapshot()));
        return;
      }
      if (m.payload?.type === 'command') {
        const c = m.payload.payload;
        this.commands.push(c);
        ws.send(JSON.stringify(this.env('command_ack', { commandSeq: m.seq, commandID: c.commandID, commandName: c.name, status: 'accepted' })));
      }
    });
    ws.onClose(() => {
      this.sockets = this.sockets.filter((s) => s !== ws);
    });
  }
  release() {
    this.holdAuth = false;
    const h = this.held;
    this.held = [];
    h.forEach((ws) => this.accept(ws));
  }
  /** The relay's way of dropping a phone: an optional `disconnect` frame, then the close. */
  drop({ frame, code = 1000, reason = '' }) {
    for (const ws of this.sockets) {
      if (frame) ws.send(JSON.stringify({ type: 'disconnect', reason: frame }));
      ws.close({ code, reason });
    }
  }
  sendAll(obj) {
    this.sockets.forEach((ws) => ws.send(JSON.stringify(obj)));
  }
}

async function main() {
  // dist/ is fresh after e2e.mjs (npm run e2e); run `npm run build` first when running alone
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
  const origin = base.slice(0, -1);
  start('pwa-preview', process.execPath, [join(PWA, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: PWA });
  await waitFor('vite preview', async () => (await fetch(base).catch(() => null))?.ok ?? false, 20_000, 150);

  const { page } = await launchBrowser();
  const ctx = page.context();
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const relay = new FakeRelay();
  await ctx.routeWebSocket('ws://relay.mock/ws', (ws) => relay.attach(ws));
  const axeSrc = readFileSync(join(PWA, 'node_modules/axe-core/axe.min.js'), 'utf8');
  const axe = async (where) => {
    await page.evaluate(axeSrc);
    const v = await page.evaluate(async () => (await window.axe.run(document)).violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id}: ${x.nodes[0]?.target}`));
    if (v.length) throw new Error(`axe (${where}): ${v.join('; ')}`);
  };
  const statusText = () => page.locator('[data-testid=status-text]').innerText();
  const connected = (what) => waitFor(`Connected (${what})`, async () => (await statusText()) === 'Connected' && relay.sockets.length === 1, 10_000);

  await step(page, 'copy-and-paste-pair-link', async () => {
    const frag = `sid=${SID}&jt=join_token_cccccccccccccccccccccc&relay=http%3A%2F%2Frelay.mock`;
    await page.goto(`${base}#${frag}`);
    await page.locator('[data-testid=pair-button]').waitFor();
    await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
    await page.locator('[data-testid=copy-pair-link]').click();
    await page.locator('[data-testid=copy-status]', { hasText: 'Link copied' }).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    const u = new URL(clip);
    const p = new URLSearchParams(u.hash.slice(1));
    if (`${u.origin}${u.pathname}` !== base || p.get('sid') !== SID || p.get('jt') !== 'join_token_cccccccccccccccccccccc' || p.get('relay') !== 'http://relay.mock' || u.search !== '') {
      throw new Error(`clipboard holds ${JSON.stringify(clip)}`);
    }
    // the installed app's side: cancel, then "Paste from clipboard" offers a different link
    await page.locator('[data-testid=pair-screen] button', { hasText: 'Cancel' }).click();
    const pasted = `${base}#sid=PastedSession_0123456789&jt=join_token_pppppppppppppppppppppp&relay=http%3A%2F%2Fpasted.mock`;
    await page.evaluate((t) => navigator.clipboard.writeText(t), pasted);
    await page.locator('[data-testid=paste-clipboard]').click();
    await page.locator('[data-testid=pair-button]').waitFor();
    if (!(await page.locator('.pair-card').innerText()).includes('pasted.mock')) throw new Error('pasted link not offered');
    await page.locator('[data-testid=pair-screen] button', { hasText: 'Cancel' }).click();
    return `clipboard = ${u.origin}${u.pathname}#sid=…&jt=…&relay=http://relay.mock; paste offered pasted.mock`;
  });

  await step(page, 'manifest-and-theme-color', async () => {
    const manifest = await (await fetch(`${base}manifest.webmanifest`)).json();
    if (manifest.orientation !== 'any') throw new Error(`orientation ${manifest.orientation}`);
    const colours = {};
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      const r = await page.evaluate(() => {
        const on = [...document.querySelectorAll('meta[name=theme-color]')].filter((m) => !m.media || matchMedia(m.media).matches);
        return { n: on.length, colour: on[0]?.content ?? '', bg: getComputedStyle(document.body).backgroundColor };
      });
      if (r.n !== 1) throw new Error(`${scheme}: ${r.n} theme-color metas apply`);
      colours[scheme] = r.colour;
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    if (colours.light === colours.dark) throw new Error(`one theme-color for both schemes: ${colours.light}`);
    return `orientation any; theme-color light ${colours.light}, dark ${colours.dark}`;
  });

  // From here on the phone is paired with the simulated relay: the stored pairing is seeded before
  // the app runs, again after each terminal reason has cleared it.
  const seed = (p, wsURL = 'ws://relay.mock/ws') =>
    p.addInitScript(([sid, ws]) => {
      if (localStorage.getItem('codexchat.remote.pairedDevice.v1')) return;
      localStorage.setItem('codexchat.remote.pairedDevice.v1', JSON.stringify({ sessionID: sid, deviceID: 'ExtraDevice1234', deviceName: 'Pixel', relayBaseURL: 'http://relay.mock', deviceSessionToken: 'tok_' + 'e'.repeat(40), wsURL: ws, storedAt: new Date().toISOString() }));
    }, [SID, wsURL]);
  await seed(page);

  await step(page, 'projects-by-activity-and-select', async () => {
    await page.goto(base);
    await connected('first');
    await page.locator('[data-testid=project-chip]').first().waitFor();
    const order = await page.locator('[data-testid=project-chip]').evaluateAll((els) => els.map((e) => e.textContent));
    if (order.join(',') !== 'Beta,Alpha') throw new Error(`chip order ${order}`);
    await page.locator('[data-testid=project-chip]', { hasText: 'Alpha' }).click();
    await waitFor('project.select', () => relay.commands.some((c) => c.name === 'project.select' && c.projectID === PA), 5000);
    const rows = await page.locator('[data-testid=thread-row]').count();
    if (rows !== 1) throw new Error(`${rows} thread rows under Alpha`);
    await page.locator('[data-testid=projects] button', { hasText: 'All' }).click();
    return 'Beta (newest) before Alpha; project.select {projectID} sent';
  });

  await step(page, 'transient-disconnect-texts', async () => {
    // each `disconnect` reason the relay sends, then the close; the client's own causes below
    const seen = new Map();
    const check = async (label, expectReason, fault) => {
      await connected(label);
      relay.holdAuth = true; // keep the phone reconnecting so the banner stays up
      fault();
      const banner = page.locator(`[data-testid=reconnect-banner][data-reason="${expectReason}"]`);
      await banner.waitFor({ timeout: 10_000 });
      const text = await page.locator('[data-testid=disconnect-reason]').innerText();
      if (text !== TRANSIENT[expectReason]) throw new Error(`${label}: shows ${JSON.stringify(text)}, expected ${JSON.stringify(TRANSIENT[expectReason])}`);
      seen.set(expectReason, text);
      relay.release();
    };
    const relayReasons = Object.keys(TRANSIENT).filter((r) => !['connection_lost', 'connect_timeout', 'connect_failed'].includes(r));
    for (const r of relayReasons) await check(`disconnect ${r}`, r, () => relay.drop({ frame: r, code: 1000, reason: r }));
    await check('close 1001 "server_shutdown" without a frame', 'server_shutdown', () => relay.drop({ code: 1001, reason: 'server_shutdown' }));
    await check('close 1011 without a reason', 'connection_lost', () => relay.drop({ code: 1011 }));
    await connected('before the unknown reason');
    relay.holdAuth = true;
    relay.drop({ frame: 'brand_new_reason', code: 1000, reason: 'brand_new_reason' });
    await page.locator('[data-testid=reconnect-banner][data-reason=brand_new_reason]').waitFor();
    const unknown = await page.locator('[data-testid=disconnect-reason]').innerText();
    if (!unknown.includes('brand_new_reason')) throw new Error(`unknown reason shows ${unknown}`);
    await shot(page, 'reconnect-unknown-reason');
    relay.release();
    const distinct = new Set(seen.values());
    if (distinct.size !== seen.size) throw new Error(`only ${distinct.size} distinct texts for ${seen.size} reasons`);
    return `${relayReasons.length + 3} drops, ${seen.size} reasons with ${distinct.size} distinct texts, unknown reason named`;
  });

  await step(page, 'terminal-disconnect-texts', async () => {
    const cases = [
      ...Object.keys(TERMINAL).map((r) => [`disconnect ${r}`, r, { frame: r, code: 1000, reason: r }]),
      ['close 1000 "device_revoked" without a frame', 'device_revoked', { code: 1000, reason: 'device_revoked' }],
      ['close 1008', 'session_expired', { code: 1008, reason: 'policy' }],
    ];
    const texts = new Set();
    for (const [label, reason, fault] of cases) {
      await page.goto(`${base}#/`);
      await page.reload();
      await connected(label);
      relay.drop(fault);
      const box = page.locator(`[data-testid=terminal-state][data-reason="${reason}"]`);
      await box.waitFor({ timeout: 10_000 });
      const text = await box.locator('p').first().innerText();
      if (text !== TERMINAL[reason]) throw new Error(`${label}: shows ${JSON.stringify(text)}, expected ${JSON.stringify(TERMINAL[reason])}`);
      if (await page.evaluate(() => localStorage.getItem('codexchat.remote.pairedDevice.v1'))) throw new Error(`${label}: pairing kept`);
      texts.add(text);
    }
    if (texts.size !== Object.keys(TERMINAL).length) throw new Error(`${texts.size} distinct terminal texts`);
    await shot(page, 'terminal-session-expired');
    return `${cases.length} cases, ${texts.size} distinct texts`;
  });

  await step(page, 'relay-error-texts', async () => {
    await page.goto(`${base}#/`);
    await page.reload();
    await connected('relay.error');
    const notice = (text) => page.locator('[data-testid=notice]', { hasText: text }).first().waitFor({ timeout: 5000 });
    const cases = [
      [{ error: 'command_rate_limited' }, 'Too many requests. Slow down and retry shortly.'],
      [{ error: 'snapshot_rate_limited', message: 'Snapshot budget spent; wait a minute.' }, 'Snapshot budget spent; wait a minute.'],
      [{ error: 'weird_failure' }, 'Relay error: weird_failure'],
      [{ error: 'weird_failure', message: 'The relay explains itself.' }, 'The relay explains itself.'],
    ];
    for (const [err, text] of cases) {
      relay.sendAll({ type: 'relay.error', ...err });
      await notice(text);
    }
    const before = relay.snapshotReasons.length;
    relay.sendAll({ type: 'relay.error', error: 'replayed_command' });
    await notice('The relay refused a replayed command; resyncing.');
    await waitFor('command_replay_rejected snapshot request', () => relay.snapshotReasons.slice(before).includes('command_replay_rejected'), 5000);
    relay.sendAll({ type: 'relay.error', error: 'desktop_offline' });
    await notice('The desktop is offline. Queued messages are sent when it is back.');
    await page.locator('[data-testid=desktop-offline]').waitFor();
    if ((await statusText()) !== 'Desktop offline') throw new Error(`status ${await statusText()}`);
    relay.sendAll({ type: 'relay.desktop_status', sessionID: SID, desktopConnected: true });
    await page.locator('[data-testid=desktop-offline]').waitFor({ state: 'detached' });
    return `${cases.length + 2} relay.error codes, each its notice; desktop_offline → banner`;
  });

  await step(page, 'tablet-two-pane-banners', async () => {
    for (let i = 0; i < 20 && (await page.locator('[data-testid=notice]').count()) > 0; i++) await page.locator('[data-testid=notice]').first().click(); // tap to dismiss
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.locator('[data-testid=thread-row]', { hasText: 'Fresh work' }).click();
    await page.locator(`[data-testid=thread-view][data-thread-id="${TB}"]`).waitFor();
    const layout = async (bannerID) => {
      const r = await page.evaluate((id) => {
        const box = (sel) => {
          const e = document.querySelector(sel);
          if (!e) return null;
          const b = e.getBoundingClientRect();
          return { x: b.x, y: b.y, w: b.width, h: b.height, right: b.right, bottom: b.bottom, shown: getComputedStyle(e).display !== 'none' };
        };
        return { w: document.documentElement.clientWidth, banner: box(`[data-testid=${id}]`), side: box('.sidebar'), main: box('.main'), thread: box('[data-testid=thread-view]') };
      }, bannerID);
      const { banner, side, main } = r;
      if (!banner || !side || !main || !r.thread) throw new Error(`${bannerID}: missing pane/banner ${JSON.stringify(r)}`);
      if (!side.shown || !main.shown || side.w < 200 || main.w < 300 || main.x < side.right - 1) throw new Error(`${bannerID}: not two panes ${JSON.stringify(r)}`);
      if (banner.bottom > side.y + 1 || banner.bottom > main.y + 1) throw new Error(`${bannerID}: banner overlaps the panes ${JSON.stringify(r)}`);
      if (banner.x < 0 || banner.right > r.w + 1 || banner.w < r.w * 0.8) throw new Error(`${bannerID}: banner not across the top ${JSON.stringify(r)}`);
      return `${Math.round(side.w)}+${Math.round(main.w)} px panes`;
    };
    const checked = async (bannerID) => {
      const r = await layout(bannerID);
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await shot(page, `tablet-${bannerID}-${scheme}`);
        await axe(`tablet ${bannerID} ${scheme}`);
      }
      return r;
    };
    // desktop offline: banner above both panes, its Reconnect action reconnects (desktop back)
    relay.desktopOnline = false;
    relay.sendAll({ type: 'relay.desktop_status', sessionID: SID, desktopConnected: false });
    await page.locator('[data-testid=desktop-offline]').waitFor();
    const a = await checked('desktop-offline');
    relay.desktopOnline = true;
    await page.locator('[data-testid=reconnect]').click();
    await page.locator('[data-testid=desktop-offline]').waitFor({ state: 'detached' });
    await connected('after Reconnect');
    // relay drop: reconnect banner with its reason above both panes
    relay.holdAuth = true;
    relay.drop({ frame: 'slow_consumer', code: 1000, reason: 'slow_consumer' });
    await page.locator('[data-testid=reconnect-banner][data-reason=slow_consumer]').waitFor();
    const b = await checked('reconnect-banner');
    relay.release();
    await connected('after the reconnect banner');
    await page.setViewportSize({ width: 390, height: 844 });
    return `desktop-offline ${a}; reconnecting ${b}`;
  });

  await step(page, 'desktop-offline-matrix', async () => {
    relay.sendAll({ type: 'relay.desktop_status', sessionID: SID, desktopConnected: false });
    await page.locator('[data-testid=desktop-offline]').waitFor();
    await screenMatrix(page, join(ART, 'screens'), 'desktop-offline', { axe });
    relay.sendAll({ type: 'relay.desktop_status', sessionID: SID, desktopConnected: true });
    await page.locator('[data-testid=desktop-offline]').waitFor({ state: 'detached' });
    return 'light+dark at 390, 320, 820 px, no overflow, axe';
  });

  await step(page, 'sheet-focus-live-region-shortcut', async () => {
    // focus stays inside the connection sheet; Escape returns it to the status button
    await page.locator('[data-testid=status]').click();
    await page.locator('[data-testid=connection-sheet]').waitFor();
    const inside = () => page.evaluate(() => !!document.activeElement?.closest('[data-testid=connection-sheet]'));
    if (!(await inside())) throw new Error('sheet not focused on open');
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press(i % 2 ? 'Shift+Tab' : 'Tab');
      await page.keyboard.press('Tab');
      if (!(await inside())) throw new Error(`focus left the sheet after ${i + 1} Tab presses`);
    }
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=connection-sheet]').waitFor({ state: 'detached' });
    if (!(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'status'))) throw new Error('focus not back on the status button');
    // a new agent message is announced in the live region
    relay.extra.push({ id: 'b2', threadID: TB, role: 'assistant', text: 'A brand new answer for the live region', createdAt: '2026-03-02T09:00:00Z' });
    relay.sendAll(relay.snapshot());
    await waitFor('announcement', async () => (await page.locator('[data-testid=live-region]').innerText()).includes('A brand new answer'), 5000);
    // Ctrl+Enter sends; the hint is referenced by the composer
    const input = page.locator('[data-testid=composer-input]');
    if ((await input.getAttribute('aria-describedby')) !== 'send-hint') throw new Error('composer not described by the hint');
    if (!/Enter/.test(await page.locator('[data-testid=shortcut-hint]').textContent())) throw new Error('hint text');
    await input.fill('sent with the keyboard');
    await input.press('Control+Enter');
    await waitFor('send via Ctrl+Enter', () => relay.commands.some((c) => c.name === 'thread.send_message' && c.text === 'sent with the keyboard'), 5000);
    // the app (composer included) is sized to the visual viewport
    await page.setViewportSize({ width: 390, height: 500 });
    await waitFor('app follows the visual viewport', () =>
      page.evaluate(() => {
        const vv = window.visualViewport;
        const app = document.querySelector('.app').getBoundingClientRect();
        const form = document.querySelector('[data-testid=composer-input]').getBoundingClientRect();
        return Math.abs(app.height - vv.height) <= 1 && form.bottom <= vv.height + 1;
      }), 3000);
    await page.setViewportSize({ width: 390, height: 844 });
    return 'focus trapped + restored, live region announced, Ctrl+Enter sent, composer inside the visual viewport';
  });

  await step(page, 'client-side-disconnect-texts', async () => {
    // own pages (own origins' storage is shared, so each clears it first): the fake clock of the
    // second must not reach the main page
    await page.goto('about:blank');
    const fresh = async (wsURL) => {
      const p = await ctx.newPage();
      await p.addInitScript(() => {
        if (!sessionStorage.getItem('e2e-cleared')) {
          sessionStorage.setItem('e2e-cleared', '1');
          localStorage.clear();
        }
      });
      await seed(p, wsURL);
      return p;
    };
    // a socket URL the browser refuses to construct → connect_failed
    const p1 = await fresh('ws://127.0.0.1:99999/ws'); // port out of range: new WebSocket throws
    await p1.goto(base);
    await p1.locator('[data-testid=reconnect-banner][data-reason=connect_failed]').waitFor().catch(async (e) => {
      await shot(p1, 'connect-failed-missing');
      console.log(await p1.evaluate(() => JSON.stringify({ st: window.__remote?.state?.phase, r: window.__remote?.state?.disconnectReason, ls: localStorage.getItem('codexchat.remote.pairedDevice.v1') })));
      throw e;
    });
    const failed = await p1.locator('[data-testid=disconnect-reason]').innerText();
    await p1.close();
    if (failed !== TRANSIENT.connect_failed) throw new Error(`connect_failed shows ${failed}`);
    // a socket that opens but is never authenticated → connect_timeout (the page's clock is run forward)
    relay.holdAuth = true;
    const p2 = await fresh();
    await p2.clock.install();
    await p2.goto(base);
    await waitFor('auth held', () => relay.held.length > 0, 10_000);
    await p2.locator('[data-testid=status-text]', { hasText: 'Connecting' }).waitFor();
    await p2.clock.fastForward(31_000);
    await p2.locator('[data-testid=reconnect-banner][data-reason=connect_timeout]').waitFor();
    const timeout = await p2.locator('[data-testid=disconnect-reason]').innerText();
    await shot(p2, 'connect-timeout');
    await p2.close();
    relay.held = [];
    relay.holdAuth = false;
    if (timeout !== TRANSIENT.connect_timeout) throw new Error(`connect_timeout shows ${timeout}`);
    await page.goto(base);
    await connected('main page again');
    return `connect_failed: ${failed} | connect_timeout: ${timeout}`;
  });

  // README pictures (docs/phone-*.png are copied from these artifacts): a realistic thread
  await step(page, 'readme-screens', async () => {
    const TC = 'DDDDDDDD-0000-4000-8000-00000000000c';
    const at = (m) => `2026-03-03T09:${String(m).padStart(2, '0')}:00Z`;
    relay.extraThreads.push({ id: TC, projectID: PB, title: 'Fix the flaky config test', isPinned: true });
    relay.extra.push(
      { id: 'c1', threadID: TC, role: 'user', text: 'The config test fails on CI but not on my machine. Can you find out why?', createdAt: at(1) },
      { id: 'c2', threadID: TC, role: 'system', text: 'Completed reasoning: the loader reads the config directory in whatever order the file system returns', createdAt: at(2) },
      { id: 'c3', threadID: TC, role: 'system', text: 'Command: `npm test -- config` (exit 1)\nFAIL tests/config.test.ts\n  expected "base" before "local"', createdAt: at(3) },
      { id: 'c4', threadID: TC, role: 'system', text: 'File change: src/config.ts (completed)\ndiff --git a/src/config.ts b/src/config.ts\n--- a/src/config.ts\n+++ b/src/config.ts\n@@ -12,3 +12,3 @@\n-  const files = readdirSync(dir);\n+  const files = readdirSync(dir).sort();', createdAt: at(4) },
      { id: 'c5', threadID: TC, role: 'assistant', text: 'Found it: `readdirSync` returns files in **directory order**, which differs on CI. I sorted the list:\n\n```ts\nreaddirSync(dir).sort()\n```\n\n- `tests/config.test.ts` passes\n- the whole suite passes (87 of 87)', createdAt: at(5) },
      { id: 'c6', threadID: TC, role: 'user', text: 'Great, commit it.', createdAt: at(6) },
    );
    relay.sendAll(relay.snapshot());
    for (let i = 0; i < 20 && (await page.locator('[data-testid=notice]').count()) > 0; i++) await page.locator('[data-testid=notice]').first().click();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}#/`);
    await page.locator('[data-testid=thread-row]', { hasText: 'Fix the flaky' }).click();
    await page.locator(`[data-testid=thread-view][data-thread-id="${TC}"]`).waitFor();
    await page.locator('[data-testid=diff]').first().waitFor();
    const dir = join(ART, 'readme');
    mkdirSync(dir, { recursive: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(dir, 'phone-thread-dark.png') });
    // reasoning is collapsed until tapped
    const reasoning = page.locator('[data-testid=reasoning]').first();
    if (await reasoning.evaluate((d) => d.open)) throw new Error('reasoning open by default');
    await reasoning.locator('summary').click();
    if (!(await reasoning.evaluate((d) => d.open)) || !(await reasoning.innerText()).includes('file system returns')) throw new Error('reasoning did not expand');
    await reasoning.locator('summary').click();
    relay.requests.push({ requestID: '41', kind: 'approval', threadID: TC, title: 'Approval needed', summary: 'The agent wants to run `git commit -am "config: sort loaded files"`', responseOptions: [{ id: 'approve_once', label: 'Approve once' }, { id: 'approve_for_session', label: 'Approve for session' }, { id: 'decline', label: 'Decline' }] });
    relay.sendAll(relay.snapshot());
    await page.locator('[data-testid=approval-card]').waitFor();
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(dir, 'phone-approval-light.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    const unpaired = await ctx.newPage(); // last step: clearing the shared storage is fine here
    await unpaired.addInitScript(() => localStorage.clear());
    await unpaired.emulateMedia({ colorScheme: 'dark' });
    await unpaired.goto(base);
    await unpaired.locator('[data-testid=scan-button]').waitFor();
    await unpaired.waitForTimeout(200);
    await unpaired.screenshot({ path: join(dir, 'phone-pair-dark.png') });
    await unpaired.close();
    return `3 pictures in ${dir}`;
  });

  await step(page, 'camera-error-texts', async () => {
    // each getUserMedia failure (and no camera API at all) gets its own text on the scanner
    const cases = [
      ['NotAllowedError', 'Camera access was denied.'],
      ['NotFoundError', 'No camera was found on this device.'],
      ['NotReadableError', 'The camera is in use by another app.'],
      ['AbortError', 'The camera could not be started.'],
      ['no-api', 'This browser has no camera access.'],
    ];
    for (const [name, text] of cases) {
      const p = await ctx.newPage();
      await p.addInitScript((n) => {
        localStorage.clear();
        if (n === 'no-api') Object.defineProperty(navigator, 'mediaDevices', { value: undefined });
        else navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('camera test', n));
      }, name);
      await p.goto(base);
      await p.locator('[data-testid=scan-button]').click();
      const shown = await p.locator('[data-testid=scanner-error]').innerText({ timeout: 10_000 }).catch(() => '(no scanner error)');
      await p.close();
      if (!shown.includes(text)) throw new Error(`${name}: shows ${JSON.stringify(shown)}, expected ${JSON.stringify(text)}`);
    }
    return `${cases.length} camera failures, each its text`;
  });

  await step(page, 'install-prompt', async () => {
    // Chromium's beforeinstallprompt: the hint offers Install, which calls prompt(); "Not now" hides it for the session
    const p = await ctx.newPage();
    await p.addInitScript(() => localStorage.clear());
    await p.goto(base);
    await p.locator('[data-testid=pair-screen]').waitFor();
    await p.evaluate(() => {
      const e = new Event('beforeinstallprompt', { cancelable: true });
      e.prompt = () => {
        window.__prompted = (window.__prompted ?? 0) + 1;
        return Promise.resolve();
      };
      e.userChoice = new Promise(() => undefined); // the user has not chosen yet
      window.dispatchEvent(e);
    });
    await p.locator('[data-testid=install-button]').click();
    if ((await p.evaluate(() => window.__prompted)) !== 1) throw new Error('Install did not call prompt()');
    await p.locator('[data-testid=install-hint] button', { hasText: 'Not now' }).click();
    await p.locator('[data-testid=install-hint]').waitFor({ state: 'detached' });
    await p.reload();
    await p.locator('[data-testid=pair-screen]').waitFor();
    const again = await p.locator('[data-testid=install-hint]').count();
    await p.close();
    if (again !== 0) throw new Error('install hint back after "Not now" in the same session');
    return 'Install → prompt(); Not now hides it for the session';
  });
}

await runMain('e2e-extra', main);
