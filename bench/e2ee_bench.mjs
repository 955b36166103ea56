// PWA side of the E2EE cost figures: the PWA's own record layer (pwa/src/core/e2eeCrypto.ts,
// bundled with esbuild) on Node's WebCrypto. Bounded loops; prints µs per message.
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pwa = path.join(here, '../pwa');
const { build } = await import(pathToFileURL(path.join(pwa, 'node_modules/esbuild/lib/main.js')).href);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-e2ee-bench-'));
const out = path.join(tmp, 'c.mjs');
await build({ entryPoints: [path.join(pwa, 'src/core/e2eeCrypto.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error' });
const C = await import(pathToFileURL(out).href);
fs.rmSync(tmp, { recursive: true, force: true });
C.setCrypto(webcrypto);

const ids = { sessionID: 'S_8c1f0e2d4b6a49c3a1b2c3d4e5f60718', deviceID: 'D_0f1e2d3c4b5a69788796a5b4c3d2e1f0' };
const t0 = performance.now();
const idP = await C.generateIdentity();
const e = await C.generateEphemeral();
const peer = await C.generateEphemeral();
const secret = await C.ecdh(e.privateKey, peer.publicKey);
const h = await C.sha256(C.fields('x', await C.exportPoint(e.publicKey)));
const sig = await C.sign(idP.privateKey, C.signedInput('finish', h));
await C.verify(idP.publicKey, sig, C.signedInput('accept', h));
const keys = await C.deriveKeys(secret, h);
console.log(`phone handshake crypto (keygen ×2, ECDH, sign, verify, HKDF ×2): ${(performance.now() - t0).toFixed(2)} ms`);

console.log(`${'payload'.padStart(8)} ${'seal us/msg'.padStart(14)} ${'open us/msg'.padStart(14)} ${'b64 frame bytes added'.padStart(22)}`);
for (const size of [200, 2000, 16000, 60000]) {
  const text = `{"schemaVersion":2,"payload":{"type":"command","payload":{"text":"${'x'.repeat(Math.max(1, size - 60))}"}}}`;
  const iters = size >= 16000 ? 1000 : 5000;
  const tx = new C.RecordStream(keys.p2d, 'p2d', ids);
  const rx = new C.RecordStream(keys.p2d, 'p2d', ids);
  const recs = [];
  let a = performance.now();
  for (let i = 0; i < iters; i++) { const r = await tx.seal(text); recs.push({ v: 1, k: 'rec', c: r.c, ct: C.b64u(r.ct) }); }
  const seal = ((performance.now() - a) * 1000) / iters;
  const frame = JSON.stringify({ schemaVersion: 2, sessionID: ids.sessionID, seq: 12345, timestamp: new Date().toISOString(), payload: { type: 'e2ee', payload: recs[0] } });
  a = performance.now();
  for (const r of recs) { const o = await rx.open(r.c, C.unb64u(r.ct)); if (!o.ok) throw new Error(o.reason); }
  const open = ((performance.now() - a) * 1000) / iters;
  // `text` is the whole plaintext command envelope; the frame is what the relay carries instead
  console.log(`${String(text.length).padStart(8)} ${seal.toFixed(2).padStart(14)} ${open.toFixed(2).padStart(14)} ${String(frame.length - text.length).padStart(22)}`);
}
