// rc-loadgen: load generator for the Remote Control relay (and rc-bare-forwarder).
//
// Asio/Beast with C++20 coroutines (loadgen_options.* options and helpers, loadgen_net.* clients
// and sessions, this file the scenarios and main). --threads N runs N single-threaded io_contexts;
// each pairing session (desktop + its phones) lives on exactly one of them, so per-session state
// needs no locks. Every scenario prints ONE JSON line on stdout (and writes it to --out FILE).
//
//   rc-loadgen --scenario roundtrip|throughput|fanout|connections|pairing|churn
//              --url http://127.0.0.1:PORT [--relay-pid PID] [--threads N] [--out FILE] ...
//   rc-loadgen --help   lists every option with its default.
//
// Only loopback targets are accepted (127.0.0.0/8 or ::1). Every loop is bounded by a count
// and by the global --timeout watchdog.

#include "loadgen_net.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace loadgen {

// ------------------------------------------------------------------------------------------
// Scenario coroutines
// ------------------------------------------------------------------------------------------
net::awaitable<void> roundtrip_phone(session_t& s, phone_t& p) {
  worker& w = *s.w;
  auto timeout = std::chrono::nanoseconds(static_cast<int64_t>(g_opt.rt_timeout * 1e9));
  for (int m = 1; m <= g_opt.messages && !g_stop.load(); ++m) {
    if (p.ws->dead) {
      w.error("roundtrip_socket_dead");
      w.st.timeouts += static_cast<uint64_t>(g_opt.messages - m + 1);
      break;
    }
    p.seq++;
    p.expect_cmd = "c" + std::to_string(s.idx) + "-" + std::to_string(m);
    p.got = p.failed = false;
    std::string env;
    env.reserve(256);
    env.append(R"({"schemaVersion":2,"sessionID":")").append(s.sid).append(R"(","seq":)");
    env.append(std::to_string(p.seq)).append(R"(,"timestamp":")").append(g_timestamp);
    env.append(R"(","payload":{"type":"command","payload":{"name":"thread.select","commandID":")");
    env.append(p.expect_cmd).append(R"(","threadID":"bench-thread"}}})");
    p.sent_at = now_ns();
    p.ws->send(std::move(env));
    w.st.sent++;
    uint64_t deadline = p.sent_at + static_cast<uint64_t>(timeout.count());
    for (int spins = 0; spins < 1000 && !p.got && !p.failed; ++spins) {
      uint64_t now = now_ns();
      if (now >= deadline) break;
      co_await p.sig->wait(std::chrono::nanoseconds(deadline - now));
    }
    if (p.got) {
      w.st.roundtrips++;
    } else {
      w.st.timeouts++;
      w.error(p.failed ? "roundtrip_failed" : "roundtrip_timeout");
    }
  }
  p.expect_cmd.clear();
  g_running--;
}

