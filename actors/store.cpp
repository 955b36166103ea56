// Store actor: owns the state store. Detached (own thread) with Redis so blocking I/O never
// stalls shared workers; on the shared workers with the in-memory store (never blocks).
#include "actors/actors.hpp"
#include "actors/common.hpp"
#include "persistence/redis_store.hpp"

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

/// At most this many write attempts per store_write (first try + conflict retries).
constexpr int max_write_attempts = 4;

/// The compare-and-set loop: on stale_version the stored copy is loaded, merged and written
/// with stored + 1. Bounded in attempts; each attempt is bounded by the store's timeouts.
write_reply write_cas(persistence::state_store& store, store_write& w) {
  using persistence::store_status;
  write_reply out;
  const auto& sid = w.record.session_id;
  persistence::session_record rec = w.record;
  persistence::session_record base = std::move(w.base);
  uint64_t version = w.version;
  bool merged = false;
  uint64_t read_version = 0;  ///< stored version this write is based on (0: none stored)
  if (!w.remove) {
    // A version above the stored one is not proof that the writer saw the stored copy: counters
    // advance on writes that never reached the store (Redis down) and diverge after Redis lost
    // its data, and such a writer's stale copy used to overwrite another node's newer write
    // (a rotated phone token vanished: 1008, found by scripts/chaos.sh). What is stored now is
    // compared with the copy this write is based on; if another writer changed it, the change
    // is merged first (three-way, as on stale_version).
    auto cur = store.load(sid);
    if (cur.status == store_status::unavailable) {
      out.status = store_status::unavailable;
      out.version = version;
      return out;
    }
    if (cur.status == store_status::ok && cur.record && !(*cur.record == base)) {
      rec = persistence::merge3(base, rec, *cur.record);
      base = std::move(*cur.record);
      merged = true;
      version = std::max<uint64_t>(version, cur.version + 1);
    }
    read_version = cur.version;
  }
  // Redis (shared by the nodes) also checks, in the save script, that the stored version is
  // still the one just read: no other writer slipped in between (else stale_version → merge).
  auto* redis = dynamic_cast<persistence::redis_store*>(&store);
  for (int attempt = 0; attempt < max_write_attempts; ++attempt) {
    auto r = w.remove ? store.remove(sid, version)
             : redis  ? redis->save_expecting(rec, version, read_version)
                      : store.save(rec, version);
    out.status = r.status;
    out.version = version;
    if (r.status != store_status::stale_version) {
      if (r.ok() && merged) out.merged = std::move(rec);
      return out;
    }
    auto cur = store.load(sid);
    out.version = cur.version;
    if (cur.status == store_status::unavailable) {
      out.status = store_status::unavailable;
      return out;
    }
    if (cur.status != store_status::ok || !cur.record) {
      // Deleted by another writer (tombstone at or above ours): a delete is done, a save
      // must not resurrect it.
      if (w.remove) out.status = store_status::ok;
      return out;
    }
    version = cur.version + 1;
    read_version = cur.version;
    if (!w.remove) {
      rec = persistence::merge3(base, rec, *cur.record);
      base = std::move(*cur.record);
      merged = true;
    }
  }
  return out;  // still stale after the bounded retries
}

store_actor::behavior_type store_impl(store_actor::pointer /*self*/, context_ptr ctx,
                                      std::shared_ptr<persistence::state_store> store) {
  auto write = [=](store_write& w) {
    auto r = write_cas(*store, w);
    bool unavailable = r.status == persistence::store_status::unavailable;
    bool was_healthy = ctx->metrics.redis_healthy.exchange(!unavailable);
    if (unavailable && was_healthy)
      ctx->log(log_level::error, "store", "state store unavailable",
               sid_field(w.record.session_id));
    else if (!unavailable && !was_healthy)
      ctx->log(log_level::info, "store", "state store reachable again");
    else if (r.status != persistence::store_status::ok)
      ctx->log(log_level::warn, "store", "write failed",
               ",\"status\":" + json_str(persistence::to_string(r.status)) +
                   sid_field(w.record.session_id));
    return r;
  };
  return {
      // Fire-and-forget write (deletes; the in-memory state stays authoritative).
      [=](save_atom, store_write& w) { write(w); },
      // Write whose outcome the caller needs (version, merged record, rotation durability).
      [=](save_atom, rotated_atom, store_write& w) -> write_reply { return write(w); },
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
