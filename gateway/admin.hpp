// Admin listener routes. Runs on Asio threads; broker requests go through short-lived actors.
#pragma once
#include <memory>

#include "gateway/gateway.hpp"

namespace rc::gw {

void admin_route(const actors::context_ptr& ctx, const actor_refs& refs, http_request& r,
                 const std::shared_ptr<http_responder>& resp);

}  // namespace rc::gw
