// Prints the gzipped size of the built JS (dist/**/*.js) and fails above the 60 KB budget.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 60 * 1024; // issue 15: ≤ 60 KB gzipped JS in total, scanner fallback included
const dist = new URL('../dist', import.meta.url).pathname;
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.js')) files.push(p);
  }
};
try {
  walk(dist);
} catch {
  console.error('dist/ not found: run `npm run build` first');
  process.exit(2);
}
let raw = 0;
let gz = 0;
for (const f of files.sort()) {
  const buf = readFileSync(f);
  const g = gzipSync(buf, { level: 9 }).length;
  raw += buf.length;
  gz += g;
  console.log(`${relative(dist, f).padEnd(40)} ${(buf.length / 1024).toFixed(1).padStart(7)} KB  gzip ${(g / 1024).toFixed(1).padStart(6)} KB`);
}
console.log(`${'TOTAL JS'.padEnd(40)} ${(raw / 1024).toFixed(1).padStart(7)} KB  gzip ${(gz / 1024).toFixed(1).padStart(6)} KB  (budget ${BUDGET / 1024} KB gzip)`);
if (gz > BUDGET) {
  console.error('over budget');
  process.exit(1);
}
