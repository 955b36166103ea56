// Mock OpenAI Responses-API model server for the codex runtime test (loopback, random port).
// Codex POSTs <base_url>/responses with the whole conversation in `input` (stateless) and reads an
// SSE stream. Behaviour, keyed on the LAST input item / user message of the request:
//  * user text containing "run the shell command" → an `exec_command` function call that asks
//    for escalated permissions (so `on-request` / `untrusted` policies raise an approval);
//  * "ask for network" → a `request_permissions` call (network), answered by the client;
//  * "ask my name via mcp" → `tool_search` (client-executed), then the MCP tool
//    `mcp__rcmock` / `ask_name` (mcp-server.mjs, which elicits the name from the user);
//  * "stream slowly" → a long reply, one word every 100 ms (for interrupt / kill mid-turn);
//  * "ask the phone tool" → a call of the dynamic tool DYNAMIC_TOOL (registered by the bridge's
//    --codex-dynamic-tools; Codex asks the client, i.e. the phone, for its result);
//  * a function_call_output → a text reply quoting what the tool returned;
//  * anything else → a streamed text reply "Mock reply: <user text>".
// Each request is logged in `requests`: {url, lastType, userText, tools (the offered tool names),
// output (the text of a trailing function_call_output)}.
// Usage as a module: `const m = await startMockModel(); m.port; m.requests; m.aborted; m.close()`.
// Standalone: `node mock-model.mjs` prints {"port":N} on stdout.
import { startLoopbackServer, sseStream } from '../mock-http.mjs';
import { fileURLToPath } from 'node:url';

export const SHELL_TRIGGER = 'run the shell command';
export const SHELL_MARKER = 'rc-codex-approval-ok';
export const PERMISSION_TRIGGER = 'ask for network';
export const MCP_TRIGGER = 'ask my name via mcp';
export const SLOW_TRIGGER = 'stream slowly';
export const DYNAMIC_TRIGGER = 'ask the phone tool';
export const DYNAMIC_TOOL = 'rc_phone_lookup';

function textOf(item) {
  if (!item) return '';
  if (typeof item.content === 'string') return item.content;
  if (Array.isArray(item.content)) return item.content.map((c) => c.text || '').join('');
  if (typeof item.output === 'string') return item.output;
  if (Array.isArray(item.output)) return item.output.map((c) => c.text || '').join('\n');
  if (item.output && typeof item.output === 'object') return JSON.stringify(item.output);
  return '';
}

export async function startMockModel({ deltaDelayMs = 20 } = {}) {
  const requests = [];
  const stats = { aborted: 0 };
  let n = 0;
  const server = await startLoopbackServer(async (req, res, j) => {
    if (req.method !== 'POST' || !req.url.endsWith('/responses')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found"}}');
      return;
    }
    const input = Array.isArray(j.input) ? j.input : [];
    const last = input[input.length - 1] || {};
    const lastUser = [...input].reverse().find((i) => i.role === 'user' && i.type !== 'function_call_output' && !textOf(i).startsWith('<'));
    const userText = textOf(lastUser);
    const tools = (Array.isArray(j.tools) ? j.tools : []).map((t) => t.name || t.type);
    const output = last.type === 'function_call_output' ? textOf(last) : undefined;
    requests.push({ url: req.url, lastType: last.type || last.role, userText: userText.slice(-200), tools, output });
    const id = `resp_${++n}`;
    const sse = sseStream(res);
    const send = sse.send;
    const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
    send('response.created', { response: { id } });
    const callName = (callId) => input.find((i) => i.type === 'function_call' && i.call_id === callId)?.name;
    const done = () => { send('response.completed', { response: { id, usage } }); res.end(); };
    const tool = (item) => { send('response.output_item.done', { output_index: 0, item }); done(); };
    const fresh = last.type !== 'function_call_output' && last.type !== 'tool_search_output';
    if (fresh && userText.includes(SHELL_TRIGGER)) {
      const args = { cmd: `echo ${SHELL_MARKER}`, sandbox_permissions: 'require_escalated', justification: 'The test asks for an approval.' };
      return tool({ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: 'exec_command', arguments: JSON.stringify(args) });
    }
    if (fresh && userText.includes(PERMISSION_TRIGGER)) {
      const args = { permissions: { network: { enabled: true } }, reason: 'The test asks for network access.' };
      return tool({ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: 'request_permissions', arguments: JSON.stringify(args) });
    }
    if (fresh && userText.includes(DYNAMIC_TRIGGER)) {
      const args = { question: 'What is the launch code?' };
      return tool({ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: DYNAMIC_TOOL, arguments: JSON.stringify(args) });
    }
    if (fresh && userText.includes(MCP_TRIGGER))
      return tool({ type: 'tool_search_call', id: `ts_${n}`, call_id: `call_${n}`, execution: 'client', status: 'completed', arguments: { query: 'ask name' } });
    if (last.type === 'tool_search_output')
      return tool({ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, namespace: 'mcp__rcmock', name: 'ask_name', arguments: '{}' });
    let reply = `Mock reply: ${userText.trim()}`;
    let delay = deltaDelayMs;
    if (last.type === 'function_call_output') {
      const out = textOf(last);
      const name = callName(last.call_id);
      if (name === 'request_permissions') {
        let g = {};
        try { g = JSON.parse(out); } catch { /* not json */ }
        reply = `Granted: network=${g.permissions?.network?.enabled === true} scope=${g.scope}`;
      } else if (name === DYNAMIC_TOOL) {
        reply = `Phone tool said: ${out}`;
      } else if (name === 'ask_name') {
        reply = `MCP said: ${out.includes('name=') ? out.slice(out.indexOf('name=')) : out}`;
      } else {
        reply = `The command finished. Output was: ${out.includes(SHELL_MARKER) ? SHELL_MARKER : 'missing'}`;
      }
    } else if (userText.includes(SLOW_TRIGGER)) {
      reply = Array.from({ length: 300 }, (_, i) => `slow${i}`).join(' ');
      delay = 100;
    }
    const msgId = `msg_${n}`;
    send('response.output_item.added', { output_index: 0, item: { type: 'message', id: msgId, role: 'assistant', content: [] } });
    const words = reply.split(/(?<= )/);
    for (const w of words) {
      if (sse.closed) { stats.aborted++; return; }
      send('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: w });
      if (delay) await new Promise((r) => setTimeout(r, delay));
    }
    send('response.output_item.done', { output_index: 0, item: { type: 'message', id: msgId, role: 'assistant', content: [{ type: 'output_text', text: reply, annotations: [] }] } });
    done();
  });
  return {
    port: server.port,
    requests,
    get aborted() { return stats.aborted; },
    close: server.close,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await startMockModel();
  console.log(JSON.stringify({ port: m.port }));
}
