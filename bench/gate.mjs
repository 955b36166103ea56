// Checks rc-loadgen result JSON (one object per line; a file may hold several) against budgets.
// Exits 1 when any budget is exceeded, 2 on bad input. Budgets come from flags or env:
//   --max-p99-us N          GATE_MAX_P99_US          latency_us.p99 (unset = not checked)
//   --max-errors N          GATE_MAX_ERRORS          errors (default 0)
//   --max-slow-consumer N   GATE_MAX_SLOW_CONSUMER   slow_consumer_disconnects (default 0)
//   --max-auth-failures N   GATE_MAX_AUTH_FAILURES   auth_failures + relay_metrics_delta.wsAuthFailures (default 0)
//   --max-cpu-us-per-msg N  GATE_MAX_CPU_US_PER_MSG  relay_cpu_sched_us_per_msg (unset = not checked)
//   --min-rate N            GATE_MIN_RATE            msgs_per_sec / roundtrips_per_sec / flows_per_sec (unset = not checked)
//   node bench/gate.mjs results/relay-roundtrip.json --max-p99-us 1000
import fs from 'node:fs';

const spec = {
  'max-p99-us': 'GATE_MAX_P99_US', 'max-errors': 'GATE_MAX_ERRORS', 'max-slow-consumer': 'GATE_MAX_SLOW_CONSUMER',
  'max-auth-failures': 'GATE_MAX_AUTH_FAILURES', 'max-cpu-us-per-msg': 'GATE_MAX_CPU_US_PER_MSG', 'min-rate': 'GATE_MIN_RATE',
};
const budget = { 'max-errors': 0, 'max-slow-consumer': 0, 'max-auth-failures': 0 };
for (const [k, env] of Object.entries(spec)) if (process.env[env] !== undefined) budget[k] = Number(process.env[env]);
const files = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a.startsWith('--')) {
    const k = a.slice(2);
    if (!(k in spec) || i + 1 >= argv.length || Number.isNaN(Number(argv[i + 1]))) {
      console.error(`gate: bad option ${a}`); process.exit(2);
    }
    budget[k] = Number(argv[++i]);
  } else files.push(a);
}
if (!files.length) { console.error('usage: node gate.mjs RESULT.json... [--max-p99-us N] ...'); process.exit(2); }

let failures = 0, checked = 0;
for (const f of files) {
  let lines;
  try { lines = fs.readFileSync(f, 'utf8').split('\n').filter(l => l.trim()); } catch (e) {
    console.error(`gate: cannot read ${f}: ${e.message}`); process.exit(2);
  }
  for (const line of lines) {
    let r;
    try { r = JSON.parse(line); } catch { console.error(`gate: ${f}: not JSON`); process.exit(2); }
    checked++;
    const name = r.label ?? r.scenario ?? f;
    const fail = msg => { failures++; console.error(`GATE FAIL ${name}: ${msg}`); };
    if (r.aborted) fail('run aborted by the watchdog');
    const p99 = r.latency_us?.p99;
    if (budget['max-p99-us'] !== undefined && p99 !== null && p99 !== undefined && p99 > budget['max-p99-us'])
      fail(`p99 ${p99} µs > ${budget['max-p99-us']} µs`);
    if ((r.errors ?? 0) > budget['max-errors']) fail(`errors ${r.errors} > ${budget['max-errors']} ${JSON.stringify(r.error_kinds ?? {})}`);
    if ((r.slow_consumer_disconnects ?? 0) > budget['max-slow-consumer'])
      fail(`slow_consumer_disconnects ${r.slow_consumer_disconnects} > ${budget['max-slow-consumer']}`);
    const auth = (r.auth_failures ?? 0) + Math.max(0, r.relay_metrics_delta?.wsAuthFailures ?? 0);
    if (auth > budget['max-auth-failures']) fail(`auth failures ${auth} > ${budget['max-auth-failures']}`);
    const cpu = r.relay_cpu_sched_us_per_msg ?? r.relay_cpu_us_per_msg;
    if (budget['max-cpu-us-per-msg'] !== undefined && cpu !== null && cpu !== undefined && cpu > budget['max-cpu-us-per-msg'])
      fail(`relay CPU ${cpu} µs/msg > ${budget['max-cpu-us-per-msg']}`);
    const rate = r.msgs_per_sec ?? r.roundtrips_per_sec ?? r.flows_per_sec;
    if (budget['min-rate'] !== undefined && rate !== undefined && rate < budget['min-rate'])
      fail(`rate ${rate}/s < ${budget['min-rate']}/s`);
  }
}
if (!checked) { console.error('gate: no results'); process.exit(2); }
console.error(failures ? `gate: ${failures} budget(s) exceeded` : `gate: ${checked} result(s) within budget`);
process.exit(failures ? 1 : 0);
