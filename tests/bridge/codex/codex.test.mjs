// Integration test (ctest bridge_codex): REAL relay-node + REAL desktop-bridge --runtime codex
// driving a REAL Codex CLI (`codex app-server`, @openai/codex pinned in package.json) against a
// mock Responses-API model (mock-model.mjs) and a mock MCP server (mcp-server.mjs) on loopback,
// and a scripted phone (../harness.mjs). Scenario: two workspaces → two projects; streamed reply;
// command approval accepted / declined; permission request and MCP elicitation answered from the
// phone (the answers reach Codex / the MCP server); thread.interrupt; Codex killed mid-turn →
// offline → restart → resumed; a second bridge lists each project's threads, loads history
// (latest page, then thread.load_earlier), resumes, and gives up after too many failures; bad
// --codex-cwd / --codex-dynamic-tools → exit 2; a third bridge registers a dynamic tool
// (--codex-dynamic-tools): the model calls it, the phone answers, the answer reaches the model.
// Usage: node codex.test.mjs [--bridge PATH] [--relay-bin PATH] [--work-dir DIR]
// Exit 0 = pass, 1 = fail, 77 (ctest SKIP) ONLY when the Codex CLI cannot be installed or run.
// RC_CODEX_DEBUG=1 makes the bridge log the JSON-RPC traffic (printed on failure);
// RC_BRIDGE_MOCK_RELAY=1 uses ../mock-relay.mjs instead of relay-node (development only).
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockModel, SHELL_TRIGGER, SHELL_MARKER, PERMISSION_TRIGGER, MCP_TRIGGER, SLOW_TRIGGER, DYNAMIC_TRIGGER, DYNAMIC_TOOL } from './mock-model.mjs';
import { createHarness, step, results, childPids, waitFor, sleep, userTexts, assistantTexts, systemTexts, idleOn, MOCK_RELAY } from '../harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const BRIDGE = path.resolve(argOf('--bridge', process.env.BRIDGE_BIN || path.join(here, '../../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', process.env.RELAY_BIN || path.join(here, '../../../build/bin/relay-node')));
const HARD_LIMIT_MS = 420000;

