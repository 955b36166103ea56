// Integration test (ctest bridge_claude): REAL relay-node + REAL desktop-bridge --runtime claude
// driving the REAL Claude Code CLI (@anthropic-ai/claude-code pinned in package.json; stream-json
// on stdio, permission prompts over the stdio control protocol) against a mock Anthropic
// Messages API on loopback (mock-anthropic.mjs) + a scripted phone.
// Usage: node claude.test.mjs [--bridge PATH] [--relay-bin PATH] [--work-dir DIR]
// Exit 0 = pass, 1 = fail, 77 (ctest SKIP) ONLY when the pinned CLI cannot be installed or run.
// RC_CLAUDE_DEBUG=1 makes the bridge log the stream-json traffic (printed on failure);
// RC_BRIDGE_MOCK_RELAY=1 uses ../mock-relay.mjs instead of relay-node (development only).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startMockAnthropic, SHELL_TRIGGER, SHELL_MARKER, SHELL_COMMAND, SHELL_FILE, WRITE_TRIGGER, WRITE_FILE, ELICIT_TRIGGER, ELICIT_TOOL } from './mock-anthropic.mjs';
import { createHarness, waitFor, sleep, childPids, alive, cmdline, byRole, idleOn, runSteps } from '../harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argOf = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const BRIDGE = path.resolve(argOf('--bridge', process.env.BRIDGE_BIN || path.join(here, '../../../build/bin/desktop-bridge')));
const RELAY_BIN = path.resolve(argOf('--relay-bin', process.env.RELAY_BIN || path.join(here, '../../../build/bin/relay-node')));
const HARD_LIMIT_MS = 1000000;
const CLI_MS = 120000;  // one CLI start (node parses a 13 MB cli.js: 10-30 s on a loaded 2-core box)

const baseDir = argOf('--work-dir', null);
if (baseDir) fs.mkdirSync(baseDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(baseDir || os.tmpdir(), 'rc-bridge-claude-'));
const H = createHarness({ relayBin: RELAY_BIN, bridgeBin: BRIDGE, tmp });
const extraPids = new Set();  // CLI processes (children of the bridge), killed by PID on exit
process.on('exit', () => {
  H.killAll();
  for (const pid of extraPids) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  fs.rmSync(tmp, { recursive: true, force: true });
});
setTimeout(() => { console.log(`FAIL: hard time limit ${HARD_LIMIT_MS} ms`); H.dump(); process.exit(1); }, HARD_LIMIT_MS).unref();
function skip(msg) { console.log(`SKIP: ${msg}`); process.exit(77); }

// ---- Claude Code CLI: install (pinned) if needed, then check that it runs ------------------------
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const PIN = pkg.dependencies['@anthropic-ai/claude-code'];
const claudeBin = path.join(here, 'node_modules', '.bin', 'claude');
function installedVersion() {
  try { return JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@anthropic-ai/claude-code/package.json'), 'utf8')).version; } catch { return null; }
}
if (installedVersion() !== PIN || !fs.existsSync(path.join(here, 'node_modules/ws'))) {
  console.log(`installing @anthropic-ai/claude-code@${PIN} (npm ci in ${here}) ...`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, encoding: 'utf8', timeout: 600000 });
  if (r.error || r.status !== 0) skip(`cannot install Claude Code (npm ci, @anthropic-ai/claude-code@${PIN}): ${r.error || (r.stderr || '').slice(-800)}`);
}
{
  const r = spawnSync(claudeBin, ['--version'], { encoding: 'utf8', timeout: 120000 });
  if (r.error || r.status !== 0) skip(`Claude Code does not run (${claudeBin} --version): ${r.error || (r.stderr || '').slice(-800)}`);
  console.log(`using Claude Code ${r.stdout.trim()} (${claudeBin})`);
}
const { default: WebSocket } = await import('ws');
if (!fs.existsSync(BRIDGE)) { console.log(`FAIL: desktop-bridge not found at ${BRIDGE}`); process.exit(1); }
if (!fs.existsSync(RELAY_BIN) && process.env.RC_BRIDGE_MOCK_RELAY !== '1') { console.log(`FAIL: relay-node not found at ${RELAY_BIN}`); process.exit(1); }

// The CLI processes the bridge runs, not the `--version` probe (the CLI renames its process
// title, so /proc/PID/cmdline no longer shows the stream-json flags).
const cliPids = (bridge) => childPids(bridge.proc.pid).filter((p) => !cmdline(p).includes('--version'));
const trackCli = (bridge) => { for (const p of cliPids(bridge)) extraPids.add(p); };

