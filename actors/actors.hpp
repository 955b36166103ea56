// Spawn functions of the relay's actors. One actor per file; messages in messages.hpp.
//
//   broker ─┬─ session (one per sessionID) ─┬─ device (one per trusted device)
//           │                               └─ rate_limiter (session + device budgets)
//           ├─ rate_limiter (per client IP, pairing/management endpoints)
//           └─ store (detached; memory or Redis)
#pragma once
#include <vector>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "persistence/state_store.hpp"

namespace rc::actors {

struct ip_limiter_state;
struct session_limiter_state;
struct device_state;
struct session_state;
struct broker_state;

/// Fixed-window bucket (RELAY_PROTOCOL §10): new buckets start at count 0.
struct fixed_window {
  uint64_t count = 0;
  int64_t window_end = 0;
  /// Consumes one unit at `now` (ms); true when allowed.
  bool consume(int64_t now, uint64_t limit, int64_t window_ms = 60000) {
    if (window_end == 0) window_end = now + window_ms;
    if (now >= window_end) {
      count = 1;
      window_end = now + window_ms;
      return true;
    }
    ++count;
    return count <= limit;
  }
  bool expired(int64_t now) const { return now >= window_end; }
};

/// Per-IP limiter in front of the broker: `api_call` in, forwarded to `broker` or answered 429.
caf::behavior ip_limiter_impl(caf::stateful_actor<ip_limiter_state>* self, context_ptr ctx,
                              caf::actor broker);

/// Per-session limiter: session command budget and per-device command/snapshot budgets.
caf::behavior session_limiter_impl(caf::stateful_actor<session_limiter_state>* self,
                                   context_ptr ctx, std::string session_id);

/// One trusted device: validates its socket's frames, sequence and budgets.
caf::behavior device_impl(caf::stateful_actor<device_state>* self, context_ptr ctx,
                          caf::actor session, caf::actor limiter, std::string session_id,
                          std::string device_id, bool desktop_connected);

/// One session: pairing, routing, presence.
caf::behavior session_impl(caf::stateful_actor<session_state>* self, context_ptr ctx,
                           caf::actor broker, caf::actor store, std::string session_id);

/// Supervisor: session registry, token index, sweep, kill switch, admin view.
caf::behavior broker_impl(caf::stateful_actor<broker_state>* self, context_ptr ctx,
                          caf::actor store);

// Spawn helpers (the state types are private to each actor's file).
caf::actor spawn_ip_limiter(caf::actor_system& sys, context_ptr ctx, caf::actor broker);
caf::actor spawn_session_limiter(caf::event_based_actor* parent, context_ptr ctx,
                                 std::string session_id);
caf::actor spawn_device(caf::event_based_actor* parent, context_ptr ctx, caf::actor session,
                        caf::actor limiter, std::string session_id, std::string device_id,
                        bool desktop_connected);
caf::actor spawn_session(caf::event_based_actor* parent, context_ptr ctx, caf::actor broker,
                         caf::actor store, std::string session_id);
caf::actor spawn_broker(caf::actor_system& sys, context_ptr ctx, caf::actor store);

/// Detached actor owning the state store (blocking I/O never runs on shared workers).
/// Messages: (save_atom, store_write) -> persistence::store_status as int;
/// (loadall_atom) -> load_all_result (wrapped).
caf::behavior store_impl(caf::event_based_actor* self, context_ptr ctx,
                         std::shared_ptr<persistence::state_store> store);

}  // namespace rc::actors
