// The relay's actor schema in one header: every atom, every message type (one CAF type-ID block)
// and the typed interface of every actor, so that a message an actor does not handle is a
// compile error at the sender. Messages carrying sockets or responders are local-only (never
// serialised): they are whitelisted as unsafe message types below.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/token_index.hpp"  // index_op
#include "caf/all.hpp"
#include "gateway/ws_link.hpp"
#include "persistence/bus_envelope.hpp"
#include "persistence/session_record.hpp"
#include "persistence/state_store.hpp"
#include "protocol/close_reason.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/wire.hpp"

namespace rc::actors {

/// An API request that passed the framework and stateless checks (schema, origin).
struct api_call {
  proto::api_request req;
  std::string client_ip;
  std::shared_ptr<gw::http_responder> responder;
};

/// A websocket that sent a well-formed relay.auth; resolved by the broker and a session.
struct auth_request {
  std::string token;
  std::string conn_id;
  std::shared_ptr<gw::ws_peer> peer;
  std::weak_ptr<gw::ws_link> handler;
};

/// A frame from an authenticated mobile socket, already parsed on the socket's strand.
struct mobile_msg {
  std::string conn_id;
  std::shared_ptr<gw::ws_peer> peer;
  proto::mobile_frame frame;
};

/// A frame from an authenticated desktop socket (pre-classified on the socket's strand).
struct desktop_msg {
  std::string conn_id;
  std::shared_ptr<gw::ws_peer> peer;
  std::shared_ptr<const std::string> text;
};

/// A versioned write of one session record (session → store).
/// Compare-and-set: `version` must be above the stored one; on a conflict the store actor
/// merges `record` with the stored copy (three-way, from `base`, the copy the writer last read
/// or wrote) and retries with stored + 1 (bounded).
struct store_write {
  persistence::session_record record;
  uint64_t version = 0;
  bool remove = false;
  persistence::session_record base;
};

/// Outcome of a store_write: the version that was written (or the stored one on failure) and,
/// after a conflict, the merged record that was written instead of `record`.
struct write_reply {
  persistence::store_status status = persistence::store_status::unavailable;
  uint64_t version = 0;
  std::optional<persistence::session_record> merged;
};

/// Result of a single-session load (loader actor).
struct load_reply {
  persistence::store_status status = persistence::store_status::unavailable;
  persistence::session_record record;
  uint64_t version = 0;  ///< also the tombstone version when not_found
};
using load_all_ptr = std::shared_ptr<const persistence::load_all_result>;

/// Envelope targets of control messages (CONFIG_REFERENCE §5.5) and of our own extensions.
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
/// Extension (issue 12): the desktop's node answers each desktop-bound envelope on the session
/// subject with {"type":"relay.delivery","nonce":<the envelope's nonce>,"delivered":bool}.
inline constexpr const char* delivery = "delivery";
}  // namespace target

}  // namespace rc::actors

// ---- the type-ID block: atoms (max 10 characters) and message types --------------------------

CAF_BEGIN_TYPE_ID_BLOCK(rc_relay, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::api_call))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::auth_request))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::mobile_msg))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::desktop_msg))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::index_op))
CAF_ADD_TYPE_ID(rc_relay, (std::vector<rc::actors::index_op>))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::store_write))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::load_reply))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::write_reply))
CAF_ADD_TYPE_ID(rc_relay, (rc::actors::load_all_ptr))
CAF_ADD_TYPE_ID(rc_relay, (std::shared_ptr<rc::gw::http_responder>))
CAF_ADD_TYPE_ID(rc_relay, (std::shared_ptr<rc::gw::ws_peer>))
CAF_ADD_TYPE_ID(rc_relay, (std::shared_ptr<const std::string>))
CAF_ADD_TYPE_ID(rc_relay, (rc::persistence::session_record))
CAF_ADD_TYPE_ID(rc_relay, (rc::persistence::bus_envelope))
CAF_ADD_TYPE_ID(rc_relay, (rc::persistence::store_status))
CAF_ADD_TYPE_ID(rc_relay, (rc::proto::close_reason))

