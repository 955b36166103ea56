#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "persistence/result.hpp"

namespace rc::persistence {

struct nats_bus_options {
  std::string url;   ///< nats://[user:pass@]host:port (credentials never logged)
  std::string name;  ///< client name shown by the server (optional)
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{1000};  ///< between reconnect attempts (forever)
  int reconnect_buffer_bytes = 8 * 1024 * 1024;    ///< publishes buffered while disconnected
  int max_pending_msgs = 65'536;                   ///< per subscription, then slow consumer
  int max_pending_bytes = 64 * 1024 * 1024;        ///< per subscription
  bool no_echo = false;  ///< true: the server does not deliver our own publishes back to us
  /// Connection events. Called on a nats.c thread: keep them short (e.g. caf::anon_send).
  std::function<void()> on_disconnected;
  std::function<void()> on_reconnected;
  std::function<void()> on_closed;
};

/// RAII wrapper over one nats.c connection (core NATS publish/subscribe only). After a lost
/// connection it reconnects forever, every reconnect_wait, and restores its subscriptions.
/// Thread-safe. No function throws.
class nats_bus {
 public:
  /// Called on a nats.c delivery thread, sequentially per subscription.
  using message_handler = std::function<void(std::string subject, std::string data)>;
  using subscription_id = std::uint64_t;

  /// Connects once (no retry when the first connect fails; the error is redacted).
  static result<std::unique_ptr<nats_bus>> connect(nats_bus_options opts);

  ~nats_bus();
  nats_bus(const nats_bus&) = delete;
  nats_bus& operator=(const nats_bus&) = delete;

  /// Publishes `data` on `subject` (buffered while reconnecting, up to the buffer bound).
  outcome publish(std::string_view subject, std::string_view data);

  /// Subscribes `handler` to `subject` (wildcards allowed). Returns an id for unsubscribe.
  result<subscription_id> subscribe(std::string_view subject, message_handler handler);

  /// Removes a subscription. The handler may still be running when this returns; it is
  /// destroyed after its last invocation.
  outcome unsubscribe(subscription_id id);

  /// Round trip to the server: afterwards, earlier subscriptions are known to it.
  outcome flush(std::chrono::milliseconds timeout);

  /// True while connected (false while reconnecting or after close).
  bool connected() const;

  /// Number of active subscriptions.
  std::size_t subscription_count() const;

  /// Closes the connection (idempotent; the destructor calls it). on_closed fires once.
  void close();

 private:
  struct impl;
  explicit nats_bus(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rc::persistence
