// The socket↔actor bridge as the CAF side creates it. No Boost in this header.
#pragma once
#include <memory>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace rc::gw {

struct ws_bridge;

/// What every new websocket needs to reach the actors: the context and the broker that
/// resolves its relay.auth.
std::shared_ptr<ws_bridge> make_ws_bridge(actors::context_ptr ctx, actors::broker_actor broker);

}  // namespace rc::gw
