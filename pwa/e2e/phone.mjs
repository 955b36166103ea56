#!/usr/bin/env node
// Phone-app end-to-end checks in Debian Chromium against the REAL relay and desktop bridge, with
// the bridge's exec runtime running `cat` (every message comes back verbatim as the agent reply,
// so the test controls the agent's markdown). Runs after e2e.mjs (npm run e2e); artifacts in
// test-artifacts/phone/.
//   • pairs through the in-app QR scanner (Chromium's fake camera plays a .y4m of the join QR)
//   • markdown: code block + copy, raw HTML / javascript: links stay inert; long replies collapse/expand
//   • routes: the thread survives reload, in-app Back and browser Back/Forward
//   • paging: show-earlier keeps the first visible message in place, jump-to-latest
//   • no horizontal overflow at 360 and 320 px with long unbroken strings
//   • connection sheet "resync now" brings a snapshot; a dropped relay shows its reason
//   • axe-core: no serious/critical violations; screenshots in dark and light
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qrY4M } from './qr-y4m.mjs';
import { screenMatrix } from './viewports.mjs';
import { ART, launchBrowser, pairThroughBridge, PWA, requireBinaries, runMain, setArtifacts, shot, startStack, step, stop, tmpDirs, waitFor } from './harness.mjs';

requireBinaries('e2e-phone');
setArtifacts(join(ART, 'phone'));

