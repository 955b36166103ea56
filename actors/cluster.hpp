// Multi-node pieces (CONFIG_REFERENCE §4-§5): the cluster actor (owns the NATS bus, signs and
// verifies envelopes, tracks membership) and the loader actor (reads the state store for lazy
// and forced reloads). Both are optional: without NATS_URL / REDIS_URL the relay is single-node.
//
//   session ──(publish_atom, control, envelope)──▶ cluster ──▶ NATS (one FIFO per node)
//   NATS thread ──(inbound_atom, subject, data)──▶ cluster ──(bus_atom, envelope)──▶ broker
//   broker ──(bus_atom, envelope)──▶ session
//   session ──(sockets_atom, sid, desktop, mobiles)──▶ cluster (subscribe N.session.<sid>)
#pragma once
#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "persistence/bus_envelope.hpp"
#include "persistence/state_store.hpp"

namespace rc::actors {

// ---- atoms (own names; max 10 characters) -------------------------------------------------
using bus_atom = caf::atom_constant<caf::atom("bus")>;            // inbound envelope
using publish_atom = caf::atom_constant<caf::atom("publish")>;    // outbound envelope
using sockets_atom = caf::atom_constant<caf::atom("sockets")>;    // local socket census
using inbound_atom = caf::atom_constant<caf::atom("inbound")>;    // raw bytes from NATS
using busstate_atom = caf::atom_constant<caf::atom("busstate")>;  // connection event
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using members_atom = caf::atom_constant<caf::atom("members")>;  // admin view
using held_atom = caf::atom_constant<caf::atom("held")>;        // sockets held elsewhere?
using gone_atom = caf::atom_constant<caf::atom("membergone")>;  // member left / expired
using load_atom = caf::atom_constant<caf::atom("load")>;        // loader: one session
using reload_atom = caf::atom_constant<caf::atom("reload")>;    // broker: forced reload
using merge_atom = caf::atom_constant<caf::atom("merge")>;      // session: persisted copy
using probe_atom = caf::atom_constant<caf::atom("probe")>;      // presence probe timer
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;  // attach cluster/loader
using version_atom = caf::atom_constant<caf::atom("version")>;  // raise write counter
using connect_atom = caf::atom_constant<caf::atom("connect")>;  // (re)connect attempt
using leave_atom = caf::atom_constant<caf::atom("leave")>;      // graceful leave
using killall_bus_atom = caf::atom_constant<caf::atom("killallbus")>;

/// Envelope targets of control messages (§5.5) and of our own extensions.
namespace target {
inline constexpr const char* desktop = "desktop";
inline constexpr const char* mobile = "mobile";
inline constexpr const char* pair_decision = "pair_decision";
inline constexpr const char* session_refresh = "session_refresh";
inline constexpr const char* probe = "desktop_status_probe";
inline constexpr const char* probe_response = "desktop_status_response";
inline constexpr const char* kill_all = "kill_all";  ///< extension: cluster-wide kill switch
inline constexpr const char* heartbeat = "member_heartbeat";  ///< on N.members
inline constexpr const char* leave = "member_leave";          ///< on N.members
}  // namespace target

/// Result of a single-session load (loader actor).
struct load_reply {
  persistence::store_status status = persistence::store_status::unavailable;
  persistence::session_record record;
  uint64_t version = 0;  ///< also the tombstone version when not_found
};
using load_all_ptr = std::shared_ptr<const persistence::load_all_result>;

/// Detached actor owning the NATS connection. `broker` receives (bus_atom, envelope) for
/// session subjects and control messages, and (gone_atom, instance id) for departed members.
/// Messages: (publish_atom, bool control, bus_envelope); (sockets_atom, sid, bool desktop,
/// uint64 mobiles); (held_atom, sid) -> bool; (members_atom) -> json string;
/// (leave_atom) -> bool (publishes the leave and closes the bus).
caf::actor spawn_cluster(caf::actor_system& sys, context_ptr ctx, caf::actor broker);

/// Detached actor owning a second state_store connection used for reads only:
/// (load_atom, sid) -> load_reply; (loadall_atom) -> load_all_ptr. Pings the store every 2 s
/// to keep `redis_healthy` current while nothing is written.
caf::actor spawn_loader(caf::actor_system& sys, context_ptr ctx,
                        std::shared_ptr<persistence::state_store> store);

/// Builds an outbound envelope (source, nonce, time and signature are set by the cluster).
inline persistence::bus_envelope make_envelope(std::string sid, std::string tgt,
                                               std::string payload,
                                               std::optional<std::string> device = {}) {
  persistence::bus_envelope e;
  e.session_id = std::move(sid);
  e.target = std::move(tgt);
  e.payload = std::move(payload);
  e.target_device_id = std::move(device);
  return e;
}

}  // namespace rc::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::persistence::bus_envelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::load_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::load_all_ptr)
