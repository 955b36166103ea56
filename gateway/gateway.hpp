// The one boundary between sockets and actors. This header includes neither Boost nor CAF:
// the Beast server (server.cpp) implements ws_peer/http_responder, the actor side implements
// ws_handler and the hooks. Data flows socket → gateway → hooks; replies come back through the
// peer/responder interfaces, which are thread-safe and never block.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/close_reason.hpp"

namespace rc::gw {

using frame_ptr = std::shared_ptr<const std::string>;

/// One websocket connection as seen by the actor side. All methods are thread-safe.
class ws_peer {
 public:
  virtual ~ws_peer() = default;
  /// Enqueues a text frame. False when the bounded outbound queue is full or the socket is
  /// closed; the caller decides the consequence (slow_consumer).
  virtual bool send(frame_ptr frame) = 0;
  /// Sends `{"type":"disconnect","reason":...}` (best effort) and stops the socket after a short
  /// flush grace, without a close frame.
  virtual void disconnect(proto::close_reason reason) = 0;
  /// Auth failure with stale credentials: disconnect session_expired + Close 1008.
  virtual void reject_policy() = 0;
  /// Sends the auth-timeout `{}` frame and drops the connection.
  virtual void reject_missing_auth() = 0;
  /// Stops the socket without sending anything.
  virtual void drop() = 0;
  /// Auth succeeded: cancels the auth timer, starts heartbeats and the per-socket budget window.
  virtual void mark_authenticated() = 0;
  /// Runs `fn` on this connection's strand (where the ws_handler is called).
  virtual void post(std::function<void()> fn) = 0;
  virtual const std::string& client_ip() const = 0;
  virtual const std::string& origin() const = 0;  ///< empty when absent
  virtual bool has_origin() const = 0;
  /// Legacy `?token=` (only filled when ALLOW_LEGACY_QUERY_TOKEN_AUTH is on).
  virtual const std::string& query_token() const = 0;
};

/// Actor-side handler of one websocket; every call happens on the connection's strand.
class ws_handler {
 public:
  virtual ~ws_handler() = default;
  virtual void on_text(std::string&& text) = 0;
  /// First frame was not text.
  virtual void on_binary_first() = 0;
  virtual void on_closed() = 0;
};

/// Answers one HTTP request exactly once; thread-safe.
class http_responder {
 public:
  virtual ~http_responder() = default;
  virtual void respond(int status, std::string body,
                       std::string content_type = "application/json") = 0;
};

struct http_request {
  std::string method;
  std::string target;  ///< path + query
  std::string path;
  std::string body;
  std::string content_type;
  std::string origin;
  bool has_origin = false;
  std::string client_ip;  ///< after TRUST_PROXY resolution
  std::string authorization;
  bool admin = false;  ///< arrived on the admin listener
};

/// Counters owned by the node, updated lock-free from any thread.
struct counters {
  std::atomic<uint64_t> outbound_send_failures{0};
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  std::atomic<uint64_t> ws_auth_attempts{0};
  std::atomic<uint64_t> ws_open{0};  ///< open websocket connections (authenticated or not)
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  /// Sockets closed by the relay, per reason (counted once per socket, when the close starts).
  std::array<std::atomic<uint64_t>, proto::close_reason_count> closes{};
  void count_close(proto::close_reason r) {
    closes[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

struct options {
  std::string host = "0.0.0.0";
  uint16_t port = 8787;
  std::string admin_host = "127.0.0.1";
  bool admin_enabled = false;
  uint16_t admin_port = 0;  ///< 0 = ephemeral
  std::size_t io_threads = 1;
  std::size_t max_json_bytes = 65536;
  std::size_t max_ws_message_bytes = 65536;
  std::size_t max_outbound_queue = 256;
  std::size_t max_ws_messages_per_minute = 1200;
  uint64_t ws_auth_timeout_ms = 10000;
  uint64_t heartbeat_interval_ms = 20000;
  uint64_t heartbeat_timeout_ms = 60000;
  std::size_t max_connections = 20000;  ///< open sockets (incl. unauthenticated); beyond → refused
  bool trust_proxy = false;
  bool legacy_query_token = false;
  std::vector<std::string> allowed_origins;  ///< normalised; "*" allows all
  std::string tls_cert_file;                 ///< both set → https/wss
  std::string tls_key_file;
  std::string static_dir;  ///< serve the built PWA from here when set
};

struct hooks {
  /// A websocket was upgraded; returns its handler.
  std::function<std::shared_ptr<ws_handler>(std::shared_ptr<ws_peer>)> on_ws_open;
  /// A routed HTTP request (API, health, metrics, admin).
  std::function<void(http_request&&, std::shared_ptr<http_responder>)> on_http;
  /// Logging sink: one JSON object per line, already formatted.
  std::function<void(const std::string&)> log;
};

/// The Beast server: main listener (+ optional admin listener). run() blocks on the calling
/// thread plus options.io_threads-1 extra threads until stop().
class server {
 public:
  server(options opts, hooks h, std::shared_ptr<counters> c);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Binds the listeners; returns an error text or empty. Fills bound ports.
  std::string bind();
  uint16_t port() const;
  uint16_t admin_port() const;
  void run();
  /// Stops accepting new connections (graceful shutdown, step 1).
  void stop_accepting();
  /// Stops the io loop (after actors have drained).
  void stop();

 public:
  struct impl;  ///< defined in server.cpp only

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace rc::gw
