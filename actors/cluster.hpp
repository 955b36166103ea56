// Multi-node helpers (CONFIG_REFERENCE §4-§5). The cluster actor (cluster.cpp) owns the NATS
// bus; the loader actor (loader.cpp) reads the state store. Both are optional: without
// NATS_URL / REDIS_URL the relay is single-node. Interfaces: messages.hpp.
#pragma once
#include <optional>
#include <string>

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "persistence/bus_envelope.hpp"

namespace rc::actors {

/// Builds an outbound envelope (source, nonce, time and signature are set by the cluster).
inline persistence::bus_envelope make_envelope(std::string sid, std::string tgt,
                                               std::string payload,
                                               std::optional<std::string> device = {}) {
  persistence::bus_envelope e;
  e.session_id = std::move(sid);
  e.target = std::move(tgt);
  e.payload = std::move(payload);
  e.target_device_id = std::move(device);
  return e;
}

}  // namespace rc::actors
