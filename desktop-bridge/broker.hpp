// The session broker actor (CAF): owns the session lifecycle (start / restore / reconnect /
// invalidate / stop = kill switch), the relay socket, pairing decisions, the runtime mirror and
// the outbound stream (hello, snapshots, events, acks). All network I/O goes through `transport`
// (net::io_service in the program, a fake in tests); all user-visible output through `ui_sink`.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "desktop-bridge/e2ee_hub.hpp"
#include "desktop-bridge/net.hpp"
#include "desktop-bridge/push_hub.hpp"
#include "desktop-bridge/runtime.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rc::bridge::runtime_event)

namespace rc::bridge {

// Public commands (send to the broker actor).
using start_atom = caf::atom_constant<caf::atom("start")>;        // start or restore
using stop_atom = caf::atom_constant<caf::atom("stop")>;          // kill switch: /pair/stop, end
using quit_atom = caf::atom_constant<caf::atom("quit")>;          // teardown, keep the session
using decide_atom = caf::atom_constant<caf::atom("decide")>;      // (requestID, bool approved)
using add_device_atom = caf::atom_constant<caf::atom("adddevice")>;
using devices_atom = caf::atom_constant<caf::atom("devices")>;
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;      // (deviceID)
using approvals_atom = caf::atom_constant<caf::atom("approvals")>;  // (bool)
// Internal.
using http_atom = caf::atom_constant<caf::atom("http")>;
using ws_open_atom = caf::atom_constant<caf::atom("wsopen")>;
using ws_text_atom = caf::atom_constant<caf::atom("wstext")>;
using ws_close_atom = caf::atom_constant<caf::atom("wsclose")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using pair_timeout_atom = caf::atom_constant<caf::atom("pairtmo")>;
using runtime_atom = caf::atom_constant<caf::atom("runtime")>;
using push_answer_atom = caf::atom_constant<caf::atom("pushans")>;
using push_wake_atom = caf::atom_constant<caf::atom("pushwake")>;

/// Network access used by the broker. Callbacks may run on any thread.
class transport {
 public:
  virtual ~transport() = default;
  virtual void post(const std::string& url, std::string body, int timeout_ms,
                    std::function<void(net::http_response)> cb) = 0;
  virtual std::shared_ptr<net::ws_connection> connect(const std::string& url, net::ws_handlers h) = 0;
  /// Web push delivery (docs/PUSH.md); fakes without push fail it as a transport error.
  virtual void push_post(net::http_request req, std::function<void(net::http_response)> cb) {
    (void)req;
    net::http_response r;
    r.error = "push unsupported";
    cb(std::move(r));
  }
};

/// Adapter for the real network (net::io_service); defined in main.cpp (links the Beast TU).
std::shared_ptr<transport> make_net_transport(std::shared_ptr<net::io_service> io);

/// User-visible events, one JSON object each (`{"event": "...", ...}`); called from the actor.
/// Never receives tokens except inside `joinURL`.
class ui_sink {
 public:
  virtual ~ui_sink() = default;
  virtual void emit(const nlohmann::json& event) = 0;
};

struct broker_config {
  std::string relay_url = "ws://127.0.0.1:8787/ws";
  std::string join_base = "http://localhost:4173/";
  std::string state_file;           ///< empty = no persistence
  bool auto_approve = false;        ///< approve every pair request (demos only)
  bool approvals_default = false;   ///< remote runtime-request responses (OFF by default)
  int64_t join_ttl_s = 120;
  int64_t idle_timeout_s = 1800;
  int pair_prompt_timeout_s = 60;   ///< auto-deny after this (or the request's expiresAt)
  int http_timeout_ms = 15000;
  bool jitter = true;               ///< reconnect jitter (off in deterministic tests)
  int flush_debounce_ms = 80;
  bool restart_after_session_end = true;  ///< start a fresh session when the relay ended ours
  e2ee_policy e2ee = e2ee_policy::required;  ///< docs/E2EE.md "Policy and compatibility"
  std::size_t max_command_text_bytes = 16384;  ///< the relay's MAX_REMOTE_COMMAND_TEXT_BYTES
  push::hub_config push;  ///< web push to E2EE devices (docs/PUSH.md)
};

/// Reconnect delay for attempt n ≥ 1 (without jitter): min(15 s, 2^min(n,4) s).
inline int reconnect_delay_ms(int attempt) {
  int e = attempt < 4 ? attempt : 4;
  int s = 1 << e;
  return (s > 15 ? 15 : s) * 1000;
}

caf::actor spawn_broker(caf::actor_system& sys, broker_config cfg, std::shared_ptr<transport> net,
                        std::shared_ptr<runtime> rt, std::shared_ptr<ui_sink> ui);

}  // namespace rc::bridge
