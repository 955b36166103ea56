#include "actors/front.hpp"

#include "actors/cluster.hpp"
#include "actors/common.hpp"
#include "actors/conn_handler.hpp"
#include "actors/messages.hpp"
#include "protocol/close_reason.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/url.hpp"

namespace rc::actors {

namespace {

std::optional<proto::route> api_route(const std::string& path) {
  if (path == "/pair/start") return proto::route::pair_start;
  if (path == "/pair/join") return proto::route::pair_join;
  if (path == "/pair/refresh") return proto::route::pair_refresh;
  if (path == "/pair/stop") return proto::route::pair_stop;
  if (path == "/devices/list") return proto::route::devices_list;
  if (path == "/devices/revoke") return proto::route::devices_revoke;
  return std::nullopt;
}

bool origin_allowed(const relay_context& ctx, const gw::http_request& r) {
  if (!r.has_origin) return true;
  for (const auto& o : ctx.cfg.allowed_origins)
    if (o == "*") return true;
  auto n = proto::normalize_origin(r.origin);
  if (!n) return false;
  for (const auto& o : ctx.cfg.allowed_origins)
    if (o == *n) return true;
  return false;
}

proto::json health(const relay_context& ctx) {
  auto& m = ctx.metrics;
  return proto::json{{"ok", true},
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

void api(const context_ptr& ctx, const front_refs& refs, gw::http_request& r, proto::route route,
         const std::shared_ptr<gw::http_responder>& resp) {
  proto::framework_error fe{};
  auto req = proto::parse_api_request(route, r.body, fe);
  if (!req) return resp->respond(fe.status, fe.text, "text/plain; charset=utf-8");
  auto& m = ctx->metrics;
  if (route == proto::route::pair_start) m.pair_start_requests.fetch_add(1);
  if (route == proto::route::pair_join) m.pair_join_requests.fetch_add(1);
  if (route == proto::route::pair_refresh) m.pair_refresh_requests.fetch_add(1);
  if (!proto::schema_version_ok(*req))
    return reply_error(resp, 400, "unsupported_schema_version",
                       "Only schemaVersion 2 is supported.");
  if (!origin_allowed(*ctx, r))
    return reply_error(resp, 403, "origin_not_allowed", "Origin is not allowed.");
  caf::anon_send(refs.ip_limiter, api_atom::value, api_call{std::move(*req), r.client_ip, resp});
}

void admin(const context_ptr& ctx, const front_refs& refs, gw::http_request& r,
           const std::shared_ptr<gw::http_responder>& resp) {
  const std::string prefix = "Bearer ";
  bool authorized =
      !ctx->cfg.admin_token.empty() && r.authorization.rfind(prefix, 0) == 0 &&
      proto::constant_time_equal(r.authorization.substr(prefix.size()), ctx->cfg.admin_token);
  if (!authorized) return reply_error(resp, 401, "unauthorized", "Admin token required.");
  // Admin requests go to the broker from a short-lived actor: the front never blocks an io thread.
  auto ask = [&](auto on_reply, auto... args) {
    refs.sys->spawn([resp, broker = refs.broker, on_reply, args...](caf::event_based_actor* self) {
      self->request(broker, std::chrono::seconds(5), args...).then(on_reply, [resp](caf::error& e) {
        reply_error(resp, 500, "admin_failed", caf::to_string(e));
      });
    });
  };
  auto as_body = [resp](const std::string& s) { resp->respond(200, s); };
  if (r.method == "GET" && r.path == "/admin/actors") {
    uint64_t limit = 1000;
    auto q = r.target.find("limit=");
    if (q != std::string::npos)
      limit = std::min<uint64_t>(std::strtoull(r.target.c_str() + q + 6, nullptr, 10), 100000);
    return ask(as_body, describe_atom::value, limit);
  }
  if (r.method == "GET" && r.path == "/admin/cluster") return ask(as_body, members_atom::value);
  if (r.method == "GET" && r.path == "/admin/config")
    return resp->respond(200, node::describe(ctx->cfg));
  if (r.method == "GET" && (r.path == "/admin/metrics" || r.path == "/metricsz"))
    return resp->respond(200, metricsz_json(*ctx));
  const std::string kill_prefix = "/admin/sessions/";
  const std::string kill_suffix = "/kill";
  if (r.method == "POST" && r.path.rfind(kill_prefix, 0) == 0 &&
      r.path.size() > kill_prefix.size() + kill_suffix.size() &&
      r.path.compare(r.path.size() - kill_suffix.size(), kill_suffix.size(), kill_suffix) == 0) {
    std::string sid =
        r.path.substr(kill_prefix.size(), r.path.size() - kill_prefix.size() - kill_suffix.size());
    if (!proto::is_opaque(sid, proto::min_session_id_len))
      return reply_error(resp, 400, "invalid_session", "Bad session id.");
    auto on_kill = [resp, sid](bool found) {
      if (found)
        reply_json(resp, 200, {{"killed", true}, {"sessionID", sid}});
      else
        reply_error(resp, 404, "session_not_found", "Remote session not found.");
    };
    return ask(on_kill, kill_atom::value, sid, proto::close_reason::session_expired);
  }
  if (r.method == "POST" && r.path == "/admin/kill-all") {
    auto on_killed = [resp](uint64_t n) { reply_json(resp, 200, {{"killed", n}}); };
    return ask(on_killed, killall_atom::value, proto::close_reason::session_expired, true);
  }
  resp->respond(404, "");
}

}  // namespace

std::string health_json(const relay_context& ctx) {
  return health(ctx).dump();
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

gw::hooks make_hooks(context_ptr ctx, front_refs refs) {
  gw::hooks h;
  h.log = [ctx](const std::string& line) { ctx->log.raw(line); };
  h.on_ws_open = [ctx, refs](std::shared_ptr<gw::ws_peer> peer) -> std::shared_ptr<gw::ws_handler> {
    return std::make_shared<conn_handler>(ctx, refs.broker, std::move(peer));
  };
  h.on_http = [ctx, refs](gw::http_request&& r, std::shared_ptr<gw::http_responder> resp) {
    if (r.admin) return admin(ctx, refs, r, resp);
    if (auto route = api_route(r.path)) return api(ctx, refs, r, *route, resp);
    bool get = r.method == "GET" || r.method == "HEAD";
    if (r.path == "/healthz")
      return get ? resp->respond(200, health_json(*ctx)) : resp->respond(405, "");
    if (r.path == "/metricsz")
      return get ? resp->respond(200, metricsz_json(*ctx)) : resp->respond(405, "");
    if (r.path == "/metrics")
      return get ? resp->respond(200, prometheus_text(*ctx), "text/plain; version=0.0.4")
                 : resp->respond(405, "");
    if (r.path == "/ws") return resp->respond(get ? 400 : 405, "");
    resp->respond(404, "");
  };
  return h;
}

}  // namespace rc::actors
