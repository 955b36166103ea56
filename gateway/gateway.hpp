// The gateway as node/main sees it: every socket of the relay (listeners, HTTP and websocket
// sessions) bound to the actors. The layout of gateway/ is in docs/ARCHITECTURE.md.
#pragma once
#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "caf/actor.hpp"
#include "gateway/listener.hpp"

namespace caf {
class actor_system;
}

namespace rc::gw {

/// The actors the gateway talks to.
struct actor_refs {
  caf::actor_system* sys = nullptr;     ///< spawns the short-lived admin request actors
  actors::broker_actor broker;          ///< websocket auth, admin requests
  actors::ip_limiter_actor ip_limiter;  ///< every pairing/management API call
};

/// The listeners with their HTTP routes and websocket bridge. Reads ctx->cfg (immutable).
std::unique_ptr<listener> make_gateway(actors::context_ptr ctx, actor_refs refs);

}  // namespace rc::gw
