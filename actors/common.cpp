#include "actors/common.hpp"

#include "actors/messages.hpp"

#include <cstdio>

#include "protocol/close_reason.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

const char* to_string(auth_failure f) {
  static const char* names[] = {"auth_timeout_or_missing_payload",
                                "invalid_auth_payload",
                                "token_not_found",
                                proto::to_string(proto::close_reason::relay_over_capacity),
                                "desktop_session_missing",
                                "mobile_origin_not_allowed",
                                "mobile_session_missing",
                                "device_not_registered",
                                "device_cap_reached",
                                "device_record_missing",
                                "token_rotation_persist_failed"};
  return names[static_cast<std::size_t>(f)];
}

std::string json_str(const std::string& s) {
  return proto::json(s).dump(-1, ' ', false, proto::json::error_handler_t::replace);
}

void logger::operator()(log_level lvl, const std::string& component, const std::string& msg,
                        const std::string& extra) const {
  if (!enabled(lvl)) return;
  static const char* names[] = {"debug", "info", "warn", "error"};
  std::string line = "{\"ts\":" + json_str(proto::format_rfc3339_ms(proto::now_ms())) +
                     ",\"level\":\"" + names[static_cast<int>(lvl)] +
                     "\",\"component\":" + json_str(component) + ",\"msg\":" + json_str(msg) +
                     extra + "}";
  raw(line);
}

void logger::raw(const std::string& line) const {
  std::lock_guard<std::mutex> guard(mtx_);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string sid_field(const std::string& sid) {
  return ",\"sid\":" + json_str(proto::redact_id(sid));
}

proto::json actor_info(const char* kind, caf::actor_id id, std::size_t mailbox,
                       int64_t spawned_at_ms, int64_t now_ms) {
  return proto::json{{"kind", kind},
                     {"actorID", id},
                     {"mailbox", mailbox},
                     {"ageMs", now_ms - spawned_at_ms},
                     {"spawnedAt", proto::format_rfc3339_ms(spawned_at_ms)}};
}

void count_credential_failure(const context_ptr& ctx, const std::string& ip) {
  if (ctx->io)
    ctx->io->auth_failures.record(ip, ctx->cfg.ws_auth_failures_per_ip,
                                  ctx->cfg.ws_auth_failure_window());
}

void reject_auth(const context_ptr& ctx, auth_request& a, auth_failure why, bool policy) {
  ctx->metrics.fail(why);
  // Policy rejects are exactly the stale or unknown credentials (RELAY_PROTOCOL §6.4); over
  // capacity, a disallowed origin, a full device list or a store outage are not the client's
  // guess and are not counted.
  if (policy) count_credential_failure(ctx, a.peer->client_ip());
  ctx->log(log_level::info, "auth", "ws_auth_failure",
           ",\"reason\":" + json_str(to_string(why)) +
               ",\"remote_ip\":" + json_str(a.peer->client_ip()));
  auto h = a.handler;
  a.peer->post([h] {
    if (auto hh = h.lock()) hh->rejected();
  });
  if (policy)
    a.peer->reject_policy();
  else if (why == auth_failure::relay_over_capacity)
    a.peer->disconnect(proto::close_reason::relay_over_capacity);
  else
    a.peer->drop();
}

}  // namespace rc::actors
