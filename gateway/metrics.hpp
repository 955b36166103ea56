// Health and metrics bodies (read-only views of the relay context).
#pragma once
#include <string>

#include "actors/context.hpp"

namespace rc::gw {

/// `/healthz` JSON body.
std::string health_json(const actors::relay_context& ctx);
/// `/metricsz` JSON body.
std::string metricsz_json(const actors::relay_context& ctx);
/// `/metrics` Prometheus text exposition.
std::string prometheus_text(const actors::relay_context& ctx);

}  // namespace rc::gw
