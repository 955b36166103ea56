// Glue between the gateway's hooks and the actors: HTTP routing (API, health, metrics, admin)
// and websocket handler creation. Runs on Asio threads and never blocks: everything stateful is
// an asynchronous send to an actor.
#pragma once
#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "caf/all.hpp"
#include "gateway/gateway.hpp"

namespace rc::actors {

struct front_refs {
  caf::actor_system* sys = nullptr;
  broker_actor broker;
  ip_limiter_actor ip_limiter;
};

gw::hooks make_hooks(context_ptr ctx, front_refs refs);

/// `/healthz` JSON body.
std::string health_json(const relay_context& ctx);
/// `/metricsz` JSON body.
std::string metricsz_json(const relay_context& ctx);
/// `/metrics` Prometheus text exposition.
std::string prometheus_text(const relay_context& ctx);

}  // namespace rc::actors
