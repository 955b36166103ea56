// The relay's actor message schema in one header: atoms and message structs.
// Messages carrying sockets or responders are local-only (never serialised).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caf/all.hpp"
#include "gateway/ws_link.hpp"
#include "persistence/session_record.hpp"
#include "protocol/close_reason.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/wire.hpp"

namespace rc::actors {

// ---- atoms (max 10 characters) -----------------------------------------------------------
using api_atom = caf::atom_constant<caf::atom("api")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using dframe_atom = caf::atom_constant<caf::atom("dframe")>;  // desktop frame
using mframe_atom = caf::atom_constant<caf::atom("mframe")>;  // mobile frame
using decide_atom = caf::atom_constant<caf::atom("decide")>;  // pair decision
using todesk_atom = caf::atom_constant<caf::atom("todesk")>;  // validated mobile → desktop
using presence_atom = caf::atom_constant<caf::atom("presence")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using killall_atom = caf::atom_constant<caf::atom("killall")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using index_atom = caf::atom_constant<caf::atom("index")>;
using unindex_atom = caf::atom_constant<caf::atom("unindex")>;
using consume_atom = caf::atom_constant<caf::atom("consume")>;
using cmd_atom = caf::atom_constant<caf::atom("cmd")>;
using snap_atom = caf::atom_constant<caf::atom("snap")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using prune_atom = caf::atom_constant<caf::atom("prune")>;
using save_atom = caf::atom_constant<caf::atom("save")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using loadall_atom = caf::atom_constant<caf::atom("loadall")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using control_atom = caf::atom_constant<caf::atom("control")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using rotated_atom = caf::atom_constant<caf::atom("rotated")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;

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

/// Token index operations (session → broker).
struct index_op {
  enum kind_t { add_desktop, add_device, remove } kind = remove;
  std::string token;
  std::string session_id;
  std::string device_id;
  int64_t expires_at_ms = 0;  ///< 0 = no expiry (current token)
};

struct store_write {
  persistence::session_record record;
  uint64_t version = 0;
  bool remove = false;
};

}  // namespace rc::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::auth_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::mobile_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::desktop_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::index_op)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<rc::actors::index_op>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::actors::store_write)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<rc::gw::http_responder>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<rc::gw::ws_peer>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::persistence::session_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::proto::close_reason)