std::string make_event(session_t& s, uint64_t k) {
  std::string m;
  m.reserve(s.event_prefix.size() + s.pad + 96);
  m.append(s.event_prefix).append(std::to_string(++s.desk_seq));
  m.append(R"(,"timestamp":")").append(g_timestamp);
  m.append(
      R"(","payload":{"type":"event","payload":{"name":"thread.message.append","threadID":"bench-thread",)");
  m.append(R"("messageID":"m-)")
      .append(std::to_string(k))
      .append(R"(","role":"assistant","body":"t=)");
  m.append(std::to_string(now_ns())).append(" k=").append(std::to_string(k)).append(" ");
  std::size_t target = static_cast<std::size_t>(std::max(0, g_opt.payload_bytes));
  if (m.size() + 4 < target) m.append(target - m.size() - 4, 'x');
  m.append("\"}}}");
  return m;
}

// Desktop streams events to its phones for --duration: paced at rate_per_session (0 = as fast
// as the window allows). In-flight (sent, not yet received by every phone) is capped by --window
// unless use_window is false (churn: phones come and go).
net::awaitable<void> desktop_stream(session_t& s, double rate_per_session, bool use_window) {
  worker& w = *s.w;
  s.event_prefix = R"({"schemaVersion":2,"sessionID":")" + s.sid + R"(","seq":)";
  if (use_window) s.ring.assign(ring_size(), 0);
  const uint64_t t0 = now_ns();
  const uint64_t end = t0 + static_cast<uint64_t>(g_opt.duration * 1e9);
  const double interval_ns = rate_per_session > 0 ? 1e9 / rate_per_session : 0;
  const uint64_t max_msgs = uint64_t{1} << 36;
  uint64_t k = 0;
  while (k < max_msgs && !g_stop.load(std::memory_order_relaxed)) {
    uint64_t now = now_ns();
    if (now >= end || s.desk->dead) break;
    if (interval_ns > 0) {
      uint64_t due = t0 + static_cast<uint64_t>(static_cast<double>(k) * interval_ns);
      if (due > now) {
        co_await sleep_for(std::chrono::nanoseconds(std::min(due, end) - now));
        continue;
      }
    }
    if (use_window && s.sent - s.completed >= static_cast<uint64_t>(g_opt.window)) {
      w.st.window_stalls++;
      s.window_waiting = true;
      co_await s.window_sig->wait(100ms);
      s.window_waiting = false;
      continue;
    }
    if (!use_window && s.desk->queue.size() > 1024) {  // never build an unbounded local backlog
      co_await sleep_for(1ms);
      continue;
    }
    s.desk->send(make_event(s, k));
    s.sent++;
    w.st.sent++;
    k++;
  }
  // Drain: wait for the in-flight messages to arrive (bounded).
  if (use_window) {
    uint64_t drain_end = now_ns() + static_cast<uint64_t>(g_opt.rt_timeout * 1e9);
    for (int i = 0; i < 100000 && s.completed < s.sent && now_ns() < drain_end; ++i) {
      s.window_waiting = true;
      co_await s.window_sig->wait(10ms);
      s.window_waiting = false;
    }
  } else {
    co_await sleep_for(200ms);
  }
  g_running--;
}

net::awaitable<void> churn_phone(session_t& s, phone_t& p) {
  worker& w = *s.w;
  const uint64_t end = now_ns() + static_cast<uint64_t>(g_opt.duration * 1e9);
  std::uniform_int_distribution<int> dwell(g_opt.min_dwell_ms,
                                           std::max(g_opt.min_dwell_ms, g_opt.max_dwell_ms));
  for (int cycle = 0; cycle < 1000000 && !g_stop.load(); ++cycle) {
    co_await sleep_for(std::chrono::milliseconds(dwell(w.rng)));
    if (now_ns() >= end) break;
    p.ws->close();
    w.st.reconnects++;
    auto c = std::make_shared<ws_client>(w);
    bool ok = co_await ws_connect(*c, g_opt.origin);
    std::optional<json> auth;
    if (ok) auth = co_await ws_auth(c, p.token);
    if (!auth || auth->value("role", "") != "mobile") {
      w.error("churn_reconnect_failed");
      p.ws = c;  // dead client; retry on the next cycle with the same token
      continue;
    }
    p.token = auth->value("nextDeviceSessionToken", p.token);
    p.seq = 0;  // the relay's sequence counter is per connection
    p.ws = c;
    attach_phone(s, p);
    p.ws->send(R"({"type":"relay.snapshot_request","sessionID":")" + s.sid +
               R"(","reason":"bench_reconnect","lastSeq":)" + std::to_string(s.desk_seq) + "}");
    w.st.snapshot_requests++;
  }
  g_running--;
}

