// Health and metrics bodies (read-only views of the relay context).
#pragma once
#include <string>

#include "actors/context.hpp"

namespace rc::gw {

/// `/healthz` JSON body.
std::string health_json(const actors::relay_context& ctx);
/// `ok` is false while the node drains (SIGTERM) or while an enabled bus or Redis is down;
/// the status is 503 only while draining (a load balancer stops sending new clients), 200
/// otherwise (a liveness probe must not restart every node during a shared Redis outage).
int health_status(const actors::relay_context& ctx);
/// `/metricsz` JSON body.
std::string metricsz_json(const actors::relay_context& ctx);
/// `/metrics` Prometheus text exposition.
std::string prometheus_text(const actors::relay_context& ctx);

}  // namespace rc::gw
