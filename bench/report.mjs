// Renders bench results (one JSON file per target+scenario) as a markdown table.
//   node bench/report.mjs RESULTS_DIR scenario...
// Reads RESULTS_DIR/{relay,bare,floor}-<scenario>.json (any may be missing). CPU figures use the
// schedstat-based relay_cpu_sched_us_per_msg (ns resolution); utime+stime (10 ms ticks) is in the
// JSON too. Every relay CPU figure is given as a ratio to the kernel floor (rc-floor-forwarder)
// and to the bare Beast forwarder, measured in the same run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dir, ...names] = process.argv.slice(2);
if (!dir) { console.error('usage: node report.mjs RESULTS_DIR scenario...'); process.exit(2); }
const TARGETS = ['relay', 'bare', 'floor'];
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
const all = names.flatMap(n => TARGETS.map(t => load(t, n))).filter(Boolean);
const loads = all.map(r => r.host_loadavg_1m).filter(x => typeof x === 'number');
const cpu = r => r?.relay_cpu_sched_us_per_msg ?? r?.relay_cpu_us_per_msg ?? null;
const ratio = (a, b) => (a !== null && b) ? `${(a / b).toFixed(2)}×` : '–';
const trio = (rs, f) => rs.map(r => (r ? f(r) : '–')).join(' / ');
const model = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] ?? '?';
const present = TARGETS.filter(t => names.some(n => load(t, n)));
console.log(`Machine: ${os.cpus().length} CPUs (${model}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
  `server pinned to core 1, loadgen to core 0; ${new Date().toISOString()}; host 1-min loadavg during runs: ` +
  `${loads.length ? Math.min(...loads).toFixed(2) + '–' + Math.max(...loads).toFixed(2) : '?'} (≈1.0 = only the bench)\n`);
console.log(`Columns are relay / bare / floor (targets run: ${present.join(', ') || 'none'}). ` +
  'CPU = server CPU (schedstat) per unit; ÷floor and ÷bare are the relay\'s CPU ratios; ' +
  'allocs = malloc calls per unit (only with a -DRC_BENCH_COUNT_ALLOCS=ON build).\n');
console.log('| scenario | rate (relay / bare / floor) | p50 / p99 µs relay · bare · floor | CPU relay / bare / floor | relay ÷ floor | relay ÷ bare | bare ÷ floor | RSS/socket KiB | allocs/unit | errors |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const n of names) {
  const rs = TARGETS.map(t => load(t, n));
  const [r, b, f] = rs;
  const any = rs.find(Boolean);
  if (!any) continue;
  const unit = rate(any)[1];
  const rc = cpu(r), bc = cpu(b), fc = cpu(f);
  const lat = x => `${fmt(x.latency_us?.p50)} / ${fmt(x.latency_us?.p99)}`;
  const rss = x => x.relay_rss_bytes_per_socket !== undefined ? fmt(x.relay_rss_bytes_per_socket / 1024, 2) : '–';
  const allocs = x => x.relay_allocs_per_msg !== undefined ? fmt(x.relay_allocs_per_msg, 2) : '–';
  const errs = x => `${x.errors}${x.slow_consumer_disconnects ? ` (+${x.slow_consumer_disconnects} slow)` : ''}`;
  const showRss = rs.some(x => x?.relay_rss_bytes_per_socket !== undefined);
  const showAllocs = rs.some(x => x?.relay_allocs_per_msg !== undefined);
  console.log(`| ${n} | ${trio(rs, x => fmt(rate(x)[0]))} ${unit} | ${rs.map(x => (x ? lat(x) : '–')).join(' · ')} | ` +
    `${trio(rs, x => (cpu(x) !== null ? fmt(cpu(x), 2) : '–'))} ${cpuUnit(any)} | ${ratio(rc, fc)} | ${ratio(rc, bc)} | ${ratio(bc, fc)} | ` +
    `${showRss ? trio(rs, rss) : '–'} | ${showAllocs ? trio(rs, allocs) : '–'} | ${trio(rs, errs)} |`);
}
