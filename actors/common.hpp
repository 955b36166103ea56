// Small helpers shared by the actor files: HTTP replies, log formatting, admin descriptions.
#pragma once
#include <string>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "caf/all.hpp"
#include "protocol/wire.hpp"

namespace rc::actors {

inline void reply_json(const std::shared_ptr<gw::http_responder>& r, int status,
                       const proto::json& body) {
  r->respond(status, body.dump(-1, ' ', false, proto::json::error_handler_t::replace));
}

inline void reply_error(const std::shared_ptr<gw::http_responder>& r, int status, const char* code,
                        const std::string& message) {
  reply_json(r, status, proto::json{{"error", code}, {"message", message}});
}

/// Wall-clock now of the context.
inline int64_t now_of(const context_ptr& ctx) {
  return ctx->now_ms ? ctx->now_ms() : 0;
}

/// `,"sid":"abc123...wxyz"` for log lines.
std::string sid_field(const std::string& sid);

struct auth_request;
/// A websocket auth from `ip` failed with a wrong credential (malformed, unknown or stale
/// token): counted against WS_AUTH_FAILURES_PER_IP, checked at the next upgrade.
void count_credential_failure(const context_ptr& ctx, const std::string& ip);
/// Rejects an authenticating socket: counts the reason, logs it (never the token) and closes
/// the socket the way RELAY_PROTOCOL §6.4 prescribes (policy close for stale credentials).
void reject_auth(const context_ptr& ctx, auth_request& a, auth_failure why, bool policy);

/// Actor descriptor for the admin tree.
proto::json actor_info(const char* kind, caf::actor_id id, std::size_t mailbox,
                       int64_t spawned_at_ms, int64_t now_ms);

/// Admin view: asks each child actor for its description (bounded wait) and answers with
/// `self_info` plus a `children` array once all replied or timed out (a child that does not
/// answer in time is left out of the array).
template <class Self>
caf::result<std::string> describe_with_children(Self* self, proto::json self_info,
                                                const std::vector<describable_actor>& kids,
                                                std::chrono::milliseconds timeout) {
  self_info["children"] = proto::json::array();
  if (kids.empty()) return self_info.dump();
  auto rp = self->template make_response_promise<std::string>();
  auto acc =
      std::make_shared<std::pair<proto::json, std::size_t>>(std::move(self_info), kids.size());
  for (const auto& k : kids) {
    auto done = [acc, rp]() mutable {
      if (--acc->second == 0) rp.deliver(acc->first.dump());
    };
    self->request(k, timeout, describe_atom::value)
        .then(
            [acc, done](const std::string& s) mutable {
              acc->first["children"].push_back(proto::parse_untrusted(s));
              done();
            },
            [done](caf::error&) mutable { done(); });  // gone or slow: omitted, by design
  }
  return rp;
}

}  // namespace rc::actors
