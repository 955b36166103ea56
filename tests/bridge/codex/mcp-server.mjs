// Minimal MCP server (stdio, newline-delimited JSON-RPC) for the codex and claude runtime tests:
// one tool, `ask_name`, that asks the user through an MCP elicitation (`elicitation/create`) and
// returns the answer as its result. Codex turns the elicitation into
// `mcpServer/elicitation/request`, Claude Code into a `control_request` of subtype `elicitation`.
// Every received message is appended to $RC_MCP_LOG (one JSON line each) for the test.
import fs from 'node:fs';
import readline from 'node:readline';

const log = (o) => { if (process.env.RC_MCP_LOG) fs.appendFileSync(process.env.RC_MCP_LOG, `${JSON.stringify(o)}\n`); };
const send = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const waiting = new Map();
let nextId = 1;

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  log(m);
  if (m.id !== undefined && !m.method) { // a response to our elicitation
    const w = waiting.get(m.id);
    if (w) { waiting.delete(m.id); w(m); }
    return;
  }
  if (m.method === 'initialize') {
    send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion || '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'rcmock', version: '1.0.0' } } });
  } else if (m.method === 'tools/list') {
    send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'ask_name', description: 'Ask the user for their name.', inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: true } }] } });
  } else if (m.method === 'tools/call') {
    const id = `elicit-${nextId++}`;
    waiting.set(id, (r) => {
      const text = r.result?.action === 'accept' ? `name=${r.result?.content?.name}` : `action=${r.result?.action || 'error'}`;
      send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text }], isError: false } });
    });
    send({ jsonrpc: '2.0', id, method: 'elicitation/create', params: { message: 'What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string', title: 'Name' } }, required: ['name'] } } });
  } else if (m.id !== undefined) {
    send({ jsonrpc: '2.0', id: m.id, result: {} });
  }
});
