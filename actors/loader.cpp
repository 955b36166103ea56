// Loader actor: a second state_store connection used for reads only (lazy and forced reloads,
// CONFIG_REFERENCE §4.5). Detached: Redis I/O blocks. Pings the store every 2 s to keep
// `redis_healthy` current while nothing is written.
#include "actors/actors.hpp"
#include "actors/common.hpp"

namespace rc::actors {

namespace {

constexpr auto ping_every = std::chrono::seconds(2);

void note_store_health(const context_ptr& ctx, bool healthy) {
  bool was = ctx->metrics.redis_healthy.exchange(healthy);
  if (was && !healthy) ctx->log(log_level::error, "loader", "state store unreachable");
  if (!was && healthy) ctx->log(log_level::info, "loader", "state store reachable again");
}

loader_actor::behavior_type loader_impl(loader_actor::pointer self, context_ptr ctx,
                                        std::shared_ptr<persistence::state_store> store) {
  self->delayed_send(self, ping_every, heartbeat_atom::value);
  return {
      [=](load_atom, const std::string& sid) -> load_reply {
        auto r = load_one(*store, sid);
        note_store_health(ctx, r.status != persistence::store_status::unavailable);
        return r;
      },
      [=](loadall_atom) -> load_all_ptr {
        auto r = std::make_shared<persistence::load_all_result>(store->load_all());
        note_store_health(ctx, r->status != persistence::store_status::unavailable);
        return r;
      },
      [=](epoch_atom, const std::string& create_as) -> std::tuple<std::string, bool> {
        auto r = store->epoch(create_as);
        note_store_health(ctx, r.status != persistence::store_status::unavailable);
        if (r.status != persistence::store_status::ok) return {std::string{}, false};
        return {std::move(r.value), r.created};
      },
      [=](heartbeat_atom) {
        note_store_health(ctx, store->healthy());
        self->delayed_send(self, ping_every, heartbeat_atom::value);
      },
  };
}

}  // namespace

loader_actor spawn_loader(caf::actor_system& sys, context_ptr ctx,
                          std::shared_ptr<persistence::state_store> store, bool detached) {
  if (!detached) return sys.spawn(loader_impl, std::move(ctx), std::move(store));
  return sys.spawn<caf::detached>(loader_impl, std::move(ctx), std::move(store));
}

}  // namespace rc::actors
