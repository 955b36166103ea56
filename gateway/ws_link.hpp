// What an actor may tell a websocket's actor side (gateway/conn_handler), besides writing to the
// socket through gw::ws_peer. Every call happens on the socket's strand: actors post it there
// with ws_peer::post. CAF handle types only; no Boost.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "gateway/socket.hpp"

namespace rc::gw {

/// A mobile socket of the session, as seen by the desktop's connection (zero-hop routing).
struct mobile_route {
  std::string conn_id;
  std::shared_ptr<ws_peer> peer;
};
using route_table = std::vector<mobile_route>;

class ws_link {
 public:
  virtual ~ws_link() = default;
  /// A session accepted this socket: later frames go to `session` (desktop) or `device` (mobile).
  virtual void authed(bool desktop, caf::actor session, caf::actor device, std::string session_id,
                      std::string device_id) = 0;
  /// The mobiles to forward desktop frames to directly (nullptr = every frame through the
  /// session actor).
  virtual void set_routes(std::shared_ptr<const route_table> routes) = 0;
  /// Authentication failed (the peer is being closed).
  virtual void rejected() = 0;
};

}  // namespace rc::gw
