#!/usr/bin/env node
// Runs node:test files with a bounded concurrency and a per-file time limit, on Node 18 and newer.
// (Node 18 has neither --test-concurrency nor --test-timeout; this replaces both.)
//   node run-node-tests.mjs [--concurrency N] [--timeout MS] DIR_OR_FILE...
// Each *.test.mjs runs as `node --test --test-reporter=spec FILE` in its own process; its output is
// printed when it ends. A file that outlives --timeout is killed (whole process group) and fails.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

let concurrency = 1;
let timeoutMs = 120000;
const targets = [];
const argv = process.argv.slice(2);
function positiveInt(flag, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`run-node-tests: ${flag} needs a positive integer, got ${value}`);
    process.exit(2);
  }
  return n;
}
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--concurrency') concurrency = positiveInt(argv[i], argv[++i]);
  else if (argv[i] === '--timeout') timeoutMs = positiveInt(argv[i], argv[++i]);
  else if (argv[i].startsWith('--')) {
    console.error(`run-node-tests: unknown option ${argv[i]}`);
    process.exit(2);
  } else targets.push(argv[i]);
}
if (targets.length === 0) targets.push('.');

const files = [];
for (const t of targets) {
  const p = resolve(t);
  if (statSync(p).isDirectory()) {
    for (const f of readdirSync(p).sort()) if (f.endsWith('.test.mjs')) files.push(join(p, f));
  } else files.push(p);
}
if (files.length === 0) {
  console.error('run-node-tests: no *.test.mjs files found');
  process.exit(1);
}

const running = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const pid of running) { try { process.kill(-pid, 'SIGKILL'); } catch {} }
    process.exit(1);
  });
}

function runFile(file) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: a timeout also kills the relays the file spawned
    });
    running.add(child.pid);
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const ok = code === 0 && !timedOut;
      process.stdout.write(Buffer.concat(out));
      const why = timedOut ? `timed out after ${timeoutMs} ms` : signal ? `signal ${signal}` : `exit ${code}`;
      console.log(`${ok ? 'PASS' : 'FAIL'} ${file} (${secs} s${ok ? '' : ', ' + why})`);
      done(ok);
    });
  });
}

const queue = [...files];
const failed = [];
async function worker() {
  while (queue.length > 0) {
    const f = queue.shift();
    if (!(await runFile(f))) failed.push(f);
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
console.log(`run-node-tests: ${files.length - failed.length}/${files.length} files passed` +
  (failed.length ? `; failed: ${failed.join(', ')}` : ''));
process.exit(failed.length ? 1 : 0);