// HTTP API and websocket auth
CAF_ADD_ATOM(rc_relay, rc::actors, api_atom, "api")        // api_call
CAF_ADD_ATOM(rc_relay, rc::actors, auth_atom, "auth")      // auth_request
CAF_ADD_ATOM(rc_relay, rc::actors, attach_atom, "attach")  // socket / ip limiter attached
CAF_ADD_ATOM(rc_relay, rc::actors, detach_atom, "detach")  // socket gone
// frames
CAF_ADD_ATOM(rc_relay, rc::actors, dframe_atom, "dframe")      // desktop frame via the session
CAF_ADD_ATOM(rc_relay, rc::actors, mframe_atom, "mframe")      // mobile frame to its device
CAF_ADD_ATOM(rc_relay, rc::actors, todesk_atom, "todesk")      // validated mobile → desktop
CAF_ADD_ATOM(rc_relay, rc::actors, slow_atom, "slow")          // a phone refused a frame
CAF_ADD_ATOM(rc_relay, rc::actors, slowdesk_atom, "slowdesk")  // the desktop refused one
// pairing and presence
CAF_ADD_ATOM(rc_relay, rc::actors, decide_atom, "decide")    // pair decision
CAF_ADD_ATOM(rc_relay, rc::actors, timeout_atom, "timeout")  // pair approval timer
CAF_ADD_ATOM(rc_relay, rc::actors, presence_atom, "presence")
// rate limits
CAF_ADD_ATOM(rc_relay, rc::actors, cmd_atom, "cmd")
CAF_ADD_ATOM(rc_relay, rc::actors, snap_atom, "snap")
CAF_ADD_ATOM(rc_relay, rc::actors, drop_atom, "drop")
CAF_ADD_ATOM(rc_relay, rc::actors, prune_atom, "prune")
// session lifecycle, token index, kill switch, admin
CAF_ADD_ATOM(rc_relay, rc::actors, sweep_atom, "sweep")
CAF_ADD_ATOM(rc_relay, rc::actors, close_atom, "close")
CAF_ADD_ATOM(rc_relay, rc::actors, closed_atom, "closed")
CAF_ADD_ATOM(rc_relay, rc::actors, kill_atom, "kill")
CAF_ADD_ATOM(rc_relay, rc::actors, killall_atom, "killall")
CAF_ADD_ATOM(rc_relay, rc::actors, shutdown_atom, "shutdown")
CAF_ADD_ATOM(rc_relay, rc::actors, describe_atom, "describe")
CAF_ADD_ATOM(rc_relay, rc::actors, index_atom, "index")
CAF_ADD_ATOM(rc_relay, rc::actors, children_atom, "children")  // supervisor: child table
// persistence
CAF_ADD_ATOM(rc_relay, rc::actors, save_atom, "save")
CAF_ADD_ATOM(rc_relay, rc::actors, rotated_atom, "rotated")  // save whose outcome matters
CAF_ADD_ATOM(rc_relay, rc::actors, restore_atom, "restore")
CAF_ADD_ATOM(rc_relay, rc::actors, loadall_atom, "loadall")
CAF_ADD_ATOM(rc_relay, rc::actors, load_atom, "load")        // loader: one session
CAF_ADD_ATOM(rc_relay, rc::actors, reload_atom, "reload")    // broker: forced reload
CAF_ADD_ATOM(rc_relay, rc::actors, merge_atom, "merge")      // session: persisted copy
CAF_ADD_ATOM(rc_relay, rc::actors, version_atom, "version")  // raise write counter
// multi-node
CAF_ADD_ATOM(rc_relay, rc::actors, cluster_atom, "cluster")    // attach cluster/loader
CAF_ADD_ATOM(rc_relay, rc::actors, bus_atom, "bus")            // inbound envelope
CAF_ADD_ATOM(rc_relay, rc::actors, publish_atom, "publish")    // outbound envelope
CAF_ADD_ATOM(rc_relay, rc::actors, control_atom, "control")    // publish on the control subject
CAF_ADD_ATOM(rc_relay, rc::actors, sockets_atom, "sockets")    // local socket census
CAF_ADD_ATOM(rc_relay, rc::actors, ack_atom, "ack")            // census, answered when subscribed
CAF_ADD_ATOM(rc_relay, rc::actors, inbound_atom, "inbound")    // raw bytes from NATS
CAF_ADD_ATOM(rc_relay, rc::actors, busstate_atom, "busstate")  // connection event
CAF_ADD_ATOM(rc_relay, rc::actors, heartbeat_atom, "heartbeat")
CAF_ADD_ATOM(rc_relay, rc::actors, members_atom, "members")      // admin view
CAF_ADD_ATOM(rc_relay, rc::actors, held_atom, "held")            // sockets held elsewhere?
CAF_ADD_ATOM(rc_relay, rc::actors, gone_atom, "membergone")      // member left / expired
CAF_ADD_ATOM(rc_relay, rc::actors, announce_atom, "announce")    // member (re)appeared: re-announce
CAF_ADD_ATOM(rc_relay, rc::actors, probe_atom, "probe")          // presence probe timer
CAF_ADD_ATOM(rc_relay, rc::actors, connect_atom, "connect")      // (re)connect attempt
CAF_ADD_ATOM(rc_relay, rc::actors, leave_atom, "leave")          // graceful leave
CAF_ADD_ATOM(rc_relay, rc::actors, undeliv_atom, "undeliv")      // command not delivered
CAF_ADD_ATOM(rc_relay, rc::actors, epoch_atom, "epoch")          // store epoch marker check
CAF_ADD_ATOM(rc_relay, rc::actors, writeback_atom, "writeback")  // store lost data: write again
CAF_END_TYPE_ID_BLOCK(rc_relay)

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::auth_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::mobile_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::desktop_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::index_op)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<rc::actors::index_op>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::store_write)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::load_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::write_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::load_all_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<rc::gw::http_responder>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<rc::gw::ws_peer>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::persistence::session_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::persistence::bus_envelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::persistence::store_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::proto::close_reason)

