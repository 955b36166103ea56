// The node's supervision tree: who monitors whom and what happens when an actor fails.
// `supervision_tree()` is the single statement of the policy; the README's "Supervision tree"
// table is checked against it by tests/unit/supervisor_test.cpp, and the node supervisor
// reports its live children with the same names and policies.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/actors.hpp"

namespace rc::actors {

enum class restart_policy {
  restart,    ///< replaced by a fresh actor (bounded: max_restarts within restart_window_ms)
  escalate,   ///< its failure ends its parent, whose own policy applies
  fail_node,  ///< its failure stops the node (exit status 1; state comes back from the store)
};
const char* to_string(restart_policy p);

/// A restartable child that fails more often than this within the window fails the node.
inline constexpr int max_restarts = 3;
inline constexpr int64_t restart_window_ms = 60000;

/// One edge of the tree.
struct supervision_entry {
  const char* parent;
  const char* child;
  restart_policy policy;
  const char* restart;  ///< what a restart (or failure) does, in one line
};
const std::vector<supervision_entry>& supervision_tree();

/// The node's long-lived actors as spawned by spawn_relay.
struct relay_actors {
  supervisor_actor supervisor;
  broker_actor broker;
  ip_limiter_actor ip_limiter;
  store_actor store;
  loader_actor loader;    ///< empty without a loader store
  cluster_actor cluster;  ///< as first spawned (the supervisor may replace it); empty without NATS
};

struct relay_options {
  std::shared_ptr<persistence::state_store> store;
  bool store_detached = false;                             ///< blocking store (Redis)
  std::shared_ptr<persistence::state_store> loader_store;  ///< null: no loader (single node)
  bool loader_detached = true;  ///< false only in tests (deterministic scheduler)
  bool with_cluster = false;    ///< NATS_URL set
  /// Called once (from an actor thread) when a fail_node child failed; the node must stop.
  std::function<void(const std::string& child)> on_fatal;
};

/// A monitored child of the node supervisor.
struct child_slot {
  std::string name;
  caf::actor_addr addr;
  std::vector<int64_t> restarts;  ///< restart times within the window
  uint64_t restart_total = 0;
  bool alive = true;
};

struct supervisor_state {
  std::vector<child_slot> children;
  relay_actors handles;  ///< current handles (a restarted child replaces its entry)
  relay_options opts;
  bool fatal = false;
  static inline const char* name = "supervisor";
};

/// Spawns store, broker, ip limiter, loader and cluster, attaches them to each other, and the
/// supervisor that monitors them.
relay_actors spawn_relay(caf::actor_system& sys, context_ptr ctx, relay_options opts);

}  // namespace rc::actors
