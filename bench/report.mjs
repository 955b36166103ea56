// Renders bench results (one JSON file per target+scenario) as a markdown table.
//   node bench/report.mjs RESULTS_DIR scenario...
// Reads RESULTS_DIR/{relay,bare}-<scenario>.json. CPU figures use the schedstat-based
// relay_cpu_sched_us_per_msg (ns resolution); utime+stime (10 ms ticks) is in the JSON too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dir, ...names] = process.argv.slice(2);
if (!dir) { console.error('usage: node report.mjs RESULTS_DIR scenario...'); process.exit(2); }
const load = (t, n) => {
  const f = path.join(dir, `${t}-${n}.json`);
  try { return JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop()); } catch { return null; }
};
const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x)) ? '–'
  : (Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : Number(x).toFixed(d));
function rate(r) {
  if (!r) return [null, ''];
  switch (r.scenario) {
    case 'roundtrip': return [r.roundtrips_per_sec, 'rt/s'];
    case 'pairing': return [r.flows_per_sec, 'flows/s'];
    case 'connections': return [r.sockets_established, 'sockets'];
    default: return [r.msgs_per_sec, 'msg/s'];
  }
}
function cpuUnit(r) {
  if (!r) return '';
  return { roundtrip: 'µs/msg', pairing: 'µs/flow', connections: 'µs/socket' }[r.scenario] ?? 'µs/msg';
}
const loads = names.flatMap(n => [load("relay", n), load("bare", n)]).filter(Boolean).map(r => r.host_loadavg_1m).filter(x => typeof x === "number");
const cpu = r => r?.relay_cpu_sched_us_per_msg ?? r?.relay_cpu_us_per_msg ?? null;
const model = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] ?? '?';
console.log(`Machine: ${os.cpus().length} CPUs (${model}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
  `server pinned to core 1, loadgen to core 0; ${new Date().toISOString()}; host 1-min loadavg during runs: ${loads.length ? Math.min(...loads).toFixed(2) + "–" + Math.max(...loads).toFixed(2) : "?"} (≈1.0 = only the bench)\n`);
console.log('| scenario | relay | bare | relay p50 / p99 µs | bare p50 / p99 µs | relay CPU | bare CPU | CPU ratio | relay RSS/socket | bare RSS/socket | errors relay / bare |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of names) {
  const r = load('relay', n), b = load('bare', n);
  if (!r && !b) continue;
  const [rr, unit] = rate(r ?? b), [br] = rate(b);
  const lat = x => x ? `${fmt(x.latency_us?.p50)} / ${fmt(x.latency_us?.p99)}` : '–';
  const rc = cpu(r), bc = cpu(b);
  const ratio = rc !== null && bc ? `${(rc / bc).toFixed(2)}×` : '–';
  const rss = x => x?.relay_rss_bytes_per_socket !== undefined ? `${fmt(x.relay_rss_bytes_per_socket / 1024, 2)} KiB` : '–';
  const errs = x => x ? `${x.errors}${x.slow_consumer_disconnects ? ` (+${x.slow_consumer_disconnects} slow)` : ''}` : '–';
  console.log(`| ${n} | ${r ? fmt(rr) + ' ' + unit : '–'} | ${b ? fmt(br) + ' ' + unit : '–'} | ${lat(r)} | ${lat(b)} | ` +
    `${rc !== null ? fmt(rc, 2) + ' ' + cpuUnit(r) : '–'} | ${bc !== null ? fmt(bc, 2) + ' ' + cpuUnit(b) : '–'} | ${ratio} | ` +
    `${rss(r)} | ${rss(b)} | ${errs(r)} / ${errs(b)} |`);
}