// ---- typed interfaces ---------------------------------------------------------------------------

namespace rc::actors {

template <class... Ts>
using reacts_to = caf::reacts_to<Ts...>;
template <class... Ts>
using replies_to = caf::replies_to<Ts...>;
using peer_ptr = std::shared_ptr<gw::ws_peer>;
using text_ptr = std::shared_ptr<const std::string>;
using persistence::bus_envelope;
using persistence::session_record;
using persistence::store_status;
using proto::close_reason;

/// Anything the admin tree can ask for its description (JSON text).
using describable_actor = caf::typed_actor<replies_to<describe_atom>::with<std::string>>;

/// Owns the state store (detached with Redis: blocking I/O never runs on shared workers).
using store_actor = caf::typed_actor<
    reacts_to<save_atom, store_write>,                                    // fire and forget
    replies_to<save_atom, rotated_atom, store_write>::with<write_reply>,  // CAS write + outcome
    replies_to<load_atom, std::string>::with<load_reply>  // broker: restart a session
    >;

/// Second, read-only store connection: lazy and forced reloads; pings to keep redis_healthy.
using loader_actor =
    caf::typed_actor<replies_to<load_atom, std::string>::with<load_reply>,
                     replies_to<loadall_atom>::with<load_all_ptr>, reacts_to<heartbeat_atom>,
                     // epoch marker, set to the argument when missing → (value, created);
                     // value "" when the store is unreachable or keeps no marker
                     replies_to<epoch_atom, std::string>::with<std::string, bool>>;

/// Owns the NATS bus: signs/verifies envelopes, subscribes the subjects of local sessions,
/// tracks the members.
using cluster_actor = caf::typed_actor<
    reacts_to<connect_atom>, reacts_to<publish_atom, bus_envelope>,  // on the session's subject
    reacts_to<publish_atom, control_atom, bus_envelope>,             // on the control subject
    // A phone's command for the desktop on peer `instance`, from device (4th): the delivery
    // notice is awaited; none in time (1 s) → (undeliv_atom, sid, device) to the broker.
    reacts_to<publish_atom, ack_atom, bus_envelope, std::string, std::string>,
    reacts_to<undeliv_atom, std::string>,                  // delivery timer (nonce)
    reacts_to<sockets_atom, std::string, bool, uint64_t>,  // sid, desktop here, mobiles here
    // ... answered once subscribed with the peers' phone counts for sid (JSON {instance: n}).
    replies_to<sockets_atom, ack_atom, std::string, bool, uint64_t>::with<std::string>,
    reacts_to<inbound_atom, std::string, std::string>,  // subject, bytes (NATS thread)
    reacts_to<busstate_atom, bool>,                     // connected?
    reacts_to<heartbeat_atom>,
    replies_to<held_atom, std::string>::with<bool>,  // some member holds sockets of sid?
    replies_to<members_atom>::with<std::string>,     // admin view (JSON)
    replies_to<leave_atom>::with<bool>>;             // publish the leave, close the bus

/// Per-IP limiter in front of the broker (pairing and management endpoints).
using ip_limiter_actor = caf::typed_actor<reacts_to<api_atom, api_call>, reacts_to<prune_atom>,
                                          replies_to<describe_atom>::with<std::string>>;

/// Per-session budgets: session commands, per-device commands and snapshots.
using session_limiter_actor =
    caf::typed_actor<replies_to<cmd_atom, std::string>::with<bool, bool>,  // device id → (device
                                                                           // ok, session ok)
                     replies_to<snap_atom, std::string>::with<bool>,       // device id → ok
                     reacts_to<drop_atom, std::string>,  // device revoked: forget its buckets
                     replies_to<describe_atom>::with<std::string>>;

/// One trusted device: its socket, command sequence and the §9.3 mobile pipeline.
using device_actor = caf::typed_actor<
    reacts_to<attach_atom, std::string, peer_ptr>,          // conn id, socket
    reacts_to<detach_atom, std::string>,                    // conn id
    reacts_to<presence_atom, bool, peer_ptr, std::string>,  // desktop up, direct socket + conn
    reacts_to<mframe_atom, mobile_msg>, replies_to<describe_atom>::with<std::string>>;

/// One session: record, pairing, auth and token rotation, routing, presence, cluster glue.
using session_actor = caf::typed_actor<
    reacts_to<api_atom, api_call>,
    reacts_to<restore_atom, session_record, uint64_t>,  // adopt a persisted copy (new actor)
    reacts_to<merge_atom, session_record, uint64_t>,    // persisted copy from a reload
    reacts_to<reload_atom, int64_t>,         // absent from a complete forced reload begun at (ms)
    reacts_to<writeback_atom>,               // the store lost its data: write the record again
    reacts_to<version_atom, uint64_t>,       // tombstone: raise the write counter
    reacts_to<cluster_atom, cluster_actor>,  // the bus actor (multi-node)
    reacts_to<bus_atom, bus_envelope>,       // verified envelope from a peer
    reacts_to<probe_atom, uint64_t>,         // presence probe timer
    reacts_to<probe_atom>,                   // a phone hit the offline gate: ask the cluster
    reacts_to<gone_atom, std::string>,       // a member left (instance id)
    reacts_to<announce_atom, std::string>,   // a member (re)appeared
    reacts_to<auth_atom, auth_request, bool, std::string>,  // desktop?, device id
    reacts_to<dframe_atom, desktop_msg>,
    reacts_to<slow_atom, std::string>,              // mobile conn id refused a zero-hop frame
    reacts_to<slowdesk_atom, std::string>,          // desktop conn id refused a direct command
    reacts_to<todesk_atom, text_ptr, std::string>,  // validated frame, phone's device id
    reacts_to<undeliv_atom, std::string>,           // device id: its command was not delivered
    reacts_to<busstate_atom, bool>,                 // NATS lost: remote presence unknown
    reacts_to<decide_atom, std::string, bool, std::string, bool>,      // conn, has id, id, approved
    reacts_to<timeout_atom, uint64_t>,                                 // pairing join id
    reacts_to<detach_atom, std::string>,                               // conn id
    reacts_to<sweep_atom>, reacts_to<close_atom, close_reason, bool>,  // reason, delete record
    replies_to<describe_atom>::with<std::string>>;

/// Session registry, token index, sweeper, kill switch, admin view.
using broker_actor = caf::typed_actor<
    reacts_to<attach_atom, ip_limiter_actor>, reacts_to<api_atom, api_call>,
    reacts_to<auth_atom, auth_request>, reacts_to<reload_atom>,
    reacts_to<epoch_atom>,                                 // timer: check the store's epoch marker
    reacts_to<cluster_atom, cluster_actor, loader_actor>,  // either may be empty
    reacts_to<bus_atom, bus_envelope>, reacts_to<gone_atom, std::string>,
    reacts_to<announce_atom, std::string>, replies_to<members_atom>::with<std::string>,
    reacts_to<undeliv_atom, std::string, std::string>,  // sid, device id → session
    reacts_to<busstate_atom, bool>,                     // NATS lost (false) → sessions
    reacts_to<index_atom, std::vector<index_op>>, reacts_to<restore_atom, session_record, uint64_t>,
    replies_to<closed_atom, std::string>::with<bool>,  // a session closed itself
    reacts_to<sweep_atom>,
    replies_to<kill_atom, std::string, close_reason>::with<bool>,  // sid, reason → found
    replies_to<killall_atom, close_reason, bool>::with<uint64_t>,  // reason, delete → count
    replies_to<shutdown_atom>::with<uint64_t>,
    replies_to<describe_atom, uint64_t>::with<std::string>>;  // child limit → JSON tree

/// What a session hands the websocket it accepted (gw::ws_link::authed, on the socket's strand).
struct auth_grant {
  bool desktop = false;
  session_actor session;
  device_actor device;  ///< empty for the desktop
  std::string session_id;
  std::string device_id;  ///< empty for the desktop
};

/// The node's supervisor: monitors the long-lived actors and applies their restart policy.
using supervisor_actor =
    caf::typed_actor<replies_to<children_atom>::with<std::string>,  // child table (JSON)
                     replies_to<leave_atom>::with<bool>>;  // leave the cluster (current bus actor)

}  // namespace rc::actors
