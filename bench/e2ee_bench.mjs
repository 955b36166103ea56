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

// Per message: AEAD only (WebCrypto AES-256-GCM via RecordStream), then the whole record as the
// PWA sends / receives it (AEAD + base64url + the JSON envelope). `added` = bytes the E2EE frame
// carries beyond the plaintext envelope it replaces.
const col = (v, w = 12) => String(v).padStart(w);
console.log(`${col('payload', 8)}${col('aead seal')}${col('aead open')}${col('frame seal')}${col('frame open')}${col('added B', 9)}  (µs per message)`);
for (const size of [200, 2000, 16000, 60000]) {
  const text = `{"schemaVersion":2,"payload":{"type":"command","payload":{"text":"${'x'.repeat(Math.max(1, size - 60))}"}}}`;
  const iters = size >= 16000 ? 400 : 3000;
  const time = async (fn) => { const a = performance.now(); for (let i = 0; i < iters; i++) await fn(i); return ((performance.now() - a) * 1000) / iters; };
  const tx = new C.RecordStream(keys.p2d, 'p2d', ids);
  const rx = new C.RecordStream(keys.p2d, 'p2d', ids);
  const raw = [];
  const aeadSeal = await time(async () => raw.push(await tx.seal(text)));
  const aeadOpen = await time(async (i) => { const o = await rx.open(raw[i].c, raw[i].ct); if (!o.ok) throw new Error(o.reason); });
  const tx2 = new C.RecordStream(keys.d2p, 'd2p', ids);
  const rx2 = new C.RecordStream(keys.d2p, 'd2p', ids);
  const wire = [];
  let seq = 1000;
  const frameSeal = await time(async () => { const r = await tx2.seal(text); wire.push(JSON.stringify({ schemaVersion: 2, sessionID: ids.sessionID, seq: ++seq, timestamp: new Date().toISOString(), payload: { type: 'e2ee', payload: { v: 1, k: 'rec', c: r.c, ct: C.b64u(r.ct) } } })); });
  const frameOpen = await time(async (i) => { const m = JSON.parse(wire[i]).payload.payload; const o = await rx2.open(m.c, C.unb64u(m.ct)); if (!o.ok) throw new Error(o.reason); });
  console.log(`${col(text.length, 8)}${col(aeadSeal.toFixed(1))}${col(aeadOpen.toFixed(1))}${col(frameSeal.toFixed(1))}${col(frameOpen.toFixed(1))}${col(wire[0].length - text.length, 9)}`);
}
