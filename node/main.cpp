// relay-node: config → store → actors → gateway; SIGTERM/SIGINT drain and exit 0.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "actors/actors.hpp"
#include "actors/cluster.hpp"
#include "actors/common.hpp"
#include "actors/supervisor.hpp"
#include "caf/all.hpp"
#include "gateway/gateway.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/redis_store.hpp"
#include "persistence/redis_url.hpp"
#include "persistence/sqlite_store.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "settings/config.hpp"

using namespace rc;

namespace {

actors::log_level level_of(const std::string& s) {
  if (s == "debug") return actors::log_level::debug;
  if (s == "warn") return actors::log_level::warn;
  if (s == "error") return actors::log_level::error;
  return actors::log_level::info;
}

}  // namespace

int main(int argc, char** argv) {
  auto loaded = settings::load_config(argc, argv, settings::read_environment());
  if (loaded.help) {
    std::fputs(settings::usage().c_str(), stdout);
    return 0;
  }
  if (!loaded.config) {
    std::fprintf(stderr, "%s\n", loaded.error.c_str());
    return 2;
  }
  if (loaded.print_config) {
    std::printf("%s\n", settings::describe(*loaded.config).c_str());
    return 0;
  }
  const settings::relay_config cfg = *loaded.config;

  // Block the termination signals in every thread; one thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto counters = std::make_shared<gw::counters>();
  auto ctx = std::make_shared<actors::relay_context>(cfg, counters, level_of(cfg.log_level));
  ctx->now_ms = [] { return proto::now_ms(); };
  ctx->started_at_ms = proto::now_ms();
  ctx->instance_id = proto::random_token(10);

  caf::actor_system_config sys_cfg;
  sys_cfg.set("scheduler.max-threads", static_cast<size_t>(cfg.actor_threads));
  // Idle workers: spin briefly, then sleep instead of polling every 50 µs for ~25 ms after each
  // burst (CAF's default), which dominated relay CPU at low message rates.
  sys_cfg.set("work-stealing.aggressive-poll-attempts", size_t{50});
  sys_cfg.set("work-stealing.moderate-poll-attempts", size_t{20});
  sys_cfg.set("work-stealing.moderate-sleep-duration",
              caf::timespan{std::chrono::microseconds(200)});
  sys_cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds(50)});
  caf::actor_system sys{sys_cfg};

  // ---- persistence ----
  std::shared_ptr<persistence::state_store> store;
  if (!cfg.redis_url.empty()) {
    // load_config refused an invalid REDIS_URL, so this parses.
    persistence::redis_store_options o;
    o.url = *persistence::parse_redis_url(cfg.redis_url).value;
    o.key_prefix = cfg.redis_key_prefix;
    store = std::make_shared<persistence::redis_store>(o);
    ctx->metrics.redis_enabled.store(true);
  }
  const bool durable_file = !cfg.state_path.empty();  // load_config: not with REDIS_URL
  if (durable_file) {
    // A corrupt or unreadable file refuses start-up (never a silent reset) unless
    // STATE_QUARANTINE=1 asked to move a corrupt one aside.
    persistence::sqlite_store_options so;
    so.path = cfg.state_path;
    so.quarantine_corrupt = cfg.state_quarantine;
    so.max_sessions = cfg.max_sessions;
    auto opened = persistence::sqlite_store::open(so);
    if (!opened.store) {
      std::fprintf(stderr, "cannot start: %s\n", opened.error.c_str());
      return 1;
    }
    if (!opened.quarantined_to.empty())
      ctx->log(actors::log_level::warn, "node", "corrupt state file moved aside; starting empty",
               ",\"path\":" + actors::json_str(cfg.state_path) +
                   ",\"movedTo\":" + actors::json_str(opened.quarantined_to));
    store = std::shared_ptr<persistence::state_store>(std::move(opened.store));
  }
  if (!store) store = std::make_shared<persistence::memory_store>(cfg.max_sessions);
  auto initial = store->load_all();
  if (durable_file && initial.status != persistence::store_status::ok) {
    std::fprintf(stderr, "cannot start: state file %s: %s\n", cfg.state_path.c_str(),
                 initial.error.c_str());
    return 1;
  }
  if (!initial.skipped.empty())
    ctx->log(actors::log_level::warn, "node", "unreadable session records skipped",
             ",\"count\":" + std::to_string(initial.skipped.size()));
  // /healthz reports redisConnected only once a command succeeded (here, then the loader pings).
  if (ctx->metrics.redis_enabled.load())
    ctx->metrics.redis_healthy.store(initial.status == persistence::store_status::ok);
  if (initial.status != persistence::store_status::ok)
    ctx->log(actors::log_level::warn, "node", "state store unreachable at start; starting empty",
             ",\"error\":" + actors::json_str(initial.error));
  // ---- actors (supervision tree: actors/supervisor.hpp, README "Supervision tree") ----
  // Redis I/O and SQLite fsyncs block: their actor gets a thread of its own. The in-memory store
  // never blocks, so it runs on the shared workers (no thread hand-off on every write). Multi-node:
  // a read-only store connection for lazy/forced reloads (Redis only; a memory store has nothing
  // another node or an earlier run could have written) and the NATS bus.
  std::atomic<bool> fatal{false};
  actors::relay_options ro;
  ro.store = store;
  ro.store_detached = ctx->metrics.redis_enabled.load() || durable_file;  // fsync blocks too
  if (ctx->metrics.redis_enabled.load()) {
    persistence::redis_store_options lo;
    lo.url = *persistence::parse_redis_url(cfg.redis_url).value;
    lo.key_prefix = cfg.redis_key_prefix;
    ro.loader_store = std::make_shared<persistence::redis_store>(lo);
  }
  ro.with_cluster = !cfg.nats_url.empty();
  ro.on_fatal = [&fatal](const std::string&) {
    fatal.store(true);
    kill(getpid(), SIGTERM);  // drained and stopped like a signal, exit status 1
  };
  auto tree = actors::spawn_relay(sys, ctx, std::move(ro));
  auto broker = tree.broker;
  auto limiter = tree.ip_limiter;
  std::size_t restored = 0;
  for (auto& vr : initial.records) {
    caf::anon_send(broker, actors::restore_atom::value, std::move(vr.record), vr.version);
    ++restored;
  }

  // ---- gateway ----
  auto server = gw::make_gateway(ctx, gw::actor_refs{&sys, broker, limiter});
  if (auto err = server->bind(); !err.empty()) {
    std::fprintf(stderr, "invalid configuration: %s\n", err.c_str());
    caf::anon_send_exit(tree.supervisor, caf::exit_reason::user_shutdown);
    return 1;
  }
  ctx->log(actors::log_level::info, "node", "listening",
           ",\"host\":" + actors::json_str(cfg.host) +
               ",\"port\":" + std::to_string(server->port()) +
               ",\"adminPort\":" + std::to_string(server->admin_port()) +
               ",\"tls\":" + (cfg.tls_cert_file.empty() ? "false" : "true") +
               ",\"restoredSessions\":" + std::to_string(restored) + ",\"persistence\":" +
               actors::json_str(durable_file            ? "sqlite"
                                : cfg.redis_url.empty() ? "memory"
                                                        : "redis"));
  if (cfg.admin_token.empty())
    ctx->log(actors::log_level::info, "node",
             "admin endpoint disabled (set ADMIN_TOKEN to enable)");

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    ctx->metrics.shutting_down.store(true);
    ctx->log(actors::log_level::info, "node", "shutdown: draining",
             ",\"signal\":" + std::to_string(sig));
    server->stop_accepting();
    {
      caf::scoped_actor self{sys};
      self->request(broker, std::chrono::seconds(3), actors::shutdown_atom::value)
          .receive([](uint64_t) {},
                   [&](caf::error& e) {
                     ctx->log(actors::log_level::warn, "node", "broker did not confirm the drain",
                              ",\"error\":" + actors::json_str(caf::to_string(e)));
                   });
      // Leave the cluster (peers drop us at once); no session disconnects are published.
      self->request(tree.supervisor, std::chrono::seconds(3), actors::leave_atom::value)
          .receive([](bool) {},
                   [&](caf::error& e) {
                     ctx->log(actors::log_level::warn, "node", "cluster leave not confirmed",
                              ",\"error\":" + actors::json_str(caf::to_string(e)));
                   });
    }
    // Wait for the drain itself: every websocket closed (its disconnect frame flushed) and every
    // HTTP request in progress answered, bounded by the drain timeout (550 ms); then stop.
    auto drain_start = std::chrono::steady_clock::now();
    auto deadline = drain_start + std::chrono::milliseconds(550);
    uint64_t left = server->draining_sockets();
    while (left > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling a counter, bounded
      left = server->draining_sockets();
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - drain_start)
                      .count();
    ctx->log(
        left ? actors::log_level::warn : actors::log_level::info, "node",
        left ? "shutdown: drain timed out" : "shutdown: drained",
        ",\"openSockets\":" + std::to_string(left) + ",\"waitedMs\":" + std::to_string(waited));
    server->stop();
  });
  server->run();
  signal_thread.join();
  caf::anon_send_exit(tree.supervisor, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  ctx->log(actors::log_level::info, "node",
           fatal ? "stopped after a fatal actor failure" : "stopped");
  return fatal ? 1 : 0;
}
