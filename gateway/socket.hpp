// The one interface between a socket and the actors. Neither Boost nor CAF: the Beast sessions
// (gateway/ws_session.hpp, gateway/http_session.hpp) implement ws_peer and http_responder; the
// socket's actor side (gateway/conn_handler) implements ws_handler. Actors write to a socket only
// through ws_peer and answer HTTP only through http_responder; both are thread-safe and never
// block.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
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

/// One unit of a bounded atomic count, released once (on release() or destruction). Move-only.
class counted_slot {
 public:
  counted_slot() = default;
  /// Takes a unit of `n` when it is below `limit`; otherwise the slot is empty (false).
  counted_slot(std::atomic<uint64_t>& n, uint64_t limit) {
    if (n.fetch_add(1, std::memory_order_acq_rel) < limit)
      n_ = &n;
    else
      n.fetch_sub(1, std::memory_order_acq_rel);
  }
  counted_slot(counted_slot&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
  counted_slot& operator=(counted_slot&& o) noexcept {
    if (this != &o) {
      release();
      n_ = o.n_;
      o.n_ = nullptr;
    }
    return *this;
  }
  counted_slot(const counted_slot&) = delete;
  counted_slot& operator=(const counted_slot&) = delete;
  ~counted_slot() { release(); }
  explicit operator bool() const { return n_ != nullptr; }
  void release() {
    if (n_) n_->fetch_sub(1, std::memory_order_acq_rel);
    n_ = nullptr;
  }

 private:
  std::atomic<uint64_t>* n_ = nullptr;
};

/// Failed websocket authentications per client address (issue 10 item 8): an address with
/// `limit` failures in its window (WS_AUTH_FAILURES_PER_IP per WS_AUTH_FAILURE_WINDOW_MS, the
/// window starting at its first failure) gets its upgrades refused until the window ends.
/// Bounded: at most `max_addresses` entries; expired windows are dropped as others are counted,
/// and at the bound the oldest window is evicted. Thread-safe (one mutex, O(1) per call).
class auth_failure_limiter {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t max_addresses = 16384;

  /// Counts one failure of `ip` (limit 0 = off).
  void record(const std::string& ip, uint64_t limit, std::chrono::milliseconds window,
              clock::time_point now = clock::now()) {
    if (limit == 0 || ip.empty()) return;
    std::lock_guard<std::mutex> lock(mtx_);
    expire(now, window);
    auto it = entries_.find(ip);
    if (it == entries_.end()) {
      if (entries_.size() >= max_addresses) {
        entries_.erase(order_.front());
        order_.pop_front();
      }
      order_.push_back(ip);
      it = entries_.emplace(ip, entry{now, 0}).first;
    }
    ++it->second.failures;
  }
  /// True while `ip` has `limit` failures in its current window.
  bool blocked(const std::string& ip, uint64_t limit, std::chrono::milliseconds window,
               clock::time_point now = clock::now()) {
    if (limit == 0) return false;
    std::lock_guard<std::mutex> lock(mtx_);
    expire(now, window);
    auto it = entries_.find(ip);
    return it != entries_.end() && it->second.failures >= limit;
  }
  std::size_t addresses() const {
    std::lock_guard<std::mutex> lock(mtx_);
    return entries_.size();
  }

 private:
  struct entry {
    clock::time_point start;
    uint64_t failures;
  };
  /// Windows start in insertion order, so the expired ones are at the front.
  void expire(clock::time_point now, std::chrono::milliseconds window) {
    while (!order_.empty()) {
      auto it = entries_.find(order_.front());
      if (now - it->second.start < window) return;
      entries_.erase(it);
      order_.pop_front();
    }
  }
  mutable std::mutex mtx_;
  std::unordered_map<std::string, entry> entries_;
  std::list<std::string> order_;  ///< the addresses of entries_, oldest window first
};

/// Counters owned by the node, updated lock-free from any thread (and the one shared limiter
/// the gateway and the actors both reach: auth failures per address).
struct counters {
  std::atomic<uint64_t> outbound_send_failures{0};
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  std::atomic<uint64_t> ws_auth_attempts{0};
  std::atomic<uint64_t> ws_open{0};  ///< open websocket connections (authenticated or not)
  /// Upgraded websockets not (yet) authenticated: bounded by MAX_PREAUTH_WEBSOCKETS so that
  /// they cannot take every connection slot from the HTTP API (issue 10 item 4).
  std::atomic<uint64_t> ws_preauth{0};
  std::atomic<uint64_t> ws_preauth_refused{0};  ///< upgrades answered 503 at that bound
  /// Connections closed at accept because their address was at MAX_CONNECTIONS_PER_IP.
  std::atomic<uint64_t> per_ip_refused{0};
  /// Websocket auth failures per address (recorded by the actors, checked at upgrade) and the
  /// upgrades refused (429) because their address was over WS_AUTH_FAILURES_PER_IP.
  auth_failure_limiter auth_failures;
  std::atomic<uint64_t> auth_failure_refused{0};
  /// Errors the gateway handles without an answer of its own (a route that dropped its
  /// responder, an admin request the broker did not answer): each is counted here and logged
  /// (never a token or a body).
  std::atomic<uint64_t> handler_errors{0};
  std::atomic<uint64_t> tls_handshake_failures{0};  ///< logged once, then every 1000th
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  /// Sockets closed by the relay, per reason (counted once per socket, when the close starts).
  std::array<std::atomic<uint64_t>, proto::close_reason_count> closes{};
  void count_close(proto::close_reason r) {
    closes[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace rc::gw