// Work dir: not under /tmp when the build tree is available (codex refuses to create its PATH
// helper aliases under a temporary dir; harmless, but keep the run close to a real install).
const baseDir = argOf('--work-dir', null);
if (baseDir) fs.mkdirSync(baseDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(baseDir || os.tmpdir(), 'rc-bridge-codex-'));
let keepTmp = false;
let H = null;  // createHarness(...), once `ws` is installed
const extraPids = new Set();  // codex app-server PIDs (children of the bridge), killed by PID on exit
process.on('exit', () => {
  H?.killAll();
  for (const pid of extraPids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (!keepTmp) fs.rmSync(tmp, { recursive: true, force: true });
});
const hardStop = setTimeout(() => { console.log(`FAIL: hard time limit ${HARD_LIMIT_MS} ms`); process.exit(1); }, HARD_LIMIT_MS);
hardStop.unref();

function skip(msg) { console.log(`SKIP: ${msg}`); process.exit(77); }

// ---- Codex CLI: install (pinned) if needed, then check that it runs -----------------------------
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const CODEX_PIN = pkg.dependencies['@openai/codex'];
const codexBin = path.join(here, 'node_modules', '.bin', 'codex');
function installedVersion() {
  try { return JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@openai/codex/package.json'), 'utf8')).version; } catch { return null; }
}
if (installedVersion() !== CODEX_PIN || !fs.existsSync(path.join(here, 'node_modules/ws'))) {
  console.log(`installing @openai/codex@${CODEX_PIN} (npm install in ${here}) ...`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: here, encoding: 'utf8', timeout: 600000 });
  if (r.error || r.status !== 0) skip(`cannot install the Codex CLI (npm install @openai/codex@${CODEX_PIN}): ${r.error || (r.stderr || '').slice(-800)}`);
}
{
  const r = spawnSync(codexBin, ['--version'], { encoding: 'utf8', timeout: 60000 });
  if (r.error || r.status !== 0) skip(`the Codex CLI does not run (${codexBin} --version): ${r.error || (r.stderr || '').slice(-800)}`);
  console.log(`using ${r.stdout.trim()} (${codexBin})`);
}
const { default: WebSocket } = await import('ws');
if (!fs.existsSync(BRIDGE)) { console.log(`FAIL: desktop-bridge not found at ${BRIDGE}`); process.exit(1); }
if (!MOCK_RELAY && !fs.existsSync(RELAY_BIN)) { console.log(`FAIL: relay-node not found at ${RELAY_BIN}`); process.exit(1); }
H = createHarness({ relayBin: RELAY_BIN, bridgeBin: BRIDGE, tmp, WebSocket });
const { startRelay, startBridge, pairPhone } = H;

function writeConfig(codexHome, port, mcpLog) {
  fs.writeFileSync(path.join(codexHome, 'config.toml'), [
    'model = "gpt-5.5"',
    'model_provider = "mock"',
    'approval_policy = "on-request"',
    'sandbox_mode = "workspace-write"',
    '',
    '[model_providers.mock]',
    'name = "Mock"',
    `base_url = "http://127.0.0.1:${port}/v1"`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
    '[features]',
    'plugins = false',
    'unbounded_connection_retries = false',
    'request_permissions_tool = true',  // the model may call request_permissions (→ the phone)
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[mcp_servers.rcmock]',  // one MCP tool that elicits input (→ the phone)
    `command = ${JSON.stringify(process.execPath)}`,
    `args = [${JSON.stringify(path.join(here, 'mcp-server.mjs'))}]`,
    `env = { RC_MCP_LOG = ${JSON.stringify(mcpLog)} }`,
    '',
  ].join('\n'));
}

const snapshotNow = async (phone) => {
  const from = phone.mark();
  phone.requestSnapshot();
  return (await phone.snapshotWhere(() => true, from)).payload.payload;
};
const send = async (phone, commandID, threadID, text) => {
  const from = phone.mark();
  phone.command({ name: 'thread.send_message', commandID, threadID, text });
  const ack = await phone.ack(commandID, from);
  assert.equal(ack.payload.payload.status, 'accepted', JSON.stringify(ack.payload.payload));
  return from;
};
const respond = async (phone, commandID, threadID, req, response) => {
  const from = phone.mark();
  phone.command({ name: 'runtime_request.respond', commandID, threadID, runtimeRequestID: req.requestID, runtimeRequestKind: req.kind, runtimeRequestResponse: response });
  const ack = await phone.ack(commandID, from);
  assert.equal(ack.payload.payload.status, 'accepted', JSON.stringify(ack.payload.payload));
  return from;
};
const pendingOf = async (phone, from, kind) =>
  (await phone.snapshotWhere((s) => s.pendingRuntimeRequests.some((r) => r.kind === kind), from, 60000, `pending ${kind}`)).payload.payload.pendingRuntimeRequests.find((r) => r.kind === kind);
const codexPids = (bridge) => { const p = childPids(bridge.proc.pid); for (const x of p) extraPids.add(x); return p; };

async function main() {
  const model = await startMockModel();
  const codexHome = path.join(tmp, 'codex-home');
  const wsA = path.join(tmp, 'alpha');
  const wsB = path.join(tmp, 'beta');
  const mcpLog = path.join(tmp, 'mcp.log');
  for (const d of [codexHome, wsA, wsB]) fs.mkdirSync(d, { recursive: true });
  writeConfig(codexHome, model.port, mcpLog);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || tmp, CODEX_HOME: codexHome, LANG: 'C.UTF-8' };
  if (process.env.RC_CODEX_DEBUG === '1') env.RC_CODEX_DEBUG = '1';
  const codexArgs = ['--', codexBin, '--codex-cwd', wsA, '--codex-cwd', wsB];

  const relay = await startRelay();
  let bridge = startBridge(relay, ['--runtime', 'codex', '--auto-approve', '--approvals', ...codexArgs], env);
  let phone; let tid; let firstThread; let projA; let projB; let threadB;

  await step('codex runtime comes online for two workspaces (initialize + thread/list each)', async () => {
    const st = await bridge.wait('runtime_status', (e) => e.connected === true, 0, 90000);
    assert.match(st.detail, /codex app-server ready/);
    assert.ok(st.detail.includes(wsA) && st.detail.includes(wsB), st.detail);
    assert.ok(codexPids(bridge).length >= 1, 'codex app-server child running');
  });

  await step('phone pairs: two projects, a draft in each, capabilities advertised', async () => {
    phone = await pairPhone(relay, bridge, 'Codex Phone');
    const s = await snapshotNow(phone);
    assert.deepEqual(s.projects.map((p) => p.name), ['alpha (codex)', 'beta (codex)']);
    [projA, projB] = s.projects.map((p) => p.id);
    assert.equal(s.selectedProjectID, projA);
    tid = s.selectedThreadID;
    const sel = s.threads.find((t) => t.id === tid);
    assert.equal(sel.title, 'New conversation');
    assert.equal(sel.projectID, projA);
    assert.ok(s.threads.some((t) => t.projectID === projB && t.title === 'New conversation'), 'a draft in the second workspace');
    assert.deepEqual(s.capabilities, { interrupt: true, loadEarlier: true });
  });

  await step('thread.send_message → streamed codex reply reaches the phone, turn completes', async () => {
    const from = await send(phone, 'cmd-codex-1', tid, 'hello codex');
    const snap = await phone.snapshotWhere((s) => assistantTexts(s, tid).includes('Mock reply: hello codex') && idleOn(s, tid), from, 60000, 'codex reply + idle');
    const s = snap.payload.payload;
    assert.deepEqual(userTexts(s, tid), ['hello codex']);
    assert.equal(s.threads.find((t) => t.id === tid).title, 'hello codex', 'thread titled after the first message');
    assert.ok(s.threads.some((t) => t.title === 'New conversation' && t.id !== tid && t.projectID === projA), 'a fresh draft appears');
    const evs = phone.msgs.slice(from).filter((m) => m.payload?.type === 'event').map((m) => m.payload.payload);
    assert.ok(evs.some((e) => e.name === 'turn.status.update' && e.threadID === tid && e.body === 'running'), 'running event');
    assert.equal(evs.filter((e) => e.name === 'turn.status.update' && e.threadID === tid).at(-1).body, 'idle');
    assert.ok(evs.some((e) => e.name === 'thread.message.append' && e.role === 'assistant' && e.threadID === tid), 'assistant append event');
    firstThread = tid;
  });

  await step('approval: codex asks to run a command, the phone approves, output reaches the model', async () => {
    const from = await send(phone, 'cmd-codex-2', tid, `please ${SHELL_TRIGGER}`);
    const req = await pendingOf(phone, from, 'approval');
    assert.equal(req.threadID, tid);
    assert.match(req.requestID, /^\d+$/);
    assert.match(req.summary, new RegExp(SHELL_MARKER));
    assert.deepEqual(req.responseOptions.map((o) => o.id), ['approve_once', 'approve_for_session', 'decline', 'cancel']);
    const from2 = await respond(phone, 'cmd-codex-approve', tid, req, { decision: 'accept', optionID: 'accept' });
    const done = await phone.snapshotWhere((s) => assistantTexts(s, tid).some((t) => t.includes(`Output was: ${SHELL_MARKER}`)) && idleOn(s, tid) && s.pendingRuntimeRequests.length === 0, from2, 60000, 'reply after approval + idle');
    const sys = systemTexts(done.payload.payload, tid);
    assert.ok(sys.some((t) => t.includes(`echo ${SHELL_MARKER}`) && t.includes('exit 0')), `command action card: ${JSON.stringify(sys)}`);
  });

  await step('decline on a new draft thread: the command does not run, the turn still completes', async () => {
    const s0 = await snapshotNow(phone);
    const draft = s0.threads.find((t) => t.title === 'New conversation' && t.projectID === projA).id;
    const from = await send(phone, 'cmd-codex-3', draft, `now ${SHELL_TRIGGER} again`);
    const req = await pendingOf(phone, from, 'approval');
    const from2 = await respond(phone, 'cmd-codex-decline', draft, req, { decision: 'decline', optionID: 'decline' });
    const done = await phone.snapshotWhere((s) => assistantTexts(s, draft).some((t) => t.includes('Output was: missing')) && idleOn(s, draft), from2, 60000, 'reply after decline + idle');
    assert.ok(systemTexts(done.payload.payload, draft).some((t) => t.includes('declined')), 'declined action card');
  });

  await step('permission request (request_permissions) reaches the phone; the grant reaches codex', async () => {
    const from = await send(phone, 'cmd-codex-perm', firstThread, `please ${PERMISSION_TRIGGER}`);
    const req = await pendingOf(phone, from, 'permissionsApproval');
    assert.equal(req.threadID, firstThread);
    assert.deepEqual(req.permissions, ['network']);
    assert.equal(req.scopeHint, 'turn');
    assert.match(req.summary, /network access/);
    assert.deepEqual(req.responseOptions.map((o) => o.id), ['grant', 'grant_for_session', 'decline']);
    // The PWA's shape for an affirmative option (APP_SCHEMA §5.1).
    const from2 = await respond(phone, 'cmd-codex-grant', firstThread, req, { optionID: 'grant_for_session', approved: true, permissions: ['network'], scope: 'turn' });
    await phone.snapshotWhere((s) => assistantTexts(s, firstThread).includes('Granted: network=true scope=session') && idleOn(s, firstThread), from2, 60000, 'reply after the grant');
  });

  await step('MCP elicitation (an MCP tool asks for input) reaches the phone; the answer reaches the MCP server', async () => {
    const from = await send(phone, 'cmd-codex-mcp', firstThread, `please ${MCP_TRIGGER}`);
    const req = await pendingOf(phone, from, 'mcpElicitation');
    assert.equal(req.threadID, firstThread);
    assert.equal(req.serverName, 'rcmock');
    assert.match(req.summary, /What is your name\?.*Name/);
    const from2 = await respond(phone, 'cmd-codex-elicit', firstThread, req, { optionID: 'accept', text: 'Ada' });
    const done = await phone.snapshotWhere((s) => assistantTexts(s, firstThread).includes('MCP said: name=Ada') && idleOn(s, firstThread), from2, 60000, 'reply after the elicitation');
    assert.ok(systemTexts(done.payload.payload, firstThread).some((t) => t.startsWith('MCP tool: rcmock/ask_name (completed)')), 'MCP tool card');
    const log = fs.readFileSync(mcpLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(log.some((m) => m.id === 'elicit-1' && m.result?.action === 'accept' && m.result?.content?.name === 'Ada'), 'the MCP server got the answer');
  });

  await step('second workspace: its draft becomes a codex thread of the second project', async () => {
    const s0 = await snapshotNow(phone);
    threadB = s0.threads.find((t) => t.title === 'New conversation' && t.projectID === projB).id;
    const from = await send(phone, 'cmd-codex-b', threadB, 'hello from beta');
    const s = (await phone.snapshotWhere((x) => assistantTexts(x, threadB).includes('Mock reply: hello from beta') && idleOn(x, threadB), from, 60000, 'reply in beta')).payload.payload;
    assert.equal(s.threads.find((t) => t.id === threadB).projectID, projB);
  });

  await step('thread.interrupt from the phone stops a running turn', async () => {
    const aborted = model.aborted;
    const from = await send(phone, 'cmd-codex-slow', firstThread, `please ${SLOW_TRIGGER}`);
    await phone.snapshotWhere((s) => assistantTexts(s, firstThread).some((t) => t.startsWith('slow0')), from, 60000, 'slow reply streaming');
    const t0 = Date.now();
    const f2 = phone.mark();
    phone.command({ name: 'thread.interrupt', commandID: 'cmd-codex-stop', threadID: firstThread });
    assert.equal((await phone.ack('cmd-codex-stop', f2)).payload.payload.status, 'accepted');
    const done = (await phone.snapshotWhere((s) => idleOn(s, firstThread) && systemTexts(s, firstThread).includes('Turn interrupted.'), f2, 15000, 'interrupted + idle')).payload.payload;
    console.log(`     interrupt → idle in ${Date.now() - t0} ms`);
    assert.ok(!assistantTexts(done, firstThread).some((t) => t.includes('slow299')), 'the reply did not finish');
    await waitFor(() => model.aborted > aborted, 'the model stream was closed by codex', 5000);
  });

  await step('codex killed mid-turn → offline with the reason → restarted → thread resumed → next message works', async () => {
    const from = await send(phone, 'cmd-codex-slow2', firstThread, `again ${SLOW_TRIGGER}`);
    await phone.snapshotWhere((s) => assistantTexts(s, firstThread).some((t) => t.startsWith('slow0')) && s.turnState?.isTurnInProgress, from, 60000, 'slow reply streaming');
    const pids = codexPids(bridge);
    const bm = bridge.mark();
    for (const p of pids) process.kill(p, 'SIGKILL');
    const off = await bridge.wait('runtime_status', (e) => e.connected === false, bm, 15000);
    assert.match(off.detail, /codex app-server exited \(killed by signal 9\).*restarting it in 1 s/);
    const on = await bridge.wait('runtime_status', (e) => e.connected === true, bm, 90000);
    assert.match(on.detail, /\(restarted\)/);
    const s = (await phone.snapshotWhere((x) => systemTexts(x, firstThread).some((t) => t.startsWith('Codex restarted; this thread was resumed')), from, 30000, 'resumed note')).payload.payload;
    assert.ok(systemTexts(s, firstThread).some((t) => t.startsWith('Codex stopped: codex app-server exited (killed by signal 9)')), JSON.stringify(systemTexts(s, firstThread)));
    assert.ok(idleOn(s, firstThread));
    const f2 = await send(phone, 'cmd-codex-after', firstThread, 'after the restart');
    await phone.snapshotWhere((x) => assistantTexts(x, firstThread).includes('Mock reply: after the restart') && idleOn(x, firstThread), f2, 60000, 'reply after the restart');
    const d = (await snapshotNow(phone)).threads.find((t) => t.title === 'New conversation' && t.projectID === projA).id;
    const f3 = await send(phone, 'cmd-codex-draft', d, 'draft after restart');
    await phone.snapshotWhere((x) => assistantTexts(x, d).includes('Mock reply: draft after restart'), f3, 60000, 'a draft of the old process works');
    bridge.send('quit');
    assert.equal(await Promise.race([bridge.exited, sleep(15000).then(() => 'timeout')]), 0);
    phone.close();
  });

  bridge = startBridge(relay, ['--runtime', 'codex', '--auto-approve', ...codexArgs, '--codex-history-turns', '2', '--codex-restart-max', '1', '--codex-debug'], env);
  await step('restarted bridge: each project lists its own codex threads (same IDs)', async () => {
    await bridge.wait('runtime_status', (e) => e.connected === true, 0, 90000);
    codexPids(bridge);
    phone = await pairPhone(relay, bridge, 'Codex Phone 2');
    const s = await snapshotNow(phone);
    assert.equal(s.threads.find((x) => x.id === firstThread)?.projectID, projA, JSON.stringify(s.threads));
    assert.equal(s.threads.find((x) => x.id === threadB)?.projectID, projB, JSON.stringify(s.threads));
    assert.equal(s.threads.find((x) => x.id === firstThread).title, 'hello codex');
    // No dynamic tools given: the experimental API stays off and thread/start carries none.
    const sent = bridge.stderr().split('\n').filter((l) => l.startsWith('codex <- '));
    assert.ok(sent.some((l) => l.includes('"method":"initialize"') && l.includes('"experimentalApi":false')), 'initialize without the experimental API');
    assert.ok(sent.some((l) => l.includes('"method":"thread/start"')) && !sent.some((l) => l.includes('dynamicTools')), 'thread/start without dynamicTools');
  });

  await step('opening a thread loads its latest turns; thread.load_earlier pages back to the first turn', async () => {
    let from = phone.mark();
    phone.command({ name: 'thread.select', commandID: 'cmd-codex-open', threadID: firstThread });
    assert.equal((await phone.ack('cmd-codex-open', from)).payload.payload.status, 'accepted');
    let s = (await phone.snapshotWhere((x) => userTexts(x, firstThread).includes('after the restart'), from, 30000, 'latest history')).payload.payload;
    assert.ok(assistantTexts(s, firstThread).includes('Mock reply: after the restart'));
    assert.ok(!userTexts(s, firstThread).includes('hello codex'), 'only the latest page at first');
    for (let i = 0; i < 6 && !userTexts(s, firstThread).includes('hello codex'); i++) {
      from = phone.mark();
      phone.command({ name: 'thread.load_earlier', commandID: `cmd-codex-earlier-${i}`, threadID: firstThread });
      assert.equal((await phone.ack(`cmd-codex-earlier-${i}`, from)).payload.payload.status, 'accepted');
      const n = s.messages.filter((m) => m.threadID === firstThread).length;
      s = (await phone.snapshotWhere((x) => x.messages.filter((m) => m.threadID === firstThread).length > n, from, 30000, 'an earlier page')).payload.payload;
    }
    const users = userTexts(s, firstThread);
    assert.ok(users.indexOf('hello codex') === 0, `first turn first: ${JSON.stringify(users)}`);
    assert.ok(users.indexOf('hello codex') < users.indexOf('after the restart'));
    assert.ok(assistantTexts(s, firstThread).includes('Mock reply: hello codex'));
    assert.ok(systemTexts(s, firstThread).some((t) => t.includes(`echo ${SHELL_MARKER}`)), 'action cards in the history');
  });

  await step('a listed thread resumes (thread/resume) and carries on', async () => {
    const from = await send(phone, 'cmd-codex-resume', firstThread, 'welcome back');
    await phone.snapshotWhere((x) => assistantTexts(x, firstThread).includes('Mock reply: welcome back') && idleOn(x, firstThread), from, 60000, 'resumed reply');
    assert.ok(model.requests.at(-1).userText.includes('welcome back'));
  });

  await step('too many failures in the window → stays offline and tells the phone why', async () => {
    let bm = bridge.mark();
    for (const p of codexPids(bridge)) process.kill(p, 'SIGKILL');
    await bridge.wait('runtime_status', (e) => e.connected === false && /restarting it in 1 s/.test(e.detail), bm, 15000);
    await bridge.wait('runtime_status', (e) => e.connected === true, bm, 90000);
    bm = bridge.mark();
    const pids = codexPids(bridge);
    for (const p of pids) process.kill(p, 'SIGKILL');
    const off = await bridge.wait('runtime_status', (e) => e.connected === false, bm, 15000);
    assert.match(off.detail, /gave up after 2 failures within 300 s/);
    await sleep(2500);
    assert.ok(!bridge.events.slice(bm).some((e) => e.event === 'runtime_status' && e.connected), 'no further restart');
    await phone.snapshotWhere((x) => systemTexts(x, firstThread).some((t) => /^Codex is offline: .*gave up/.test(t)) && x.capabilities.interrupt === false, 0, 15000, 'offline note, no interrupt');
    assert.deepEqual(childPids(bridge.proc.pid), [], 'no codex child while given up');
    const pf = phone.mark();
    phone.command({ name: 'thread.send_message', commandID: 'cmd-codex-offline', threadID: firstThread, text: 'are you there?' });
    const ack = await phone.ack('cmd-codex-offline', pf);
    assert.equal(ack.payload.payload.status, 'rejected');
    assert.equal(ack.payload.payload.reason, 'desktop_offline');
    bridge.send('stop');
    assert.equal(await Promise.race([bridge.exited, sleep(15000).then(() => 'timeout')]), 0);
    phone.close();
  });

  // Configuration errors: the bridge exits 2 at once and names the problem.
  const toolsFile = path.join(tmp, 'tools.json');
  const badConfig = async (args, message) => {
    const b = startBridge(relay, ['--runtime', 'codex', '--auto-approve', '--', codexBin, ...args], env);
    assert.equal(await Promise.race([b.exited, sleep(30000).then(() => 'timeout')]), 2);
    await waitFor(() => b.stderr().includes(message), `stderr: ${message}`, 5000).catch(() => assert.fail(`stderr lacks "${message}": ${b.stderr()}`));
    assert.ok(!b.events.some((e) => e.event === 'session_started'), 'no session started');
  };
  await step('bad --codex-cwd or --codex-dynamic-tools file → configuration error, exit 2', async () => {
    await badConfig(['--codex-cwd', wsA, '--codex-cwd', path.join(tmp, 'missing')], `desktop-bridge: codex: --codex-cwd ${path.join(tmp, 'missing')}: No such file or directory`);
    fs.writeFileSync(toolsFile, JSON.stringify([{ name: 'has space', description: 'x', inputSchema: { type: 'object' } }]));
    await badConfig(['--codex-dynamic-tools', toolsFile], `desktop-bridge: codex: --codex-dynamic-tools ${toolsFile}: tool 0: name must be 1-64 characters`);
    fs.writeFileSync(toolsFile, '{"name": "not an array"}');
    await badConfig(['--codex-dynamic-tools', toolsFile], `--codex-dynamic-tools ${toolsFile}: must be a JSON array of tool specs`);
  });

  const PHONE_ANSWER = 'The launch code is 4242 (typed on the phone)';
  fs.writeFileSync(toolsFile, JSON.stringify([{
    name: DYNAMIC_TOOL, description: 'Ask the person holding the phone a question and return their answer.',
    inputSchema: { type: 'object', properties: { question: { type: 'string' } }, required: ['question'], additionalProperties: false },
  }]));
  bridge = startBridge(relay, ['--runtime', 'codex', '--auto-approve', '--approvals', ...codexArgs, '--codex-dynamic-tools', toolsFile, '--codex-debug'], env);
  await step('dynamic tool (--codex-dynamic-tools): the model calls it, the phone answers, the answer reaches the model', async () => {
    await bridge.wait('runtime_status', (e) => e.connected === true, 0, 90000);
    codexPids(bridge);
    const sent = bridge.stderr().split('\n').filter((l) => l.startsWith('codex <- '));
    assert.ok(sent.some((l) => l.includes('"method":"initialize"') && l.includes('"experimentalApi":true')), 'initialize with the experimental API');
    assert.ok(sent.some((l) => l.includes('"method":"thread/start"') && l.includes(`"dynamicTools":[{"description":`) && l.includes(`"name":"${DYNAMIC_TOOL}"`)), 'thread/start carries dynamicTools');
    phone = await pairPhone(relay, bridge, 'Codex Phone 3');
    const s0 = await snapshotNow(phone);
    const draft = s0.threads.find((t) => t.title === 'New conversation' && t.projectID === projA).id;
    const n = model.requests.length;
    const from = await send(phone, 'cmd-codex-dyn', draft, `please ${DYNAMIC_TRIGGER}`);
    const req = await pendingOf(phone, from, 'dynamicToolCall');
    assert.equal(req.threadID, draft);
    assert.equal(req.toolName, DYNAMIC_TOOL);
    assert.match(req.summary, /What is the launch code\?/);
    assert.deepEqual(req.responseOptions.map((o) => o.id), ['approve', 'decline']);
    assert.ok(model.requests.slice(n).some((r) => r.tools.includes(DYNAMIC_TOOL)), `the model was offered the tool: ${JSON.stringify(model.requests.slice(n).map((r) => r.tools))}`);
    const from2 = await respond(phone, 'cmd-codex-dyn-answer', draft, req, { optionID: 'approve', approved: true, text: PHONE_ANSWER });
    await phone.snapshotWhere((s) => assistantTexts(s, draft).some((t) => t.startsWith('Phone tool said: ') && t.includes(PHONE_ANSWER)) && idleOn(s, draft) && s.pendingRuntimeRequests.length === 0, from2, 60000, 'reply after the dynamic tool');
    const got = model.requests.slice(n).find((r) => r.lastType === 'function_call_output');
    assert.ok(got && got.output.includes(PHONE_ANSWER), `function_call_output with the phone's text: ${JSON.stringify(got)}`);
    bridge.send('quit');
    assert.equal(await Promise.race([bridge.exited, sleep(15000).then(() => 'timeout')]), 0);
    phone.close();
  });

  await relay.stop();
  await model.close();
}

main().then(() => { console.log(`PASS ${results.length} steps`); process.exit(0); })
  .catch((e) => {
    if (!results.length || results.at(-1)[1] !== 'FAIL') console.log(`FAIL: ${e.stack || e}`);
    H.dump();
    console.log('FAILED');
    keepTmp = process.env.RC_KEEP_TMP === '1';
    process.exit(1);
  });
