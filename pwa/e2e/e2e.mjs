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
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ART, Fatal, launchBrowser, pairThroughBridge, requireBinaries, runMain, shot, sleep, startStack, step, stop, tmpDirs, waitFor } from './harness.mjs';

requireBinaries('e2e');

async function main() {
  if (!process.env.E2E_KEEP_ARTIFACTS) rmSync(ART, { recursive: true, force: true });
  mkdirSync(ART, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-e2e-'));
  tmpDirs.push(stateDir);
  const stack = await startStack({
    stateDir,
    bridgeArgTemplate:
      process.env.E2E_BRIDGE_ARGS || '--json --runtime demo --relay {relayWs} --join-url {pwaBase} --state-file {stateDir}/bridge-session.json --approvals --demo-delay-ms 80',
  });
  const { bridge, bridgeOut, bridgeCmd, joinURL, startRelay } = stack;
  let relay = stack.relay;
  const { page, state, statusText } = await launchBrowser();
  const assistantTexts = () => page.locator('[data-testid=message][data-role=assistant] .bubble').allInnerTexts();
  const messageCount = () => page.locator('[data-testid=message]').count();
  // E2EE (docs/E2EE.md): every frame the phone exchanged with the relay, checked at the end.
  const wire = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => wire.push(String(f.payload)));
    ws.on('framereceived', (f) => wire.push(String(f.payload)));
  });

  await step(page, 'open-join-link', async () => {
    await page.goto(joinURL, { waitUntil: 'load' });
    await page.locator('[data-testid=pair-button]').waitFor();
    const url = page.url();
    if (url.includes('jt=') || url.includes('#')) throw new Error(`fragment not removed from the address bar: ${url}`);
    return `address bar: ${url}`;
  });

  await step(page, 'waiting-for-approval', async () => {
    const reqID = await pairThroughBridge(page, bridgeOut, bridgeCmd, () => shot(page, 'pair-waiting-shown'));
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

await runMain('e2e', main);
