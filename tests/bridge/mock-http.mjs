// Loopback HTTP server skeleton of the mock model APIs (codex/mock-model.mjs,
// claude/mock-anthropic.mjs): bounded request bodies parsed as JSON, SSE writing that stops
// when the client goes away, and a close() that drops open connections.
import http from 'node:http';

// onRequest(req, res, json, rawBody) is called once the body is complete ({} when not JSON).
export async function startLoopbackServer(onRequest, maxBody = 32 * 1024 * 1024) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; if (body.length > maxBody) req.destroy(); });
    req.on('end', () => {
      let j = {};
      try { j = JSON.parse(body); } catch { /* keep empty */ }
      Promise.resolve(onRequest(req, res, j, body)).catch((e) => { try { res.destroy(e); } catch { /* gone */ } });
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

// Starts an SSE response; send(type, data) writes `event: type` + `data: {type, ...data}`.
export function sseStream(res, headers = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  const s = { closed: false };
  res.on('close', () => { s.closed = true; });
  s.send = (type, data) => { if (!s.closed) res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`); };
  return s;
}