async function main() {
  const model = await startMockAnthropic({ deltaDelayMs: 150 });
  const home = path.join(tmp, 'home');
  const workspace = path.join(tmp, 'workspace');
  const workspace2 = path.join(tmp, 'workspace2');  // a second project
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.mkdirSync(workspace2, { recursive: true });
  const notADir = path.join(tmp, 'not-a-dir');
  fs.writeFileSync(notADir, 'x');
  // Offline: the API goes to the mock; telemetry, error reporting, auto-update and other
  // non-essential traffic are off by Claude Code's documented variables; HOME is private.
  const env = {
    PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8',
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${model.port}`, ANTHROPIC_API_KEY: 'sk-ant-test-dummy',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1', DISABLE_BUG_COMMAND: '1', CLAUDE_CODE_MAX_RETRIES: '0',
  };
  if (process.env.RC_CLAUDE_DEBUG === '1') env.RC_CLAUDE_DEBUG = '1';
  // An MCP server (stdio) whose tool asks the user through an MCP elicitation; the tool itself
  // is pre-allowed so the elicitation is the only prompt.
  const mcpLog = path.join(tmp, 'mcp.log');
  const mcpConfig = path.join(tmp, 'mcp.json');
  fs.writeFileSync(mcpConfig, JSON.stringify({ mcpServers: { rcmock: { type: 'stdio', command: process.execPath, args: [path.join(here, '../codex/mcp-server.mjs')], env: { RC_MCP_LOG: mcpLog } } } }));
  const cliArgs = ['--', claudeBin, '--claude-cwd', workspace, '--claude-cwd', workspace2, '--mcp-config', mcpConfig, '--allowedTools', ELICIT_TOOL];
  const relay = await H.startRelay();
  // A bad workspace is a configuration error: the bridge exits 2 at once, naming the path.
  const badConfig = async (args, extraEnv, message) => {
    const b = H.startBridge(relay, ['--runtime', 'claude', '--auto-approve', '--', claudeBin, ...args], { ...env, ...extraEnv });
    assert.equal(await Promise.race([b.exited, sleep(30000).then(() => 'timeout')]), 2);
    await waitFor(() => b.stderr().includes(message), `stderr: ${message}`, 5000).catch(() => assert.fail(`stderr lacks "${message}": ${b.stderr()}`));
    assert.ok(!b.events.some((e) => e.event === 'session_started'), 'no session started');
  };
  await runSteps([
    ['--claude-cwd that is not a directory → configuration error, exit 2', () =>
      badConfig(['--claude-cwd', workspace, '--claude-cwd', notADir], {}, `desktop-bridge: claude: --claude-cwd ${notADir}: not a directory`)],
    ['RC_CLAUDE_CWD naming a missing directory → configuration error, exit 2', () =>
      badConfig([], { RC_CLAUDE_CWD: `${workspace}:${tmp}/missing` }, `desktop-bridge: claude: --claude-cwd ${tmp}/missing: No such file or directory`)],
  ]);
  let bridge = H.startBridge(relay, ['--runtime', 'claude', '--auto-approve', '--approvals', ...cliArgs], env);
  let phone; let tid; let firstThread; let draft; let projA; let projB; let threadB;
  const newDraft = (s, proj = projA) => s.threads.find((t) => t.title === 'New conversation' && t.projectID === proj).id;
  const mainRequests = () => model.requests.filter((r) => r.hasTools);

  // What a phone sends (the relay admits accept / acceptForSession / decline / cancel); the bridge
  // hands the runtime approve_once / approve_for_session / decline / cancel.
  const WIRE = { approve_once: 'accept', approve_for_session: 'acceptForSession', decline: 'decline', cancel: 'cancel' };
  const approvalStep = async (threadID, text, decision, id) => {
    const from = phone.mark();
    assert.equal((await phone.send(`cmd-${id}`, { name: 'thread.send_message', threadID, text })).status, 'accepted');
    const snap = await phone.snapshotWhere((s) => s.pendingRuntimeRequests.length === 1, from, CLI_MS, `pending approval (${id})`);
    const req = snap.payload.payload.pendingRuntimeRequests[0];
    assert.equal(req.kind, 'approval');
    assert.equal(req.threadID, threadID);
    assert.deepEqual(req.responseOptions.map((o) => o.id), ['approve_once', 'approve_for_session', 'decline', 'cancel']);
    assert.equal(snap.payload.payload.turnState.isAwaitingRuntimeRequest, true);
    const from2 = phone.mark();
    const ack = await phone.send(`cmd-${id}-answer`, { name: 'runtime_request.respond', threadID, runtimeRequestID: req.requestID, runtimeRequestKind: 'approval', runtimeRequestResponse: { decision: WIRE[decision], optionID: WIRE[decision] } });
    assert.equal(ack.status, 'accepted', JSON.stringify(ack));
    const done = await phone.snapshotWhere((s) => byRole(s, threadID, 'assistant').some((t) => t.startsWith('The tool finished.')) && idleOn(s, threadID) && s.pendingRuntimeRequests.length === 0, from2, CLI_MS, `reply after ${decision} + idle`);
    return { req, s: done.payload.payload };
  };

  await runSteps([
    ['claude runtime comes online (CLI probe), no CLI process until a message', async () => {
      const st = await bridge.wait('runtime_status', (e) => e.connected === true, 0, CLI_MS);
      assert.match(st.detail, new RegExp(`Claude Code ${PIN.replace(/\./g, '\\.')} ready in `));
      assert.equal(cliPids(bridge).length, 0);
    }],
    ['phone pairs and sees two projects (the workspaces), a draft thread in each', async () => {
      phone = await H.pairPhone(relay, bridge, 'Claude Phone', WebSocket);
      const s = await phone.snapshot();
      assert.deepEqual(s.projects.map((p) => p.name), ['workspace (claude)', 'workspace2 (claude)']);
      [projA, projB] = s.projects.map((p) => p.id);
      assert.equal(s.selectedProjectID, projA);
      tid = s.selectedThreadID;
      assert.ok(tid && /^[0-9A-F-]{36}$/.test(tid), `draft thread ID is a session UUID: ${tid}`);
      assert.equal(s.threads.find((t) => t.id === tid).title, 'New conversation');
      assert.equal(s.threads.find((t) => t.id === tid).projectID, projA);
      assert.ok(newDraft(s, projB) !== tid, 'a draft in the second workspace');
    }],
    ['thread.send_message → streamed reply (partial text seen first), turn completes', async () => {
      const from = phone.mark();
      assert.equal((await phone.send('cmd-claude-1', { name: 'thread.send_message', threadID: tid, text: 'hello claude' })).status, 'accepted');
      const final = 'Mock reply: hello claude';
      const snap = await phone.snapshotWhere((s) => byRole(s, tid, 'assistant').includes(final) && idleOn(s, tid), from, CLI_MS, 'claude reply + idle');
      const s = snap.payload.payload;
      assert.deepEqual(byRole(s, tid, 'user'), ['hello claude']);
      const partial = phone.snapshots(from).some((x) => byRole(x, tid, 'assistant').some((t) => t.length > 0 && t.length < final.length && final.startsWith(t)));
      assert.ok(partial, 'a snapshot carried a prefix of the reply (text deltas streamed)');
      assert.equal(s.threads.find((t) => t.id === tid).title, 'hello claude');
      assert.ok(s.threads.some((t) => t.title === 'New conversation' && t.id !== tid), 'a fresh draft appears');
      assert.ok(mainRequests().some((r) => r.userText.includes('hello claude')), 'the mock model saw the prompt');
      assert.ok(mainRequests().every((r) => r.auth), 'Messages API requests carried the dummy key');
      const sessionFile = fs.readdirSync(path.join(home, '.claude', 'projects')).map((d) => path.join(home, '.claude', 'projects', d, `${tid.toLowerCase()}.jsonl`)).find((f) => fs.existsSync(f));
      assert.ok(sessionFile, 'Claude Code recorded the session under the thread ID');
      trackCli(bridge);
      firstThread = tid;
    }],
    ['Bash needs permission → phone allows once → the command really runs, its output reaches the model', async () => {
      const { req, s } = await approvalStep(tid, `please ${SHELL_TRIGGER}`, 'approve_once', 'allow');
      assert.equal(req.title, 'Run command?');
      assert.ok(req.summary.includes(SHELL_COMMAND), req.summary);
      assert.ok(byRole(s, tid, 'assistant').includes(`The tool finished. Result: ${SHELL_MARKER}`));
      assert.equal(fs.readFileSync(path.join(workspace, SHELL_FILE), 'utf8').trim(), SHELL_MARKER);
      assert.ok(mainRequests().some((r) => r.toolResult && r.toolResult.includes(SHELL_MARKER)), 'tool_result with the output sent to the model');
      const card = byRole(s, tid, 'system').find((t) => t.startsWith('Command:'));
      assert.ok(card && card.includes(SHELL_COMMAND) && card.includes('(exit 0)') && card.includes(SHELL_MARKER), `command card: ${card}`);
    }],
    ['MCP elicitation (an MCP tool asks for input) reaches the phone; the answer reaches the MCP server', async () => {
      const from = phone.mark();
      assert.equal((await phone.send('cmd-claude-mcp', { name: 'thread.send_message', threadID: tid, text: `please ${ELICIT_TRIGGER}` })).status, 'accepted');
      const snap = await phone.snapshotWhere((s) => s.pendingRuntimeRequests.some((r) => r.kind === 'mcpElicitation'), from, CLI_MS, 'pending mcpElicitation');
      const req = snap.payload.payload.pendingRuntimeRequests.find((r) => r.kind === 'mcpElicitation');
      assert.equal(req.threadID, tid);
      assert.equal(req.serverName, 'rcmock');
      assert.match(req.summary, /What is your name\?.*Name/);
      assert.deepEqual(req.responseOptions.map((o) => o.id), ['accept', 'decline', 'cancel']);
      const from2 = phone.mark();
      const ack = await phone.send('cmd-claude-mcp-answer', { name: 'runtime_request.respond', threadID: tid, runtimeRequestID: req.requestID, runtimeRequestKind: 'mcpElicitation', runtimeRequestResponse: { optionID: 'accept', text: 'Ada' } });
      assert.equal(ack.status, 'accepted', JSON.stringify(ack));
      const done = await phone.snapshotWhere((s) => byRole(s, tid, 'assistant').includes('The tool finished. Result: MCP name=Ada') && idleOn(s, tid) && s.pendingRuntimeRequests.length === 0, from2, CLI_MS, 'reply after the elicitation');
      assert.ok(byRole(done.payload.payload, tid, 'system').some((t) => t.startsWith(`Tool: ${ELICIT_TOOL}`) && t.includes('(done)')), 'MCP tool card');
      const log = fs.readFileSync(mcpLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(log.some((m) => m.id === 'elicit-1' && m.result?.action === 'accept' && m.result?.content?.name === 'Ada'), `the MCP server got the answer: ${JSON.stringify(log.slice(-3))}`);
    }],
    ['deny on a new draft: the command does not run, the model gets the denial, the turn completes', async () => {
      draft = newDraft(await phone.snapshot());
      fs.rmSync(path.join(workspace, SHELL_FILE));
      const { s } = await approvalStep(draft, `now ${SHELL_TRIGGER} again`, 'decline', 'deny');
      assert.ok(byRole(s, draft, 'assistant').includes('The tool finished. Result: denied'));
      assert.ok(!fs.existsSync(path.join(workspace, SHELL_FILE)), 'the denied command did not run');
      assert.ok(byRole(s, draft, 'system').some((t) => t.startsWith('Command:') && t.includes('(declined)')), 'declined card');
      trackCli(bridge);
    }],
    ['file write → allow for session → file written, card shows the diff', async () => {
      const { req, s } = await approvalStep(draft, `please ${WRITE_TRIGGER}`, 'approve_for_session', 'write');
      assert.equal(req.title, 'Apply file changes?');
      assert.match(req.summary, new RegExp(`write .*${WRITE_FILE}`));
      assert.match(fs.readFileSync(path.join(workspace, WRITE_FILE), 'utf8'), /rc-claude-file-ok/);
      const card = byRole(s, draft, 'system').find((t) => t.startsWith('File change:'));
      assert.ok(card && card.includes(`${WRITE_FILE} (created)`) && card.includes('+rc-claude-file-ok'), `file card: ${card}`);
      assert.equal(cliPids(bridge).length, 2, 'one CLI process per active thread');
    }],
    ['CLI killed → offline with the reason → restarted (session resumed) → the next message works', async () => {
      const from = bridge.mark();
      const pf = phone.mark();
      const before = cliPids(bridge);
      trackCli(bridge);
      // Kill the draft thread's CLI: it is the newer of the two.
      const victim = before.sort((a, b) => b - a)[0];
      process.kill(victim, 'SIGKILL');
      const off = await bridge.wait('runtime_status', (e) => e.connected === false, from, 30000);
      assert.match(off.detail, /Claude Code exited \(killed by signal 9\).*restarting in \d+ ms \(attempt 1\)/);
      const rej = await phone.send('cmd-claude-offline', { name: 'thread.send_message', threadID: firstThread, text: 'are you there?' });
      if (rej.status === 'rejected') assert.equal(rej.reason, 'desktop_offline');
      const on = await bridge.wait('runtime_status', (e) => e.connected === true, from, CLI_MS);
      assert.match(on.detail, /restarted/);
      await phone.snapshotWhere((s) => byRole(s, draft, 'system').some((t) => t.includes('restarted')), pf, 30000, 'restart note');
      trackCli(bridge);
      if (rej.status === 'accepted') await phone.snapshotWhere((s) => byRole(s, firstThread, 'assistant').includes('Mock reply: are you there?'), pf, CLI_MS, 'reply to the raced message');
      const from2 = phone.mark();
      assert.equal((await phone.send('cmd-claude-after', { name: 'thread.send_message', threadID: draft, text: 'after the restart' })).status, 'accepted');
      await phone.snapshotWhere((s) => byRole(s, draft, 'assistant').includes('Mock reply: after the restart') && idleOn(s, draft), from2, CLI_MS, 'reply after restart');
      trackCli(bridge);
    }],
    ['second workspace: its draft runs in that directory (the command runs there, the session is recorded there)', async () => {
      threadB = newDraft(await phone.snapshot(), projB);
      const { s } = await approvalStep(threadB, `over here ${SHELL_TRIGGER}`, 'approve_once', 'ws2');
      assert.equal(s.threads.find((t) => t.id === threadB).projectID, projB);
      assert.equal(s.threads.find((t) => t.id === threadB).title, `over here ${SHELL_TRIGGER}`);
      assert.ok(byRole(s, threadB, 'assistant').includes(`The tool finished. Result: ${SHELL_MARKER}`));
      assert.equal(fs.readFileSync(path.join(workspace2, SHELL_FILE), 'utf8').trim(), SHELL_MARKER, 'the command ran in the second workspace');
      assert.ok(!fs.existsSync(path.join(workspace, SHELL_FILE)), 'not in the first one');
      // Claude Code keys sessions by cwd: <config>/projects/<cwd with non-alphanumerics as '-'>/<id>.jsonl
      const dirOf = (w) => path.join(home, '.claude', 'projects', fs.realpathSync(w).replace(/[^a-zA-Z0-9]/g, '-'));
      assert.ok(fs.existsSync(path.join(dirOf(workspace2), `${threadB.toLowerCase()}.jsonl`)), 'session recorded for the second workspace');
      assert.ok(fs.existsSync(path.join(dirOf(workspace), `${firstThread.toLowerCase()}.jsonl`)), 'first session recorded for the first workspace');
      assert.ok(!fs.existsSync(path.join(dirOf(workspace), `${threadB.toLowerCase()}.jsonl`)), 'not for the first one');
      trackCli(bridge);
      assert.equal(await bridge.quit('stop'), 0);
      phone.close();
    }],
    ['restarted bridge lists the sessions with their latest history; thread.load_earlier pages back to the first message', async () => {
      bridge = H.startBridge(relay, ['--runtime', 'claude', '--auto-approve', ...cliArgs, '--claude-max-failures', '2', '--claude-history', '2'], env);
      await bridge.wait('runtime_status', (e) => e.connected === true, 0, CLI_MS);
      phone = await H.pairPhone(relay, bridge, 'Claude Phone 2', WebSocket);
      let from = phone.mark();
      phone.command({ commandID: 'cmd-select', name: 'thread.select', threadID: firstThread });
      let s = (await phone.snapshotWhere((x) => x.selectedThreadID === firstThread, from, 15000, 'first thread selected')).payload.payload;
      assert.equal(s.threads.find((x) => x.id === firstThread)?.title, 'hello claude', 'listed with the same ID and its first prompt as title');
      assert.deepEqual(s.projects.map((p) => p.id), [projA, projB], 'same project IDs after a restart');
      assert.equal(s.threads.find((x) => x.id === firstThread).projectID, projA);
      assert.equal(s.threads.find((x) => x.id === draft)?.projectID, projA, 'the second session of the first workspace');
      assert.equal(s.threads.find((x) => x.id === threadB)?.projectID, projB, `the second workspace's session in its project: ${JSON.stringify(s.threads)}`);
      assert.equal(s.threads.find((x) => x.id === threadB).title, `over here ${SHELL_TRIGGER}`);
      assert.equal(s.threads.filter((x) => x.projectID === projB && x.title !== 'New conversation').length, 1, 'only its own sessions');
      assert.deepEqual(s.capabilities, { interrupt: true, loadEarlier: true });
      const count = (x) => x.messages.filter((m) => m.threadID === firstThread).length;
      assert.equal(count(s), 2, `the latest page only: ${JSON.stringify(s.messages.filter((m) => m.threadID === firstThread))}`);
      assert.ok(byRole(s, firstThread, 'assistant').includes('The tool finished. Result: MCP name=Ada') || byRole(s, firstThread, 'assistant').includes('Mock reply: are you there?'), 'latest messages first');
      for (let i = 0; i < 10 && !byRole(s, firstThread, 'user').includes('hello claude'); i++) {
        from = phone.mark();
        const n = count(s);
        assert.equal((await phone.send(`cmd-claude-earlier-${i}`, { name: 'thread.load_earlier', threadID: firstThread })).status, 'accepted');
        s = (await phone.snapshotWhere((x) => count(x) > n, from, 15000, `earlier page ${i}`)).payload.payload;
      }
      const users = byRole(s, firstThread, 'user');
      assert.equal(users[0], 'hello claude', `oldest first: ${JSON.stringify(users)}`);
      assert.ok(users.indexOf(`please ${SHELL_TRIGGER}`) > 0 && users.indexOf(`please ${SHELL_TRIGGER}`) < users.indexOf(`please ${ELICIT_TRIGGER}`), `in order: ${JSON.stringify(users)}`);
      assert.equal(byRole(s, firstThread, 'assistant')[0], 'Mock reply: hello claude');
      // Nothing earlier: accepted, no new messages.
      from = phone.mark();
      const n0 = count(s);
      assert.equal((await phone.send('cmd-claude-earlier-end', { name: 'thread.load_earlier', threadID: firstThread })).status, 'accepted');
      phone.requestSnapshot();
      s = (await phone.snapshotWhere(() => true, from)).payload.payload;
      assert.equal(count(s), n0, 'no duplicates after the first message');
      from = phone.mark();
      const n = mainRequests().length;
      assert.equal((await phone.send('cmd-claude-resume', { name: 'thread.send_message', threadID: firstThread, text: 'welcome back' })).status, 'accepted');
      await phone.snapshotWhere((x) => byRole(x, firstThread, 'assistant').includes('Mock reply: welcome back') && idleOn(x, firstThread), from, CLI_MS, 'resumed reply');
      const req = mainRequests().slice(n).find((r) => r.userText.includes('welcome back'));
      assert.ok(req && req.turns > 2, `the resumed session sent the earlier turns to the model (${req && req.turns} messages)`);
      trackCli(bridge);
    }],
    ['N failures within the window → stays offline and says why', async () => {
      for (let i = 1; i <= 2; i++) {
        const from = bridge.mark();
        const pids = cliPids(bridge);
        assert.equal(pids.length, 1, `one CLI process (round ${i})`);
        process.kill(pids[0], 'SIGKILL');
        const off = await bridge.wait('runtime_status', (e) => e.connected === false, from, 30000);
        if (i === 1) {
          assert.match(off.detail, /restarting in/);
          await bridge.wait('runtime_status', (e) => e.connected === true, from, CLI_MS);
          trackCli(bridge);
        } else {
          assert.match(off.detail, /2 failures within 300 s; staying offline/);
        }
      }
      await sleep(2500);
      assert.equal(cliPids(bridge).length, 0, 'no restart after giving up');
      const pf = phone.mark();
      const ack = await phone.send('cmd-claude-gaveup', { name: 'thread.send_message', threadID: firstThread, text: 'still there?' });
      assert.equal(ack.status, 'rejected');
      assert.equal(ack.reason, 'desktop_offline');
      assert.ok(pf >= 0);
      assert.equal(await bridge.quit('quit'), 0);
      await waitFor(() => [...extraPids].every((p) => !alive(p)), 'CLI processes gone after quit', 5000);
      phone.close();
    }],
  ]);
  await relay.stop();
  await model.close();
}

main().then(() => { console.log('PASS'); process.exit(0); })
  .catch((e) => { console.log(`FAIL: ${e.stack || e}`); H.dump(); console.log('FAILED'); process.exit(1); });
