// Outbound network I/O of the bridge (HTTP POST + WebSocket client, ws/wss, http/https).
// Firewall header: no Boost and no CAF includes. Implemented in net.cpp (the only Beast TU).
// All callbacks run on the single internal io thread; they must not block (forward them to the
// actor with an asynchronous send).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rc::bridge::net {

struct http_response {
  int status = 0;     ///< 0 = transport error (see error)
  std::string body;   ///< response body (bounded to 1 MiB)
  std::string error;  ///< transport error text (never contains request bodies)
  std::string retry_after{};  ///< the Retry-After header, verbatim (empty when absent)
};

/// A POST with its own headers (web push: docs/PUSH.md).
struct http_request {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  ///< may be binary
  std::string content_type = "application/octet-stream";
  int timeout_ms = 10000;
};

struct ws_handlers {
  std::function<void()> on_open;                          ///< handshake done
  std::function<void(std::string)> on_text;               ///< one text message
  std::function<void(int, std::string)> on_close;        ///< close code (1006 = no close frame) + reason; exactly once
};

class ws_connection {
 public:
  virtual ~ws_connection() = default;
  /// Queue a text frame (thread-safe). Dropped after close.
  virtual void send(std::string text) = 0;
  /// Close the socket (thread-safe); on_close still fires once.
  virtual void close() = 0;
};

class io_service {
 public:
  /// `ca_file`: PEM bundle for TLS verification; empty = system default paths. `push_ca_file`:
  /// the same for push services (test-only `--push-ca-file`; empty = system default paths).
  explicit io_service(std::string ca_file = {}, std::string push_ca_file = {});
  ~io_service();
  io_service(const io_service&) = delete;
  io_service& operator=(const io_service&) = delete;

  /// POST `body` (application/json) to an http(s) URL. `cb` is called exactly once.
  void http_post(const std::string& url, std::string body, int timeout_ms,
                 std::function<void(http_response)> cb);

  /// POST to a push service: https only, certificate + host name verified (SNI), own TLS
  /// context (`push_ca_file`). `cb` is called exactly once.
  void push_post(http_request req, std::function<void(http_response)> cb);

  /// Connect a WebSocket (ws:// or wss://). Handlers called on the io thread.
  std::shared_ptr<ws_connection> ws_connect(const std::string& url, ws_handlers h);

  /// Stop the io thread (pending callbacks may be dropped). Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace rc::bridge::net
