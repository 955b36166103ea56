// What an actor may tell a websocket's actor side (gateway/conn_handler), besides writing to the
// socket through gw::ws_peer. Every call happens on the socket's strand: actors post it there
// with ws_peer::post. No CAF and no Boost here: the grant's typed handles are defined with the
// actors' interfaces (actors/messages.hpp).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "gateway/socket.hpp"

namespace rc::actors {
struct auth_grant;  // actors/messages.hpp
}  // namespace rc::actors

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
  /// A session accepted this socket: later frames go to the grant's session (desktop) or device
  /// (mobile) actor, both typed handles.
  virtual void authed(const actors::auth_grant& grant) = 0;
  /// The mobiles to forward desktop frames to directly (nullptr = every frame through the
  /// session actor).
  virtual void set_routes(std::shared_ptr<const route_table> routes) = 0;
  /// Authentication failed (the peer is being closed).
  virtual void rejected() = 0;
};

}  // namespace rc::gw
