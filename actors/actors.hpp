// Spawn functions of the relay's actors (one actor per file; the schema and the typed
// interfaces are in messages.hpp; the supervision tree is in supervisor.hpp).
#pragma once
#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/fixed_window.hpp"
#include "actors/messages.hpp"
#include "persistence/state_store.hpp"

namespace rc::actors {

/// One store read as a typed reply (store and loader actors).
load_reply load_one(persistence::state_store& store, const std::string& sid);

/// Store actor on the shared workers (memory store) or detached (Redis: blocking I/O).
store_actor spawn_store(caf::actor_system& sys, context_ptr ctx,
                        std::shared_ptr<persistence::state_store> store, bool detached);

/// Read-only store connection for reloads (detached: blocking I/O; not detached only in tests).
loader_actor spawn_loader(caf::actor_system& sys, context_ptr ctx,
                          std::shared_ptr<persistence::state_store> store, bool detached = true);

/// NATS bus actor (detached). `broker` receives (bus_atom, envelope) for session subjects and
/// control messages, and (gone_atom, instance id) for departed members.
cluster_actor spawn_cluster(caf::actor_system& sys, context_ptr ctx, broker_actor broker);

/// Per-IP limiter in front of the broker: `api_call` in, forwarded to `broker` or answered 429.
ip_limiter_actor spawn_ip_limiter(caf::actor_system& sys, context_ptr ctx, broker_actor broker);

/// Per-session limiter, linked to its session (`parent`).
session_limiter_actor spawn_session_limiter(caf::local_actor* parent, context_ptr ctx,
                                            std::string session_id);

/// One trusted device, linked to its session (`parent`).
device_actor spawn_device(caf::local_actor* parent, context_ptr ctx, session_actor session,
                          session_limiter_actor limiter, std::string session_id,
                          std::string device_id, bool desktop_connected);

/// One session, monitored by the broker (`parent`), which restarts it from the store.
session_actor spawn_session(caf::local_actor* parent, context_ptr ctx, broker_actor broker,
                            store_actor store, std::string session_id);

/// The broker: session registry, token index, sweeper, kill switch, admin view.
broker_actor spawn_broker(caf::actor_system& sys, context_ptr ctx, store_actor store);

}  // namespace rc::actors
