// HTTP routing (API, health, metrics; admin in admin.hpp) bound to the actors.
#pragma once
#include "gateway/gateway.hpp"

namespace rc::gw {

/// The main and admin listeners' request handler.
http_handler make_http_handler(actors::context_ptr ctx, actor_refs refs);

}  // namespace rc::gw