net::awaitable<void> pairing_lane(worker& w, std::shared_ptr<std::atomic<int64_t>> budget) {
  http_conn hc;
  const uint64_t end = now_ns() + static_cast<uint64_t>(g_opt.duration * 1e9);
  for (int i = 0; i < 10000000 && !g_stop.load(); ++i) {
    if (now_ns() >= end) break;
    if (budget->fetch_sub(1) <= 0) break;  // --count bound (budget starts huge when unset)
    session_t s;
    s.w = &w;
    uint64_t t0 = now_ns();
    bool ok = co_await setup_session(hc, s, 1);
    if (ok) {
      record_latency(w, t0);
      w.st.flows++;
    } else {
      w.st.setup_failures++;
    }
    close_session(s);
    if (g_opt.stop_sessions && !s.sid.empty()) {
      json stop{{"schemaVersion", 2}, {"sessionID", s.sid}, {"desktopSessionToken", s.dt}};
      auto r = co_await http_call(w, hc, http::verb::post, "/pair/stop", stop.dump(), "");
      if (r.status != 200) w.error("pair_stop_status_" + std::to_string(r.status));
    }
    // Let the readers observe their closed sockets before `s` goes out of scope.
    co_await sleep_for(0ms);
  }
  g_running--;
}

int run(int argc, char** argv) {
  try {
    if (!parse_args(argc, argv)) return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  static const std::map<std::string, scenario> names{
      {"roundtrip", scenario::roundtrip}, {"throughput", scenario::throughput},
      {"fanout", scenario::fanout},       {"connections", scenario::connections},
      {"pairing", scenario::pairing},     {"churn", scenario::churn}};
  auto sit = names.find(g_opt.scenario);
  if (sit == names.end()) {
    usage();
    return 2;
  }
  g_scenario = sit->second;
  if (!resolve_url()) return 2;
  g_opt.threads = std::clamp(g_opt.threads, 1, 64);
  g_timestamp = rfc3339(std::chrono::system_clock::now());

  // Raise our own descriptor limit to the hard limit.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  const long fd_limit = static_cast<long>(rl.rlim_cur);

  json res;
  res["scenario"] = g_opt.scenario;
  if (!g_opt.label.empty()) res["label"] = g_opt.label;
  res["url"] = g_opt.url;
  res["threads"] = g_opt.threads;
  res["relay_pid"] = g_opt.relay_pid;
  res["date"] = rfc3339(std::chrono::system_clock::now());

  int sessions = g_opt.sessions;
  int phones_per_session = 1;
  switch (g_scenario) {
    case scenario::roundtrip:
      sessions = sessions ? sessions : 200;
      break;
    case scenario::throughput:
      sessions = sessions ? sessions : 1;
      break;
    case scenario::fanout:
      sessions = 1;
      phones_per_session = std::max(1, g_opt.phones);
      break;
    case scenario::connections: {
      phones_per_session = std::max(0, g_opt.phones_per_session);
      long cap = std::max<long>(1, fd_limit - 256);
      long target = std::min<long>(g_opt.target, cap);
      res["target_requested"] = g_opt.target;
      res["target_effective"] = target;
      res["loadgen_fd_limit"] = fd_limit;
      if (target < g_opt.target) res["target_capped_by"] = "loadgen RLIMIT_NOFILE hard limit";
      sessions = static_cast<int>((target + phones_per_session) / (1 + phones_per_session));
      break;
    }
    case scenario::pairing:
      sessions = 0;
      break;
    case scenario::churn:
      sessions = sessions ? sessions : 20;
      if (g_opt.rate <= 0) g_opt.rate = 1000;
      break;
  }
  if (g_opt.window <= 0) {  // auto: ~1024 messages in flight in total, 8..128 per session
    g_opt.window =
        g_scenario == scenario::fanout ? 32 : std::clamp(1024 / std::max(1, sessions), 8, 128);
  }
  g_src_ips = g_opt.src_ips > 0 ? g_opt.src_ips
                                : (g_scenario == scenario::connections
                                       ? std::max(1, (g_opt.target + 19999) / 20000 + 1)
                                       : 8);
  res["src_ips"] = g_target.address().is_v4() ? g_src_ips : 0;
  double timeout = g_opt.timeout > 0 ? g_opt.timeout : g_opt.duration + 300;
  auto hard_deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));

  for (int i = 0; i < g_opt.threads; ++i) g_workers.push_back(std::make_unique<worker>());
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& w : g_workers) {
    guards.push_back(net::make_work_guard(w->ioc));
    w->th = std::thread([wp = w.get()] { wp->ioc.run(); });
  }

  json metrics_before = fetch_metrics();
  phase_snapshot before_setup = snap();
  phase_snapshot m0, m1;
  bool aborted = false;
  json extra = json::object();

  auto post_all = [&](auto make) {
    for (std::size_t wi = 0; wi < g_sessions.size(); ++wi)
      for (auto& s : g_sessions[wi])
        if (s->ready) make(*s);
  };
  auto wait_running = [&]() {
    if (!wait_until([] { return g_running.load() == 0; }, hard_deadline)) aborted = true;
  };
  auto do_setup = [&](int n, int nphones) {
    create_sessions(n);
    auto t0 = std::chrono::steady_clock::now();
    start_setup(nphones, g_opt.setup_concurrency);
    if (!wait_until([&] { return g_setup_done + g_setup_failed >= static_cast<uint64_t>(n); },
                    hard_deadline))
      aborted = true;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    extra["setup_seconds"] = round3(secs);
    extra["sessions_ready"] = g_setup_done.load();
    extra["sessions_failed"] = g_setup_failed.load();
  };

  uint64_t cpu_msgs = 0;  // denominator for relay_cpu_us_per_msg
  switch (g_scenario) {
    case scenario::roundtrip: {
      res["sessions"] = sessions;
      res["messages_per_session"] = g_opt.messages;
      do_setup(sessions, 1);
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running++;
        net::co_spawn(s.w->ioc, roundtrip_phone(s, *s.phones[0]), net::detached);
      });
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::throughput:
    case scenario::fanout: {
      res["sessions"] = sessions;
      res["phones_per_session"] = phones_per_session;
      res["rate_requested"] = g_opt.rate;
      res["window"] = g_opt.window;
      res["payload_bytes"] = g_opt.payload_bytes;
      res["duration_s"] = g_opt.duration;
      do_setup(sessions, phones_per_session);
      uint64_t ready = g_setup_done.load();
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running++;
        double per =
            g_opt.rate > 0 ? g_opt.rate / static_cast<double>(std::max<uint64_t>(1, ready)) : 0;
        net::co_spawn(s.w->ioc, desktop_stream(s, per, true), net::detached);
      });
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::connections: {
      res["sessions"] = sessions;
      res["phones_per_session"] = phones_per_session;
      m0 = before_setup;
      do_setup(sessions, phones_per_session);
      phase_snapshot established = snap();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<int64_t>(g_opt.hold * 1000)));
      m1 = snap();
      extra["relay_rss_kib_established"] = established.rss;
      break;
    }
    case scenario::pairing: {
      res["concurrency"] = g_opt.concurrency;
      res["duration_s"] = g_opt.duration;
      res["flow_includes_stop"] = g_opt.stop_sessions;
      auto budget = std::make_shared<std::atomic<int64_t>>(g_opt.count > 0 ? int64_t{g_opt.count}
                                                                           : (int64_t{1} << 62));
      m0 = snap();
      g_measuring = true;
      for (int l = 0; l < g_opt.concurrency; ++l) {
        auto& w = *g_workers[static_cast<std::size_t>(l) % g_workers.size()];
        g_running++;
        net::co_spawn(w.ioc, pairing_lane(w, budget), net::detached);
      }
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::churn: {
      res["sessions"] = sessions;
      res["rate_requested"] = g_opt.rate;
      res["duration_s"] = g_opt.duration;
      do_setup(sessions, 1);
      uint64_t ready = g_setup_done.load();
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running += 2;
        net::co_spawn(s.w->ioc,
                      desktop_stream(
                          s, g_opt.rate / static_cast<double>(std::max<uint64_t>(1, ready)), false),
                      net::detached);
        net::co_spawn(s.w->ioc, churn_phone(s, *s.phones[0]), net::detached);
      });
      json samples = json::array();
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 1000000 && g_running.load() > 0; ++i) {
        if (std::chrono::steady_clock::now() >= hard_deadline) {
          aborted = true;
          break;
        }
        samples.push_back(
            {round3(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()),
             read_rss_kib(g_opt.relay_pid)});
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(10, g_opt.sample_ms)));
      }
      g_measuring = false;
      m1 = snap();
      extra["relay_rss_samples"] = samples;  // [seconds, VmRSS KiB]
      break;
    }
  }

  // Stop everything: close sockets on their own threads, then stop the io_contexts.
  g_stop = true;
  json metrics_after = fetch_metrics();
  for (std::size_t wi = 0; wi < g_sessions.size(); ++wi)
    net::post(g_workers[wi]->ioc, [wi] {
      for (auto& s : g_sessions[wi]) close_session(*s);
    });
  std::this_thread::sleep_for(50ms);
  for (auto& g : guards) g.reset();
  for (auto& w : g_workers) w->ioc.stop();
  for (auto& w : g_workers) w->th.join();

  // Aggregate.
  stats tot;
  std::vector<uint64_t> lat;
  for (auto& w : g_workers) {
    auto& s = w->st;
    tot.sent += s.sent;
    tot.delivered += s.delivered;
    tot.roundtrips += s.roundtrips;
    tot.timeouts += s.timeouts;
    tot.relay_errors += s.relay_errors;
    tot.auth_failures += s.auth_failures;
    tot.http_errors += s.http_errors;
    tot.connect_errors += s.connect_errors;
    tot.setup_failures += s.setup_failures;
    tot.peer_closes += s.peer_closes;
    tot.window_stalls += s.window_stalls;
    tot.flows += s.flows;
    tot.reconnects += s.reconnects;
    tot.snapshot_requests += s.snapshot_requests;
    tot.snapshots_received += s.snapshots_received;
    tot.sockets += s.sockets;
    tot.last_delivery_ns = std::max(tot.last_delivery_ns, s.last_delivery_ns);
    for (auto& [k, v] : s.disconnect_reasons) tot.disconnect_reasons[k] += v;
    for (auto& [k, v] : s.error_kinds) tot.error_kinds[k] += v;
    lat.insert(lat.end(), s.lat_ns.begin(), s.lat_ns.end());
  }
  double elapsed = std::chrono::duration<double>(m1.t - m0.t).count();
  res["elapsed_s"] = round3(elapsed);
  res["sent"] = tot.sent;
  res["delivered"] = tot.delivered;
  json latency = percentiles(lat);
  switch (g_scenario) {
    case scenario::roundtrip:
      res["roundtrips"] = tot.roundtrips;
      res["roundtrips_per_sec"] =
          round3(static_cast<double>(tot.roundtrips) / std::max(1e-9, elapsed));
      cpu_msgs = tot.roundtrips * 2;  // command up + ack down
      break;
    case scenario::throughput:
    case scenario::fanout:
      res["msgs_per_sec"] = round3(static_cast<double>(tot.delivered) / std::max(1e-9, elapsed));
      res["desktop_msgs_per_sec"] = round3(static_cast<double>(tot.sent) / std::max(1e-9, elapsed));
      res["window_stalls"] = tot.window_stalls;
      res["undelivered"] =
          tot.sent * static_cast<uint64_t>(phones_per_session) > tot.delivered
              ? tot.sent * static_cast<uint64_t>(phones_per_session) - tot.delivered
              : 0;
      cpu_msgs = tot.delivered;
      break;
    case scenario::connections: {
      res["sockets_established"] = tot.sockets;
      double setup_s = extra.value("setup_seconds", 0.0);
      res["establish_seconds"] = setup_s;
      res["sockets_per_sec"] = round3(static_cast<double>(tot.sockets) / std::max(1e-9, setup_s));
      if (m0.rss >= 0 && m1.rss >= 0 && tot.sockets > 0)
        res["relay_rss_bytes_per_socket"] = round3(static_cast<double>(m1.rss - m0.rss) * 1024.0 /
                                                   static_cast<double>(tot.sockets));
      cpu_msgs = tot.sockets;
      break;
    }
    case scenario::pairing:
      res["flows"] = tot.flows;
      res["flows_per_sec"] = round3(static_cast<double>(tot.flows) / std::max(1e-9, elapsed));
      cpu_msgs = tot.flows;
      break;
    case scenario::churn:
      res["reconnects"] = tot.reconnects;
      res["snapshot_requests"] = tot.snapshot_requests;
      res["snapshots_received"] = tot.snapshots_received;
      res["msgs_per_sec"] = round3(static_cast<double>(tot.delivered) / std::max(1e-9, elapsed));
      cpu_msgs = tot.delivered + tot.snapshot_requests + tot.snapshots_received;
      break;
  }
  res["latency_us"] = latency;
  uint64_t errors = tot.timeouts + tot.relay_errors + tot.auth_failures + tot.http_errors +
                    tot.connect_errors + tot.setup_failures + tot.peer_closes;
  res["errors"] = errors;
  res["timeouts"] = tot.timeouts;
  res["relay_errors"] = tot.relay_errors;
  res["auth_failures"] = tot.auth_failures;
  res["setup_failures"] = tot.setup_failures;
  res["peer_closes"] = tot.peer_closes;
  res["error_kinds"] = tot.error_kinds;
  res["disconnect_reasons"] = tot.disconnect_reasons;
  json md = metrics_delta(metrics_before, metrics_after);
  res["relay_metrics_delta"] = md;
  uint64_t slow =
      tot.disconnect_reasons.count("slow_consumer") ? tot.disconnect_reasons["slow_consumer"] : 0;
  if (md.contains("slowConsumerDisconnects"))
    slow = std::max<uint64_t>(slow, md["slowConsumerDisconnects"].get<int64_t>());
  res["slow_consumer_disconnects"] = slow;
  res["loadgen_cpu_us"] = round3(m1.self_cpu - m0.self_cpu);
  if (m0.cpu.ok && m1.cpu.ok) {
    double cpu = m1.cpu.tick_us - m0.cpu.tick_us;
    double sched = m1.cpu.sched_us - m0.cpu.sched_us;
    res["relay_cpu_us"] = round3(cpu);
    res["relay_cpu_sched_us"] = round3(sched);
    res["relay_cpu_util"] = round3(sched / std::max(1.0, elapsed * 1e6));
    res["cpu_msgs"] = cpu_msgs;
    res["relay_cpu_us_per_msg"] =
        cpu_msgs ? json(round3(cpu / static_cast<double>(cpu_msgs))) : json(nullptr);
    res["relay_cpu_sched_us_per_msg"] =
        cpu_msgs ? json(round3(sched / static_cast<double>(cpu_msgs))) : json(nullptr);
    if (g_scenario == scenario::pairing)
      res["relay_cpu_us_per_flow"] =
          cpu_msgs ? json(round3(sched / static_cast<double>(cpu_msgs))) : json(nullptr);
    if (m0.allocs >= 0 && m1.allocs >= m0.allocs && cpu_msgs) {
      res["relay_allocs"] = m1.allocs - m0.allocs;
      res["relay_allocs_per_msg"] =
          round3(static_cast<double>(m1.allocs - m0.allocs) / static_cast<double>(cpu_msgs));
    }
    res["relay_rss_kib_before"] = m0.rss;
    res["relay_rss_kib_after"] = m1.rss;
  } else {
    res["relay_cpu_us_per_msg"] = nullptr;
  }
  for (auto& [k, v] : extra.items()) res[k] = v;
  {
    std::ifstream la("/proc/loadavg");
    double l1 = -1;
    la >> l1;
    res["host_loadavg_1m"] =
        l1;  // > ~1.2 on this 2-core box means someone else was using the cores
  }
  res["aborted"] = aborted;
  res["ok"] = !aborted && errors == 0;

  std::string line = res.dump();
  std::cout << line << std::endl;
  if (!g_opt.out.empty()) {
    std::ofstream f(g_opt.out);
    f << line << "\n";
  }
  std::fflush(nullptr);
  // Coroutine frames still parked on the stopped io_contexts own sockets; skip their teardown.
  _exit(aborted ? 3 : 0);
}

}  // namespace loadgen

int main(int argc, char** argv) {
  return loadgen::run(argc, argv);
}
