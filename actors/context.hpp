// What every relay actor shares: the validated config, lock-free counters and the logger.
// Gauges are atomics written by the actor that owns the underlying state and read by anyone
// (health endpoints, metrics). One admission check reads a gauge that other actors write: the
// websocket cap (active_websockets), so concurrent auths on different sessions may overshoot
// MAX_ACTIVE_WEBSOCKET_CONNECTIONS by the number of sessions authenticating at that moment.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/socket.hpp"
#include "protocol/close_reason.hpp"
#include "settings/config.hpp"

namespace rc::actors {

/// WS auth failure reasons (RELAY_PROTOCOL §6.5), in a fixed order.
enum class auth_failure : std::size_t {
  auth_timeout_or_missing_payload,
  invalid_auth_payload,
  token_not_found,
  relay_over_capacity,
  desktop_session_missing,
  mobile_origin_not_allowed,
  mobile_session_missing,
  device_not_registered,
  device_cap_reached,
  device_record_missing,
  token_rotation_persist_failed,
  count_
};
const char* to_string(auth_failure f);

struct relay_metrics {
  // counters
  std::atomic<uint64_t> pair_start_requests{0}, pair_start_successes{0};
  std::atomic<uint64_t> pair_join_requests{0}, pair_join_successes{0};
  std::atomic<uint64_t> pair_refresh_requests{0}, pair_refresh_successes{0};
  std::atomic<uint64_t> ws_auth_successes{0};
  std::array<std::atomic<uint64_t>, static_cast<std::size_t>(auth_failure::count_)> auth_failures{};
  std::atomic<uint64_t> messages_desktop_to_mobile{0}, messages_mobile_to_desktop{0};
  std::atomic<uint64_t> sessions_closed{0};
  /// API calls answered 503 state_store_unavailable because the lazy load of their session
  /// failed (store unreachable or no answer in time); logged (first, then every 100th).
  std::atomic<uint64_t> store_load_failures{0};
  /// Sessions ended, per reason (the reason their sockets were told).
  std::array<std::atomic<uint64_t>, proto::close_reason_count> session_closes{};
  // gauges
  std::atomic<int64_t> sessions{0};
  std::atomic<int64_t> active_websockets{0};
  std::atomic<int64_t> pending_join_waiters{0};
  std::atomic<int64_t> device_tokens{0};
  std::atomic<int64_t> sessions_with_desktop{0};
  std::atomic<int64_t> sessions_with_mobile{0};
  std::atomic<int64_t> ip_buckets{0};
  std::atomic<int64_t> command_buckets{0};
  std::atomic<int64_t> snapshot_buckets{0};
  std::atomic<int64_t> device_actors{0};
  std::atomic<int64_t> limiter_actors{0};
  std::atomic<int64_t> bus_subscriptions{0};
  std::atomic<bool> bus_enabled{false};
  std::atomic<bool> bus_connected{false};
  std::atomic<bool> redis_enabled{false};
  std::atomic<bool> redis_healthy{true};
  std::atomic<bool> shutting_down{false};

  void fail(auth_failure f) { auth_failures[static_cast<std::size_t>(f)].fetch_add(1); }
  void close_session(proto::close_reason r) {
    sessions_closed.fetch_add(1);
    session_closes[static_cast<std::size_t>(r)].fetch_add(1);
  }
};

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

/// JSON-lines logger. Callers pass already-escaped extra fields; tokens are never passed in.
class logger {
 public:
  explicit logger(log_level min = log_level::info) : min_(min) {}
  void operator()(log_level lvl, const std::string& component, const std::string& msg,
                  const std::string& extra = "") const;
  void raw(const std::string& line) const;
  bool enabled(log_level lvl) const { return lvl >= min_; }

 private:
  log_level min_;
  mutable std::mutex mtx_;
};

std::string json_str(const std::string& s);  ///< quoted, escaped JSON string

struct relay_context {
  /// Immutable after start (the node and the tests build a new context for another config).
  const settings::relay_config cfg;
  std::shared_ptr<gw::counters> io;  ///< gateway counters (send failures, sockets)
  relay_metrics metrics;
  logger log;
  int64_t started_at_ms = 0;
  std::string instance_id;
  /// Wall clock (epoch ms); replaceable by tests for deterministic time.
  std::function<int64_t()> now_ms;

  relay_context(settings::relay_config c, std::shared_ptr<gw::counters> ctr, log_level lvl)
      : cfg(std::move(c)), io(std::move(ctr)), log(lvl) {}
};

using context_ptr = std::shared_ptr<relay_context>;

}  // namespace rc::actors
