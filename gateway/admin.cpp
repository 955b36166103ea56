// The admin listener's routes (ADMIN_TOKEN bearer, constant-time compare): actor tree, cluster
// members, effective config, metrics, kill one session / all sessions.
#include "gateway/admin.hpp"

#include "actors/cluster.hpp"
#include "actors/common.hpp"
#include "actors/messages.hpp"
#include "gateway/metrics.hpp"
#include "protocol/tokens.hpp"

namespace rc::gw {

using namespace actors;

void admin_route(const context_ptr& ctx, const actor_refs& refs, http_request& r,
                 const std::shared_ptr<http_responder>& resp) {
  const std::string prefix = "Bearer ";
  bool authorized =
      !ctx->cfg.admin_token.empty() && r.authorization.rfind(prefix, 0) == 0 &&
      proto::constant_time_equal(r.authorization.substr(prefix.size()), ctx->cfg.admin_token);
  if (!authorized) return reply_error(resp, 401, "unauthorized", "Admin token required.");
  // Admin requests go to the broker from a short-lived actor: the front never blocks an io thread.
  auto ask = [&](auto on_reply, auto... args) {
    refs.sys->spawn([ctx, resp, broker = refs.broker, path = r.path, on_reply,
                     args...](caf::event_based_actor* self) {
      self->request(broker, std::chrono::seconds(5), args...)
          .then(on_reply, [ctx, resp, path](caf::error& e) {
            ctx->io->handler_errors.fetch_add(1, std::memory_order_relaxed);
            ctx->log(log_level::warn, "admin", "admin request failed",
                     ",\"path\":" + json_str(path) + ",\"error\":" + json_str(caf::to_string(e)));
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
    return resp->respond(200, settings::describe(ctx->cfg));
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

}  // namespace rc::gw
