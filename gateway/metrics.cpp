// Rendering of /healthz, /metricsz (JSON) and /metrics (Prometheus text) from the lock-free
// gauges and counters of the relay context. No CAF, no Boost.
#include "gateway/metrics.hpp"

#include "protocol/close_reason.hpp"
#include "protocol/time.hpp"
#include "protocol/wire.hpp"

namespace rc::gw {

using namespace actors;

namespace {

proto::json health(const relay_context& ctx) {
  auto& m = ctx.metrics;
  bool draining = m.shutting_down.load();
  bool bus_ok = !m.bus_enabled.load() || m.bus_connected.load();
  bool redis_ok = !m.redis_enabled.load() || m.redis_healthy.load();
  return proto::json{{"ok", !draining && bus_ok && redis_ok},
                     {"draining", draining},
                     {"sessions", m.sessions.load()},
                     {"activeWebSockets", m.active_websockets.load()},
                     {"pendingJoinWaiters", m.pending_join_waiters.load()},
                     {"deviceTokens", m.device_tokens.load()},
                     {"busSubscriptions", m.bus_subscriptions.load()},
                     {"crossInstanceBusEnabled", m.bus_enabled.load()},
                     {"busConnected", m.bus_enabled.load() && m.bus_connected.load()},
                     {"redisPersistenceEnabled", m.redis_enabled.load()},
                     {"redisConnected", m.redis_enabled.load() && m.redis_healthy.load()},
                     {"instanceID", ctx.instance_id},
                     {"nodeName", ctx.cfg.node_name},
                     {"now", proto::format_rfc3339_ms(proto::now_ms())}};
}

}  // namespace

std::string health_json(const relay_context& ctx) {
  return health(ctx).dump();
}

int health_status(const relay_context& ctx) {
  return ctx.metrics.shutting_down.load() ? 503 : 200;
}

std::string metricsz_json(const relay_context& ctx) {
  auto j = health(ctx);
  auto& m = ctx.metrics;
  auto& io = *ctx.io;
  j["sessionsWithDesktop"] = m.sessions_with_desktop.load();
  j["sessionsWithMobile"] = m.sessions_with_mobile.load();
  j["rateLimitBuckets"] = m.ip_buckets.load();
  j["commandRateLimitBuckets"] = m.command_buckets.load();
  j["snapshotRateLimitBuckets"] = m.snapshot_buckets.load();
  j["outboundSendFailures"] = io.outbound_send_failures.load();
  j["slowConsumerDisconnects"] = io.slow_consumer_disconnects.load();
  auto pair = [&](const char* name, uint64_t req, uint64_t ok) {
    j[std::string(name) + "Requests"] = req;
    j[std::string(name) + "Successes"] = ok;
    j[std::string(name) + "Failures"] = req >= ok ? req - ok : 0;
  };
  pair("pairStart", m.pair_start_requests.load(), m.pair_start_successes.load());
  pair("pairJoin", m.pair_join_requests.load(), m.pair_join_successes.load());
  pair("pairRefresh", m.pair_refresh_requests.load(), m.pair_refresh_successes.load());
  uint64_t attempts = io.ws_auth_attempts.load(), ok = m.ws_auth_successes.load();
  j["wsAuthAttempts"] = attempts;
  j["wsAuthSuccesses"] = ok;
  j["wsAuthFailures"] = attempts >= ok ? attempts - ok : 0;
  proto::json reasons = proto::json::object();
  for (std::size_t i = 0; i < static_cast<std::size_t>(auth_failure::count_); ++i)
    if (auto v = m.auth_failures[i].load()) reasons[to_string(static_cast<auth_failure>(i))] = v;
  j["wsAuthFailureReasons"] = reasons;
  j["messagesDesktopToMobile"] = m.messages_desktop_to_mobile.load();
  j["messagesMobileToDesktop"] = m.messages_mobile_to_desktop.load();
  j["sessionsClosed"] = m.sessions_closed.load();
  proto::json closes = proto::json::object(), session_closes = proto::json::object();
  for (auto r : proto::all_close_reasons()) {
    auto i = static_cast<std::size_t>(r);
    closes[proto::to_string(r)] = io.closes[i].load();
    session_closes[proto::to_string(r)] = m.session_closes[i].load();
  }
  j["disconnectReasons"] = closes;
  j["sessionCloseReasons"] = session_closes;
  return j.dump();
}

std::string prometheus_text(const relay_context& ctx) {
  auto& m = ctx.metrics;
  auto& io = *ctx.io;
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double v,
                    const std::string& labels = "") {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + labels + " " + std::to_string(static_cast<int64_t>(v)) + "\n";
  };
  metric("relay_sessions", "gauge", "Sessions held by this node.", m.sessions.load());
  metric("relay_active_websockets", "gauge", "Authenticated websockets.",
         m.active_websockets.load());
  metric("relay_open_sockets", "gauge", "Open websocket connections (incl. authenticating).",
         io.ws_open.load());
  metric("relay_preauth_sockets", "gauge", "Websockets not yet authenticated.",
         io.ws_preauth.load());
  metric("relay_preauth_refused_total", "counter",
         "Websocket upgrades refused (503) at MAX_PREAUTH_WEBSOCKETS.",
         io.ws_preauth_refused.load());
  metric("relay_gateway_handler_errors_total", "counter",
         "Requests a route never answered, admin requests the broker did not answer (logged).",
         io.handler_errors.load());
  metric("relay_tls_handshake_failures_total", "counter", "Failed TLS handshakes.",
         io.tls_handshake_failures.load());
  metric("relay_per_ip_refused_total", "counter",
         "Connections closed at accept at MAX_CONNECTIONS_PER_IP.", io.per_ip_refused.load());
  metric("relay_ws_auth_failure_refused_total", "counter",
         "Websocket upgrades refused (429) because their address was at WS_AUTH_FAILURES_PER_IP.",
         io.auth_failure_refused.load());
  metric("relay_ws_auth_failure_addresses", "gauge",
         "Addresses with websocket auth failures in their current window.",
         static_cast<double>(io.auth_failures.addresses()));
  metric("relay_store_load_failures_total", "counter",
         "API calls answered 503 state_store_unavailable: their session's load failed (logged).",
         m.store_load_failures.load());
  metric("relay_pending_join_waiters", "gauge", "Pairing requests waiting for the desktop.",
         m.pending_join_waiters.load());
  metric("relay_device_tokens", "gauge", "Entries in the device token index.",
         m.device_tokens.load());
  metric("relay_device_actors", "gauge", "Live device actors.", m.device_actors.load());
  metric("relay_limiter_actors", "gauge", "Live rate limiter actors.", m.limiter_actors.load());
  metric("relay_outbound_send_failures_total", "counter", "Frames that could not be queued.",
         io.outbound_send_failures.load());
  metric("relay_slow_consumer_disconnects_total", "counter", "Sockets closed as slow consumers.",
         io.slow_consumer_disconnects.load());
  metric("relay_ws_auth_attempts_total", "counter", "Websocket upgrades.",
         io.ws_auth_attempts.load());
  metric("relay_ws_auth_successes_total", "counter", "Websockets that reached auth_ok.",
         m.ws_auth_successes.load());
  metric("relay_frames_in_total", "counter", "Websocket frames received.", io.frames_in.load());
  metric("relay_frames_out_total", "counter", "Websocket frames written.", io.frames_out.load());
  metric("relay_http_requests_total", "counter", "HTTP requests.", io.http_requests.load());
  metric("relay_pair_join_successes_total", "counter", "Completed pairings.",
         m.pair_join_successes.load());
  out +=
      "# HELP relay_ws_auth_failures_total Websocket auth failures by reason.\n# TYPE "
      "relay_ws_auth_failures_total counter\n";
  for (std::size_t i = 0; i < static_cast<std::size_t>(auth_failure::count_); ++i)
    out += std::string("relay_ws_auth_failures_total{reason=\"") +
           to_string(static_cast<auth_failure>(i)) + "\"} " +
           std::to_string(m.auth_failures[i].load()) + "\n";
  metric("relay_messages_desktop_to_mobile_total", "counter", "Desktop frames routed to phones.",
         m.messages_desktop_to_mobile.load());
  metric("relay_messages_mobile_to_desktop_total", "counter", "Phone frames received.",
         m.messages_mobile_to_desktop.load());
  auto by_reason = [&](const char* name, const char* help, auto value_of) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    for (auto r : proto::all_close_reasons())
      out += std::string(name) + "{reason=\"" + proto::to_string(r) + "\"} " +
             std::to_string(value_of(static_cast<std::size_t>(r))) + "\n";
  };
  by_reason("relay_disconnects_total", "Websockets closed by the relay, by disconnect reason.",
            [&](std::size_t i) { return io.closes[i].load(); });
  by_reason("relay_sessions_closed_total", "Sessions ended, by close reason.",
            [&](std::size_t i) { return m.session_closes[i].load(); });
  return out;
}

}  // namespace rc::gw
