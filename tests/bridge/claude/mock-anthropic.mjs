// Mock Anthropic Messages API for the claude runtime test (loopback, random port). Claude Code
// POSTs <ANTHROPIC_BASE_URL>/v1/messages with the whole conversation in `messages` and, when
// `stream` is true, reads an SSE stream (message_start, content_block_*, message_delta,
// message_stop). Behaviour, keyed on the LAST user turn of the request:
//  * its last block is a tool_result → a streamed text reply quoting whether the marker was in it;
//  * its text contains SHELL_TRIGGER → a tool_use block calling the Bash tool (SHELL_COMMAND);
//  * its text contains WRITE_TRIGGER → a tool_use block calling the Write tool (./WRITE_FILE);
//  * its text contains ELICIT_TRIGGER → a tool_use block calling the MCP tool ELICIT_TOOL
//    (../codex/mcp-server.mjs, which asks the user through an MCP elicitation);
//  * anything else → a streamed text reply "Mock reply: <user text>".
// Requests that carry no tools (Claude Code's side calls, e.g. titles) get the plain text reply.
// Every other path answers 404 (so an unexpected endpoint shows up in `requests`).
// Usage as a module: `const m = await startMockAnthropic(); m.port; m.requests; await m.close()`.
// Standalone: `node mock-anthropic.mjs` prints {"port":N} on stdout.
import { startLoopbackServer, sseStream } from '../mock-http.mjs';
import { fileURLToPath } from 'node:url';

export const SHELL_TRIGGER = 'run the shell command';
export const SHELL_MARKER = 'rc-claude-approval-ok';
// Writes a file, so Claude Code's permission rules ask for approval (a bare `echo` is auto-allowed).
export const SHELL_FILE = 'rc-claude-marker.txt';
export const SHELL_COMMAND = `echo ${SHELL_MARKER} > ${SHELL_FILE} && cat ${SHELL_FILE}`;
export const WRITE_TRIGGER = 'write the notes file';
export const WRITE_FILE = 'notes.txt';
export const WRITE_TEXT = 'first line\nrc-claude-file-ok\n';
export const ELICIT_TRIGGER = 'ask me my name';
export const ELICIT_TOOL = 'mcp__rcmock__ask_name';

function blocksOf(msg) {
  if (!msg) return [];
  if (typeof msg.content === 'string') return [{ type: 'text', text: msg.content }];
  return Array.isArray(msg.content) ? msg.content : [];
}
function textOf(blocks) {
  return blocks.map((b) => {
    if (b.type === 'text') return b.text || '';
    if (b.type === 'tool_result') return typeof b.content === 'string' ? b.content : textOf(Array.isArray(b.content) ? b.content : []);
    return '';
  }).join('');
}

export async function startMockAnthropic({ deltaDelayMs = 20 } = {}) {
  const requests = [];
  let n = 0;
  const server = await startLoopbackServer(async (req, res, j) => {
    const url = req.url.split('?')[0];
    if (req.method !== 'POST' || !url.endsWith('/v1/messages')) {
      requests.push({ url: req.url, method: req.method, unexpected: true });
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"type":"error","error":{"type":"not_found_error","message":"not found"}}');
      return;
    }
    const msgs = Array.isArray(j.messages) ? j.messages : [];
    const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
    const blocks = blocksOf(lastUser);
    const lastBlock = blocks[blocks.length - 1] || {};
    const isToolResult = blocks.some((b) => b.type === 'tool_result');
    // The prompt text: the last text block that is not a <system-reminder> Claude Code injects.
    const texts = blocks.filter((b) => b.type === 'text' && !String(b.text).startsWith('<system-reminder>'));
    const userText = texts.length ? texts[texts.length - 1].text : '';
    const hasTools = Array.isArray(j.tools) && j.tools.length > 0;
    const id = `msg_mock_${++n}`;
    const rec = { url: req.url, model: j.model, toolNames: hasTools ? j.tools.map((t) => t.name) : [], turns: msgs.length, stream: !!j.stream, hasTools, lastType: lastBlock.type, userText: userText.slice(-300), toolResult: isToolResult ? textOf(blocks).slice(-2000) : null, auth: !!(req.headers['x-api-key'] || req.headers.authorization) };
    requests.push(rec);

    let content;
    let stop = 'end_turn';
    if (hasTools && isToolResult) {
      const out = textOf(blocks);
      const what = out.includes(SHELL_MARKER) ? SHELL_MARKER : out.includes('File created') ? 'file written' : /name=|action=/.test(out) ? `MCP ${out.slice(out.search(/name=|action=/)).trim()}` : /denied|rejected/.test(out) ? 'denied' : 'missing';
      content = [{ type: 'text', text: `The tool finished. Result: ${what}` }];
    } else if (hasTools && userText.includes(SHELL_TRIGGER)) {
      content = [{ type: 'text', text: 'Running it.' }, { type: 'tool_use', id: `toolu_mock_${n}`, name: 'Bash', input: { command: SHELL_COMMAND, description: 'Write and print the test marker' } }];
      stop = 'tool_use';
    } else if (hasTools && userText.includes(ELICIT_TRIGGER)) {
      content = [{ type: 'tool_use', id: `toolu_mock_${n}`, name: ELICIT_TOOL, input: {} }];
      stop = 'tool_use';
    } else if (hasTools && userText.includes(WRITE_TRIGGER)) {
      content = [{ type: 'tool_use', id: `toolu_mock_${n}`, name: 'Write', input: { file_path: `./${WRITE_FILE}`, content: WRITE_TEXT } }];
      stop = 'tool_use';
    } else {
      content = [{ type: 'text', text: `Mock reply: ${userText.trim()}` }];
    }
    rec.reply = content.map((c) => c.type).join(',');
    const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!j.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${n}` });
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model: j.model || 'mock', content, stop_reason: stop, stop_sequence: null, usage }));
      return;
    }
    const sse = sseStream(res, { 'request-id': `req_${n}` });
    const send = sse.send;
    send('message_start', { message: { id, type: 'message', role: 'assistant', model: j.model || 'mock', content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    for (const [index, c] of content.entries()) {
      if (c.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const w of c.text.split(/(?<= )/)) {
          if (sse.closed) return;
          send('content_block_delta', { index, delta: { type: 'text_delta', text: w } });
          if (deltaDelayMs) await new Promise((r) => setTimeout(r, deltaDelayMs));
        }
      } else {
        send('content_block_start', { index, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } });
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(c.input) } });
      }
      send('content_block_stop', { index });
    }
    send('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } });
    send('message_stop', {});
    res.end();
  });
  return { port: server.port, requests, close: server.close };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await startMockAnthropic();
  console.log(JSON.stringify({ port: m.port }));
  process.on('SIGTERM', () => { console.error(JSON.stringify(m.requests)); process.exit(0); });
}
