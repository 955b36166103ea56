// Per-IP limiter in front of the broker: every pairing and management request passes here
// (RELAY_PROTOCOL §10, MAX_PAIR_REQUESTS_PER_MINUTE) before it reaches the broker.
#include <unordered_map>

#include "actors/actors.hpp"
#include "actors/common.hpp"

namespace rc::actors {

namespace {

/// Hard bound on per-IP buckets; when full and nothing has expired, new IPs are refused (429).
constexpr std::size_t max_ip_buckets = 200000;

const char* limit_message(proto::route r) {
  return r == proto::route::pair_start || r == proto::route::pair_join
             ? "Too many pairing attempts. Try again in a minute."
             : "Too many relay management requests. Try again in a minute.";
}

struct ip_limiter_state {
  std::unordered_map<std::string, fixed_window> buckets;
  int64_t spawned_at = 0;
  static inline const char* name = "ip_limiter";
};

ip_limiter_actor::behavior_type ip_limiter_impl(
    ip_limiter_actor::stateful_pointer<ip_limiter_state> self, context_ptr ctx,
    broker_actor broker) {
  self->state.spawned_at = now_of(ctx);
  ctx->metrics.limiter_actors.fetch_add(1);
  self->attach_functor([ctx] { ctx->metrics.limiter_actors.fetch_sub(1); });
  auto prune = [self, ctx](int64_t now) {
    auto& b = self->state.buckets;
    for (auto it = b.begin(); it != b.end();)
      it = it->second.expired(now) ? b.erase(it) : std::next(it);
    ctx->metrics.ip_buckets.store(static_cast<int64_t>(b.size()));
  };
  return {
      [=](api_atom, api_call& call) {
        int64_t now = now_of(ctx);
        auto& b = self->state.buckets;
        auto it = b.find(call.client_ip);
        if (it == b.end()) {
          if (b.size() >= max_ip_buckets) prune(now);
          if (b.size() >= max_ip_buckets) {
            reply_error(call.responder, 429, "rate_limited", limit_message(call.req.r));
            return;
          }
          it = b.emplace(call.client_ip, fixed_window{}).first;
          ctx->metrics.ip_buckets.store(static_cast<int64_t>(b.size()));
        }
        if (!it->second.consume(now, ctx->cfg.max_pair_requests_per_minute)) {
          reply_error(call.responder, 429, "rate_limited", limit_message(call.req.r));
          return;
        }
        self->send(broker, api_atom::value, std::move(call));
      },
      [=](prune_atom) { prune(now_of(ctx)); },
      [=](describe_atom) -> std::string {
        auto j = actor_info("rate_limiter", self->id(), self->mailbox().size(),
                            self->state.spawned_at, now_of(ctx));
        j["scope"] = "client_ip";
        j["buckets"] = self->state.buckets.size();
        return j.dump();
      },
  };
}

}  // namespace

ip_limiter_actor spawn_ip_limiter(caf::actor_system& sys, context_ptr ctx, broker_actor broker) {
  return sys.spawn(ip_limiter_impl, std::move(ctx), std::move(broker));
}

}  // namespace rc::actors
