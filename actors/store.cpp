// Store actor: runs detached (own thread) so blocking Redis I/O never stalls shared workers.
#include "actors/actors.hpp"
#include "actors/common.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

caf::behavior store_impl(caf::event_based_actor* /*self*/, context_ptr ctx,
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
    return static_cast<int>(r.status);
  };
  return {
      // Fire-and-forget write (ordinary state changes; the in-memory state stays authoritative).
      [=](save_atom, store_write& w) { write(w); },
      // Write whose outcome the caller needs (mobile token rotation must be durable).
      [=](save_atom, rotated_atom, store_write& w) -> int { return write(w); },
      // Load one session (supervisor restart).
      [=](restore_atom,
          const std::string& sid) -> caf::result<persistence::session_record, uint64_t> {
        auto r = store->load(sid);
        if (r.status != persistence::store_status::ok || !r.record)
          return caf::make_error(caf::sec::unexpected_message);
        return {std::move(*r.record), r.version};
      },
  };
}

}  // namespace rc::actors
