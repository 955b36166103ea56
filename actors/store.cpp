// Store actor: owns the state store. Detached (own thread) with Redis so blocking I/O never
// stalls shared workers; on the shared workers with the in-memory store (never blocks).
#include "actors/actors.hpp"
#include "actors/common.hpp"

namespace rc::actors {

load_reply load_one(persistence::state_store& store, const std::string& sid) {
  auto r = store.load(sid);
  load_reply out;
  out.status = r.status;
  out.version = r.version;
  if (r.record) out.record = std::move(*r.record);
  return out;
}

namespace {

store_actor::behavior_type store_impl(store_actor::pointer /*self*/, context_ptr ctx,
                                      std::shared_ptr<persistence::state_store> store) {
  auto write = [=](store_write& w) {
    auto r =
        w.remove ? store->remove(w.record.session_id, w.version) : store->save(w.record, w.version);
    bool unavailable = r.status == persistence::store_status::unavailable;
    bool was_healthy = ctx->metrics.redis_healthy.exchange(!unavailable);
    if (unavailable && was_healthy)
      ctx->log(log_level::error, "store", "state store unavailable",
               ",\"error\":" + json_str(r.error));
    else if (!unavailable && !was_healthy)
      ctx->log(log_level::info, "store", "state store reachable again");
    else if (!r.ok() && r.status != persistence::store_status::stale_version)
      ctx->log(log_level::warn, "store", "write failed",
               ",\"status\":" + json_str(persistence::to_string(r.status)) +
                   sid_field(w.record.session_id));
    return r.status;
  };
  return {
      // Fire-and-forget write (ordinary state changes; the in-memory state stays authoritative).
      [=](save_atom, store_write& w) { write(w); },
      // Write whose outcome the caller needs (mobile token rotation must be durable).
      [=](save_atom, rotated_atom, store_write& w) -> store_status { return write(w); },
      // Load one session (the broker restarts a session that ended abnormally).
      [=](load_atom, const std::string& sid) { return load_one(*store, sid); },
  };
}

}  // namespace

store_actor spawn_store(caf::actor_system& sys, context_ptr ctx,
                        std::shared_ptr<persistence::state_store> store, bool detached) {
  if (detached) return sys.spawn<caf::detached>(store_impl, std::move(ctx), std::move(store));
  return sys.spawn(store_impl, std::move(ctx), std::move(store));
}

}  // namespace rc::actors
