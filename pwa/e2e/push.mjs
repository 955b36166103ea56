#!/usr/bin/env node
// Web push end-to-end checks (issue 14) in Debian Chromium (phone viewport) against the REAL relay
// and desktop bridge (demo runtime), after e2e.mjs built dist/ (npm run e2e). Artifacts in
// test-artifacts/push/.
//   • the permission is never requested on load; the Notifications section subscribes with the
//     desktop's VAPID key through a stubbed PushManager (no push service offline) and sends
//     push.subscribe / kind toggles / renewal / push.unsubscribe inside the E2EE channel only
//   • the REAL service worker gets pushes through the DevTools protocol
//     (ServiceWorker.deliverPushMessage), shows them (registration.getNotifications), collapses
//     one thread+kind into one notification, shows a generic one for a malformed payload
//   • a notification click routes the open app to #/t/<threadID>
// Desktop side: when the bridge advertises capabilities.push the real push.state and acks are
// asserted; until then (bridge without push) the desktop's push.state is simulated in the page and
// the commands are asserted where they enter the E2EE channel, plus the bridge's log of receiving one.
import { createECDH, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ART, launchBrowser, pairThroughBridge, requireBinaries, runMain, setArtifacts, startStack, step, tmpDirs, waitFor } from './harness.mjs';

requireBinaries('e2e-push');
setArtifacts(join(ART, 'push'));

const b64u = (b) => Buffer.from(b).toString('base64url');
const ecdhPoint = () => {
  const e = createECDH('prime256v1');
  e.generateKeys();
  return b64u(e.getPublicKey()); // 65 bytes, 0x04 prefix
};

/** Installed before any page script: a PushManager stub (the browser cannot reach a push service offline), a permission-prompt counter, a capture of the E2EE plaintexts. */
function pageStubs({ p256dh, auth }) {
  const w = window;
  w.__pushStub = { subscribeKeys: [], unsubscribed: [], current: null, n: 0, prompts: 0 };
  const st = w.__pushStub;
  const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const make = (endpoint, key) => {
    const sub = {
      endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: key },
      toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
      unsubscribe: async () => {
        st.unsubscribed.push(endpoint);
        if (st.current === sub) st.current = null;
        return true;
      },
    };
    return sub;
  };
  st.make = make;
  if (w.PushManager) {
    w.PushManager.prototype.subscribe = async function (o) {
      const key = new Uint8Array(o.applicationServerKey).buffer.slice(0);
      st.subscribeKeys.push(b64u(key));
      st.current = make(`https://push.invalid/e2e/${++st.n}`, key);
      return st.current;
    };
    w.PushManager.prototype.getSubscription = async function () {
      return st.current;
    };
    w.PushManager.prototype.permissionState = async () => 'granted';
  }
  if (w.Notification) {
    const orig = w.Notification.requestPermission.bind(w.Notification);
    w.Notification.requestPermission = (...a) => {
      st.prompts++;
      return orig(...a);
    };
  }
}

