// Throw-away redis-server on a free loopback port (for tests that need a relay restart).
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';

export function redisAvailable() {
  try { execFileSync('redis-server', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function startRedis({ timeoutMs = 5000 } = {}) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => proc.on('exit', r));
  process.on('exit', () => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  const deadline = Date.now() + timeoutMs;
  while (!/Ready to accept connections/i.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`redis-server did not start: ${out.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}
