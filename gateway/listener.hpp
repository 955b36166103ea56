// The listeners (main + optional admin) and their io threads. Neither Boost nor CAF in this
// header: HTTP requests leave through `http_handler`, upgraded websockets through the
// socket↔actor bridge (gateway/ws_bridge.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/socket.hpp"
#include "settings/config.hpp"

namespace rc::gw {

struct ws_bridge;  ///< defined in ws_bridge.cpp: what a new websocket needs to reach the actors

/// A routed HTTP request (API, health, metrics, admin); answered through the responder.
using http_handler = std::function<void(http_request&&, std::shared_ptr<http_responder>)>;
/// Logging sink: one JSON object per line, already formatted.
using log_sink = std::function<void(const std::string&)>;

/// Main listener (+ admin listener when ADMIN_TOKEN is set). run() blocks on the calling thread
/// plus IO_THREADS-1 extra threads until stop().
class listener {
 public:
  listener(const settings::relay_config& cfg, std::shared_ptr<counters> ctr, http_handler on_http,
           log_sink log, std::shared_ptr<ws_bridge> bridge);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  /// Loads TLS and binds the listeners; returns an error text or empty. Fills bound ports.
  std::string bind();
  uint16_t port() const;
  uint16_t admin_port() const;
  void run();
  /// Stops accepting new connections (graceful shutdown, step 1).
  void stop_accepting();
  /// Sockets a drain waits for: open websockets plus HTTP connections with a request in
  /// progress (idle keep-alive connections are not counted).
  uint64_t draining_sockets() const;
  /// Stops the io loop (after actors have drained).
  void stop();

  struct impl;  ///< defined in listener.cpp only

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace rc::gw