async function main() {
  rmSync(ART, { recursive: true, force: true });
  mkdirSync(ART, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-e2e-phone-'));
  tmpDirs.push(stateDir);
  const stack = await startStack({
    stateDir,
    // after e2e.mjs (npm run e2e) dist/ is fresh: --no-build
    build: process.env.E2E_SKIP_BUILD !== '1' && !process.argv.includes('--no-build'),
    bridgeArgTemplate: '--json --runtime exec --relay {relayWs} --join-url {pwaBase} --state-file {stateDir}/bridge-session.json -- cat',
  });
  const { bridgeOut, bridgeCmd, joinURL, pwaBase } = stack;
  const y4m = join(stateDir, 'join-qr.y4m');
  qrY4M(joinURL, y4m);
  const { page, state } = await launchBrowser({
    args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
  });
  await page.context().grantPermissions(['camera', 'clipboard-read', 'clipboard-write'], { origin: pwaBase.replace(/\/$/, '') });
  const axeSource = readFileSync(join(PWA, 'node_modules/axe-core/axe.min.js'), 'utf8');
  const axe = async (screen) => {
    await page.evaluate(axeSource);
    const res = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.nodes.length}): ${v.nodes[0]?.target}`);
    });
    if (res.length > 0) throw new Error(`axe on ${screen}: ${res.join('; ')}`);
    return screen;
  };
  // every screen: light + dark at 390×844, 320×640 and 820×1180, overflow-checked at each
  const both = (name) => screenMatrix(page, join(ART, 'screens'), name, { axe });
  const hash = () => page.evaluate(() => location.hash);
  const openThread = () => page.evaluate(() => window.__remote.state.data.openThreadID);
  // The agent's replies as STORED by the client (not as rendered: the transcript renders one
  // 50-message page, so rendered counts stop growing once the thread is longer than a page).
  const storedReplies = () =>
    page.evaluate(() => {
      const d = window.__remote.state.data;
      const msgs = (d.openThreadID && d.buckets[d.openThreadID]) || [];
      const replies = msgs.filter((m) => m.role === 'assistant');
      return { n: replies.length, last: replies.at(-1)?.text ?? '' };
    });
  const send = async (text, expect = text) => {
    const before = (await storedReplies()).n;
    await page.locator('[data-testid=composer-input]').fill(text);
    await page.locator('[data-testid=send-button]').click();
    await waitFor(`agent echo of ${JSON.stringify(text.slice(0, 20))}`, async () => {
      const r = await storedReplies();
      const running = await page.locator('[data-testid=turn-status]').getAttribute('data-running');
      return r.n > before && running === 'false' && r.last.includes(expect);
    }, 30_000, 50);
  };

  await step(page, 'scan-qr-pair', async () => {
    await page.goto(pwaBase, { waitUntil: 'load' });
    await both('pair');
    await page.locator('[data-testid=scan-button]').click();
    await page.locator('[data-testid=pair-button]').waitFor({ timeout: 30_000 });
    await pairThroughBridge(page, bridgeOut, bridgeCmd);
    await page.locator('[data-testid=thread-row]').first().waitFor({ timeout: 30_000 });
    return 'QR decoded from the fake camera, paired';
  });

  let threadID = '';
  await step(page, 'thread-route', async () => {
    await both('threads');
    await page.locator('[data-testid=thread-row]', { hasText: 'Session 1' }).first().click();
    await page.locator('[data-testid=thread-view]').waitFor();
    threadID = await openThread();
    const h = await hash();
    if (h !== `#/t/${threadID}`) throw new Error(`hash ${h}`);
    return h;
  });

  await step(page, 'markdown-and-xss', async () => {
    const md = '# Plan\n\nUse `npm ci` and **then**:\n\n```js\nconst answer = 42;\n```\n\n- one\n- two\n\n<script>window.__xss=1</script> <img src=x onerror="window.__xss=2"> [bad](javascript:window.__xss=3) [good](https://example.com/docs)';
    await send(md, 'answer');
    const msg = page.locator('[data-testid=message][data-role=assistant]').last();
    const code = await msg.locator('[data-testid=code-block] pre').innerText();
    if (!code.includes('const answer = 42;')) throw new Error(`code block: ${code}`);
    const bad = await page.evaluate(() => ({
      xss: window.__xss ?? null,
      scripts: document.querySelectorAll('.messages script, .messages img, .messages [onerror]').length,
      jsLinks: [...document.querySelectorAll('.messages a')].filter((a) => !/^https?:|^mailto:/.test(a.getAttribute('href') ?? '')).length,
    }));
    if (bad.xss !== null || bad.scripts || bad.jsLinks) throw new Error(`unsafe DOM: ${JSON.stringify(bad)}`);
    if (!(await msg.innerText()).includes('<script>window.__xss=1</script>')) throw new Error('raw HTML not shown as text');
    if ((await msg.locator('h1, ul li, code').count()) < 3) throw new Error('markdown not rendered');
    await msg.locator('[data-testid=copy-code]').click();
    await msg.locator('[data-testid=copy-code]', { hasText: 'Copied' }).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    if (clip !== 'const answer = 42;') throw new Error(`clipboard: ${JSON.stringify(clip)}`);
    await both('thread-markdown');
    return 'code block + copy; <script>, onerror and javascript: inert';
  });

  await step(page, 'collapse-expand', async () => {
    await send(Array.from({ length: 40 }, (_, i) => `line ${i + 1} of a long reply`).join('\n\n'), 'line 40 of');
    const msg = page.locator('[data-testid=message][data-role=assistant]').last();
    const box = msg.locator('[data-testid=collapsible]');
    const toggle = msg.locator('[data-testid=collapse-toggle]');
    const height = () => msg.locator('.collapsible-body').evaluate((el) => el.getBoundingClientRect().height);
    if ((await box.getAttribute('data-open')) !== 'false') throw new Error('long reply not collapsed');
    const closed = await height();
    await toggle.click();
    if ((await box.getAttribute('data-open')) !== 'true' || (await toggle.getAttribute('aria-expanded')) !== 'true') throw new Error('not expanded');
    const open = await height();
    if (!(open > closed * 1.5)) throw new Error(`expanded ${open} px vs collapsed ${closed} px`);
    await toggle.click();
    if ((await box.getAttribute('data-open')) !== 'false') throw new Error('not collapsed again');
    return `collapsed ${Math.round(closed)} px, expanded ${Math.round(open)} px`;
  });

  await step(page, 'reload-reopens-thread', async () => {
    await page.reload({ waitUntil: 'load' });
    await page.locator(`[data-testid=thread-view][data-thread-id="${threadID}"]`).waitFor({ timeout: 30_000 });
    return await hash();
  });

  await step(page, 'back-works', async () => {
    await page.locator('[data-testid=back]').click();
    await waitFor('list after in-app Back', async () => ['', '#/'].includes(await hash()) && (await openThread()) === null && (await page.locator('[data-testid=thread-view]').count()) === 0, 10_000);
    await page.goForward();
    await page.locator(`[data-testid=thread-view][data-thread-id="${threadID}"]`).waitFor();
    await page.goBack();
    await waitFor('list after browser Back', async () => (await openThread()) === null, 10_000);
    // wide screen: Back also closes the thread (both panes visible)
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.locator('[data-testid=thread-row]', { hasText: 'Session 1' }).first().click();
    await page.locator('[data-testid=thread-view]').waitFor();
    await page.goBack();
    await waitFor('wide: thread closed by browser Back', async () => (await openThread()) === null && (await hash()) !== `#/t/${threadID}`, 10_000);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('[data-testid=thread-row]', { hasText: 'Session 1' }).first().click();
    await page.locator('[data-testid=thread-view]').waitFor();
    return 'in-app Back, browser Back/Forward at 390 px and 1024 px';
  });

  await step(page, 'paging', async () => {
    for (let i = 1; i <= 26; i++) await send(`message number ${String(i).padStart(2, '0')}`);
    const rendered = await page.locator('[data-testid=message]').count();
    if (rendered > 50) throw new Error(`${rendered} messages rendered on the first page`);
    const stored = await page.evaluate(() => window.__remote.state.data.buckets[window.__remote.state.data.openThreadID].length);
    if (stored <= 50) throw new Error(`only ${stored} messages stored: the thread must be longer than a page`);
    const earlier = page.locator('[data-testid=show-earlier]');
    await earlier.waitFor();
    await earlier.scrollIntoViewIfNeeded();
    const first = page.locator('[data-testid=message]').first();
    const id = await first.getAttribute('data-message-id');
    const before = (await first.boundingBox()).y;
    await earlier.click();
    await waitFor('earlier page rendered', async () => (await page.locator('[data-testid=message]').count()) > rendered, 5_000);
    const after = (await page.locator(`[data-message-id="${id}"]`).boundingBox()).y;
    if (Math.abs(after - before) > 2) throw new Error(`anchor moved ${before} → ${after}`);
    return `${stored} stored, ${rendered} → ${await page.locator('[data-testid=message]').count()} rendered, anchor moved ${Math.abs(after - before).toFixed(1)} px`;
  });

  await step(page, 'jump-to-latest', async () => {
    await page.locator('[data-testid=messages]').evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    await page.locator('[data-testid=jump-latest]').click();
    await waitFor('at the bottom', () => page.locator('[data-testid=messages]').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80), 5_000);
    await page.locator('[data-testid=jump-latest]').waitFor({ state: 'detached' });
    return 'scrolled to the newest message';
  });

  await step(page, 'no-horizontal-overflow', async () => {
    await send(`${'x'.repeat(300)} https://example.com/${'a'.repeat(200)} \`${'y'.repeat(120)}\``, 'xxxxxxxx');
    await send('```\n' + 'z'.repeat(400) + '\n```', 'zzzz');
    const out = [];
    for (const width of [360, 320]) {
      await page.setViewportSize({ width, height: 740 });
      await page.waitForTimeout(200);
      const o = await page.evaluate(() => {
        const w = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('.app *')].filter((e) => {
          const r = e.getBoundingClientRect();
          return r.width > 0 && r.right > w + 1 && !e.closest('pre, .table-wrap, .chips');
        });
        return { w, doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, wide: wide.slice(0, 3).map((e) => e.className || e.tagName) };
      });
      if (o.doc > o.w || o.body > o.w || o.wide.length > 0) throw new Error(`overflow at ${width}px: ${JSON.stringify(o)}`);
      await shot(page, `thread-${width}px`);
      out.push(`${width}px ok`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    return out.join(', ');
  });

  await step(page, 'connection-sheet-resync', async () => {
    const before = (await state()).snapshots;
    await page.locator('[data-testid=status]').click();
    await page.locator('[data-testid=connection-sheet]').waitFor();
    const seq = await page.locator('[data-testid=conn-seq]').innerText();
    if (!/^\d+$/.test(seq)) throw new Error(`last seq ${seq}`);
    await both('connection-sheet');
    await page.locator('[data-testid=resync]').click();
    await waitFor('snapshot after resync', async () => (await state()).snapshots > before, 10_000);
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=connection-sheet]').waitFor({ state: 'detached' });
    return `last seq ${seq}, snapshots ${before} → ${(await state()).snapshots}`;
  });

  await step(page, 'disconnect-reason', async () => {
    await stop(stack.relay, 'SIGKILL', 5000);
    const banner = page.locator('[data-testid=reconnect-banner]');
    await banner.waitFor({ timeout: 20_000 });
    const reason = await banner.getAttribute('data-reason');
    const text = await page.locator('[data-testid=disconnect-reason]').innerText();
    if (!reason || !text || /Reconnecting…$/.test(text)) throw new Error(`reason=${reason} text=${text}`);
    await both('reconnecting');
    return `${reason}: ${text}`;
  });
}

await runMain('e2e-phone', main);