async function main() {
  rmSync(ART, { recursive: true, force: true });
  mkdirSync(ART, { recursive: true });
  const stateDir = mkdtempSync(join(tmpdir(), 'rc-e2e-push-'));
  tmpDirs.push(stateDir);
  const stack = await startStack({
    stateDir,
    build: process.env.E2E_SKIP_BUILD !== '1' && !process.argv.includes('--no-build'),
    bridgeArgTemplate: '--json --runtime demo --relay {relayWs} --join-url {pwaBase} --state-file {stateDir}/bridge-session.json --approvals --demo-delay-ms 80',
  });
  const { bridgeOut, bridgeCmd, joinURL, pwaBase } = stack;
  const origin = pwaBase.replace(/\/$/, '');
  const { page } = await launchBrowser();
  const context = page.context();
  await context.grantPermissions(['notifications'], { origin });
  const keys = { p256dh: ecdhPoint(), auth: b64u(randomBytes(16)) };
  await context.addInitScript(pageStubs, keys);
  const wire = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => wire.push(String(f.payload)));
    ws.on('framereceived', (f) => wire.push(String(f.payload)));
  });
  const ev = (fn, arg) => page.evaluate(fn, arg);
  /** push.* commands as they entered the E2EE channel (plaintext, before encryption) */
  const pushCommands = () => ev(() => window.__e2eSent.map((t) => JSON.parse(t).payload?.payload).filter((c) => c && String(c.name).startsWith('push.')));
  let simulated = false;

  await step(page, 'pair-e2ee', async () => {
    await page.goto(joinURL, { waitUntil: 'load' });
    // Record the E2EE channel from the start: a push-capable desktop makes the phone send its
    // connect-time push.visibility as soon as the first snapshot arrives, during pairing.
    await waitFor('the app client', () => ev(() => !!window.__remote?.e2ee), 10_000);
    await ev(() => {
      const c = window.__remote;
      window.__e2eSent = [];
      window.__e2eRecv = [];
      const send = c.e2ee.send.bind(c.e2ee);
      c.e2ee.send = (t) => (window.__e2eSent.push(t), send(t));
      const handle = c.handleEnvelope.bind(c);
      c.handleEnvelope = (env) => (window.__e2eRecv.push(env), handle(env));
    });
    await pairThroughBridge(page, bridgeOut, bridgeCmd);
    await page.locator('[data-testid=thread-row]').first().waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=e2ee-badge][data-e2ee=verified]').waitFor({ timeout: 20_000 });
    const prompts = await ev(() => window.__pushStub.prompts);
    const perm = await ev(() => Notification.permission);
    if (prompts !== 0) throw new Error(`notification permission requested ${prompts}× on load`);
    return `paired, E2EE verified; permission ${perm} (test context), prompts on load: 0`;
  });

  await step(page, 'service-worker-active', async () => {
    const scope = await waitFor('active service worker', () => ev(() => navigator.serviceWorker.getRegistration().then((r) => (r?.active ? r.scope : null))), 20_000);
    return scope;
  });

  let vapid = '';
  await step(page, 'desktop-push-state', async () => {
    const caps = await ev(() => window.__remote.state.data.capabilities);
    if (caps.push === true) {
      const st = await waitFor('push.state from the desktop', () => ev(() => window.__remote.state.push), 15_000);
      vapid = st.vapidPublicKey;
      return `real desktop: push advertised, VAPID key ${vapid.slice(0, 12)}…, subscribed=${st.subscribed}`;
    }
    // The bridge does not speak push yet: stand in for its push.state (see the header).
    simulated = true;
    vapid = ecdhPoint();
    await ev((k) => {
      const c = window.__remote;
      c.set({ data: { ...c.state.data, capabilities: { ...c.state.data.capabilities, push: true } }, push: { vapidPublicKey: k, subscribed: false, kinds: { approval: true, turn: true, pairing: false }, generic: false } });
    }, vapid);
    return 'SIMULATED push.state (this bridge does not advertise capabilities.push)';
  });

  await step(page, 'visibility-on-connect', async () => {
    const vis = await waitFor('push.visibility sent', async () => (await pushCommands()).find((c) => c.name === 'push.visibility'), 10_000);
    if (vis.visible !== true) throw new Error(`visibility ${JSON.stringify(vis)}`);
    await ev(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
      delete document.visibilityState;
    });
    const all = (await pushCommands()).filter((c) => c.name === 'push.visibility').map((c) => c.visible);
    if (all.at(-1) !== false) throw new Error(`visibility changes ${JSON.stringify(all)}`);
    return `push.visibility ${JSON.stringify(all)}`;
  });

  let endpoint = '';
  await step(page, 'enable-subscribe', async () => {
    await page.locator('[data-testid=status]').click();
    const section = page.locator('[data-testid=push-settings]');
    await section.waitFor();
    if ((await section.getAttribute('data-state')) !== 'off') throw new Error(`settings state ${await section.getAttribute('data-state')}: ${await section.innerText()}`);
    const bridgeSeen = bridgeOut.length;
    await page.locator('[data-testid=push-enable]').click();
    const sub = await waitFor('push.subscribe entering the E2EE channel', async () => (await pushCommands()).find((c) => c.name === 'push.subscribe'), 10_000);
    const stub = await ev(() => ({ keys: window.__pushStub.subscribeKeys, endpoint: window.__pushStub.current?.endpoint }));
    if (stub.keys.length !== 1 || stub.keys[0] !== vapid) throw new Error(`applicationServerKey ${JSON.stringify(stub.keys)} != VAPID ${vapid}`);
    endpoint = stub.endpoint;
    const want = { endpoint, p256dh: keys.p256dh, auth: keys.auth };
    if (JSON.stringify(sub.subscription) !== JSON.stringify(want)) throw new Error(`subscription ${JSON.stringify(sub.subscription)}`);
    if (JSON.stringify(sub.kinds) !== JSON.stringify({ approval: true, turn: true, pairing: false })) throw new Error(`kinds ${JSON.stringify(sub.kinds)}`);
    let desk;
    if (!simulated) {
      // the desktop decrypted and accepted it, and reports the subscription
      const ack = await waitFor('the desktop’s ack of push.subscribe', () => ev((id) => window.__e2eRecv.find((e) => e.payload?.type === 'command_ack' && e.payload.payload?.commandID === id)?.payload.payload, sub.commandID), 15_000);
      if (ack.status !== 'accepted') throw new Error(`push.subscribe ${JSON.stringify(ack)}`);
      await waitFor('push.state subscribed=true', () => ev(() => window.__remote.state.push?.subscribed === true), 10_000);
      desk = `desktop ack ${ack.status}, push.state subscribed`;
    } else {
      // a bridge without push decrypts it and logs it as an unknown command (no ack)
      const seen = await waitFor('the bridge’s command_received for push.subscribe', () => bridgeOut.slice(bridgeSeen).find((l) => l.json?.event === 'command_received')?.json, 15_000);
      desk = `bridge without push logged command_received status=${seen.status}`;
      await ev(() => window.__remote.set({ push: { ...window.__remote.state.push, subscribed: true } }));
    }
    if (wire.some((f) => f.includes('push.invalid') || f.includes(keys.auth))) throw new Error('subscription visible on the relay wire');
    await section.and(page.locator('[data-state=on]')).waitFor();
    return `push.subscribe ${endpoint}; ${desk}; not on the relay wire`;
  });

  await step(page, 'toggle-kind', async () => {
    const n = (await pushCommands()).length;
    await page.locator('[data-testid=push-kind-pairing]').click();
    const sub = await waitFor('push.subscribe with pairing on', async () => (await pushCommands()).slice(n).find((c) => c.name === 'push.subscribe'), 10_000);
    if (!sub.kinds.pairing || sub.subscription.endpoint !== endpoint) throw new Error(JSON.stringify(sub));
    await waitFor('checkbox shows the choice', () => page.locator('[data-testid=push-kind-pairing]').isChecked(), 5_000);
    return `kinds ${JSON.stringify(sub.kinds)}`;
  });

  await step(page, 'renewed-subscription-resent', async () => {
    const n = (await pushCommands()).length;
    // as after pushsubscriptionchange: the browser holds a new endpoint; the SW tells the page
    await ev(() => {
      const st = window.__pushStub;
      st.current = st.make('https://push.invalid/e2e/renewed', st.current.options.applicationServerKey);
    });
    const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    await sw.evaluate(async () => {
      for (const c of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) c.postMessage({ type: 'rc.push.changed', renewed: true });
    });
    const sub = await waitFor('push.subscribe with the renewed endpoint', async () => (await pushCommands()).slice(n).find((c) => c.name === 'push.subscribe'), 10_000);
    if (sub.subscription.endpoint !== 'https://push.invalid/e2e/renewed') throw new Error(JSON.stringify(sub));
    return sub.subscription.endpoint;
  });

  await step(page, 'unsubscribe', async () => {
    const n = (await pushCommands()).length;
    await page.locator('[data-testid=push-disable]').click();
    await waitFor('push.unsubscribe', async () => (await pushCommands()).slice(n).some((c) => c.name === 'push.unsubscribe'), 10_000);
    const gone = await ev(() => window.__pushStub.unsubscribed);
    if (!gone.includes('https://push.invalid/e2e/renewed')) throw new Error(`browser subscription kept: ${JSON.stringify(gone)}`);
    const local = await ev(() => JSON.parse(localStorage.getItem('rc.push.v1')));
    if (local.enabled !== false || local.sent !== null) throw new Error(JSON.stringify(local));
    await page.keyboard.press('Escape');
    return 'push.unsubscribe sent, PushSubscription.unsubscribe() called';
  });

  // ---------------------------------------------------------------- the real service worker
  const cdp = await context.newCDPSession(page);
  const regs = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
    for (const r of e.registrations) if (!r.isDeleted) regs.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const threadID = await ev(() => window.__remote.state.data.threads[0].id);
  const notifications = () =>
    ev(() => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, timestamp: n.timestamp }))));
  const deliver = async (data) => {
    const registrationId = await waitFor('service worker registration id', () => regs.get(pwaBase), 10_000);
    await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data });
  };

  await step(page, 'push-shows-notification', async () => {
    await page.evaluate(() => (location.hash = '#/'));
    const ts = 1_760_000_000_000;
    await deliver(JSON.stringify({ v: 1, kind: 'approval', threadID, title: 'Approval needed', body: 'Run: rm -rf build', ts }));
    const n = await waitFor('approval notification', async () => (await notifications()).find((x) => x.tag === `approval:${threadID}`), 10_000);
    if (n.title !== 'Approval needed' || n.body !== 'Run: rm -rf build' || n.data?.threadID !== threadID || n.timestamp !== ts) throw new Error(JSON.stringify(n));
    await deliver(JSON.stringify({ v: 1, kind: 'approval', threadID, title: 'Approval needed', body: 'Run: make install', ts: ts + 1 }));
    await waitFor('collapsed into the newer one', async () => {
      const same = (await notifications()).filter((x) => x.tag === `approval:${threadID}`);
      return same.length === 1 && same[0].body === 'Run: make install';
    }, 10_000);
    return `shown (tag approval:${threadID}), a second push for the same thread replaced it`;
  });

  await step(page, 'malformed-push-generic', async () => {
    await deliver('{"v":1,"kind":"approval","title":');
    const n = await waitFor('generic notification', async () => (await notifications()).find((x) => x.tag === 'rc-generic'), 10_000);
    if (n.title !== 'Remote Control' || n.data?.threadID !== null) throw new Error(JSON.stringify(n));
    return `"${n.title}: ${n.body}"`;
  });

  await step(page, 'click-opens-thread', async () => {
    const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    // No DevTools command clicks a notification: dispatch notificationclick with the real one.
    await sw.evaluate(async (tag) => {
      const [n] = await self.registration.getNotifications({ tag });
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
    }, `approval:${threadID}`);
    await waitFor('thread route', async () => (await ev(() => location.hash)) === `#/t/${encodeURIComponent(threadID)}`, 10_000);
    await page.locator('[data-testid=thread-view]').waitFor();
    const open = await ev(() => window.__remote.state.data.openThreadID);
    if (open !== threadID) throw new Error(`open thread ${open}`);
    await waitFor('clicked notification closed', async () => !(await notifications()).some((x) => x.tag === `approval:${threadID}`), 10_000);
    return `#/t/${threadID} open, notification closed`;
  });
}

runMain('e2e-push', main);
