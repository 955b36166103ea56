// One websocket over any Beast stream (TCP, TLS, or beast::test::stream in the gateway tests):
// framing, bounds, the per-socket budget, heartbeats, the bounded outbound queue and the close
// sequence. Implements ws_peer for the actors and drives a ws_handler (the socket's actor side)
// on the socket's strand. Beast only, no CAF.
#pragma once
#include <algorithm>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/container/devector.hpp>
#include <functional>
#include <type_traits>

#include "gateway/beast.hpp"
#include "gateway/frame_meter.hpp"
#include "gateway/socket.hpp"
#include "protocol/close_reason.hpp"
#include "settings/config.hpp"

namespace rc::gw {

template <class Stream>
class ws_session : public ws_peer, public std::enable_shared_from_this<ws_session<Stream>> {
 public:
  using handler_factory = std::function<std::shared_ptr<ws_handler>(std::shared_ptr<ws_peer>)>;

  /// `cfg` must outlive the io loop that runs this session.
  ws_session(const settings::relay_config& cfg, std::shared_ptr<counters> ctr, Stream&& stream,
             std::string ip, std::string origin, bool has_origin, std::string query_token)
      : cfg_(cfg),
        ctr_(std::move(ctr)),
        ws_(std::move(stream)),
        auth_timer_(ws_.get_executor()),
        hb_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()),
        ip_(std::move(ip)),
        origin_(std::move(origin)),
        has_origin_(has_origin),
        query_token_(std::move(query_token)) {
    cap_ = cfg_.outbound_queue();
    cap_bytes_ = cfg_.outbound_bytes();
  }

  ~ws_session() override { ctr_->ws_open.fetch_sub(1, std::memory_order_relaxed); }

  /// The socket's unit of the pre-auth websocket budget: released once it authenticates (or
  /// ends).
  void hold_preauth(counted_slot slot) { preauth_ = std::move(slot); }

  /// Accepts the upgrade; once the handshake is done `make_handler` gives the socket its
  /// actor side (nullptr = refuse the socket).
  template <class Request>
  void start(Request&& req, handler_factory make_handler) {
    make_handler_ = std::move(make_handler);
    ctr_->ws_open.fetch_add(1, std::memory_order_relaxed);
    lowest<decltype(ws_)>::expires_never(beast::get_lowest_layer(ws_));
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                   websocket::stream_base::none(), false});
    // Read frames up to twice the limit so an oversize message gets `message_too_large`
    // (bounded); beyond that the transport fails and the socket just drops.
    ws_.read_message_max(cfg_.max_ws_message_bytes * 2 + 4096);
    ws_.auto_fragment(false);
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { last_inbound_ = clock_type::now(); });
    // Every frame but a text message's first is charged as it arrives: binary, continuation
    // (also the zero-length ones Beast reports to no callback), ping, pong, close.
    ws_.next_layer().on_frame([this](unsigned opcode) {
      if (opcode != 1) charge(false);
    });
    ws_.async_accept(req,
                     beast::bind_front_handler(&ws_session::on_accept, this->shared_from_this()));
  }

  // ---- ws_peer ----
  bool send(frame_ptr frame) override {
    if (closed_.load(std::memory_order_acquire)) {
      ctr_->outbound_send_failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // Bounded in messages and in bytes (issue 10 item 6): a burst of small frames to a healthy
    // socket fits; a socket whose backlog exceeds MAX_SOCKET_OUTBOUND_BYTES is a slow consumer.
    // One frame is always accepted into an empty queue, whatever its size.
    std::size_t size = frame ? frame->size() : 0;
    auto before = queued_bytes_.fetch_add(size, std::memory_order_acq_rel);
    if (queued_.fetch_add(1, std::memory_order_acq_rel) >= cap_ ||
        (before > 0 && before + size > cap_bytes_)) {
      queued_.fetch_sub(1, std::memory_order_acq_rel);
      queued_bytes_.fetch_sub(size, std::memory_order_acq_rel);
      ctr_->outbound_send_failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    net::post(ws_.get_executor(), [self = this->shared_from_this(),
                                   f = std::move(frame)]() mutable { self->push(std::move(f)); });
    return true;
  }

  void disconnect(proto::close_reason reason) override {
    auto f = std::make_shared<const std::string>(proto::disconnect_frame(reason));
    net::post(ws_.get_executor(), [self = this->shared_from_this(), f, reason]() mutable {
      if (self->closing_) return;
      self->ctr_->count_close(reason);
      if (self->queued_.load() < self->cap_) {
        self->queued_.fetch_add(1);
        self->queued_bytes_.fetch_add(f->size());
        self->push(std::move(f));
      }
      self->begin_close(false);
    });
  }

  void reject_policy() override {
    auto f = std::make_shared<const std::string>(
        proto::disconnect_frame(proto::close_reason::session_expired));
    net::post(ws_.get_executor(), [self = this->shared_from_this(), f]() mutable {
      if (self->closing_) return;
      self->ctr_->count_close(proto::close_reason::session_expired);
      self->queued_.fetch_add(1);
      self->queued_bytes_.fetch_add(f->size());
      self->push(std::move(f));
      self->begin_close(true);
    });
  }

  void reject_missing_auth() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()]() mutable {
      if (self->closing_) return;
      self->queued_.fetch_add(1);
      self->queued_bytes_.fetch_add(2);
      self->push(std::make_shared<const std::string>("{}"));
      self->begin_close(false);
    });
  }

  void drop() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->hard_close(); });
  }

  void mark_authenticated() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      if (self->closing_ || self->authenticated_) return;
      self->authenticated_ = true;
      self->preauth_.release();
      self->auth_timer_.cancel();
      self->window_end_ = clock_type::now() + std::chrono::seconds(60);
      self->window_count_ = 0;
      self->other_count_ = 0;
      self->last_inbound_ = clock_type::now();
      self->arm_heartbeat();
    });
  }

  void post(std::function<void()> fn) override { net::post(ws_.get_executor(), std::move(fn)); }
  const std::string& client_ip() const override { return ip_; }
  const std::string& origin() const override { return origin_; }
  bool has_origin() const override { return has_origin_; }
  const std::string& query_token() const override { return query_token_; }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      closed_.store(true);
      return;
    }
    ctr_->ws_auth_attempts.fetch_add(1, std::memory_order_relaxed);
    handler_ = make_handler_ ? make_handler_(this->shared_from_this()) : nullptr;
    make_handler_ = nullptr;
    if (!handler_) {
      hard_close();
      return;
    }
    auth_timer_.expires_after(std::chrono::milliseconds(cfg_.ws_auth_timeout_ms));
    auth_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
      if (e || self->authenticated_ || self->closing_) return;
      self->handler_->on_binary_first();  // no (accepted) relay.auth in time: `{}` and drop
    });
    if (!query_token_.empty()) auth_started_ = true;
    do_read();
  }

  /// Over a plain TCP socket, a websocket with nothing buffered waits for data before it reads,
  /// so an idle socket holds no read buffer (Beast prepares up to 1.5 KiB of `buffer_` for each
  /// pending read; issue 11). Over TLS the engine may hold decrypted bytes the socket no longer
  /// shows, so it always reads.
  static constexpr bool waits_for_data =
      std::is_same_v<Stream,
                     std::decay_t<decltype(beast::get_lowest_layer(std::declval<Stream&>()))>>;

  void do_read() {
    if constexpr (waits_for_data) {
      if (ws_.next_layer().drained(messages_)) {
        if (quiet_) buffer_.shrink_to_fit();  // empty: frees it (a busy socket keeps it)
        waiting_ = true;
        lowest<decltype(ws_)>::async_wait_read(
            beast::get_lowest_layer(ws_), [self = this->shared_from_this()](beast::error_code) {
              self->waiting_ = false;
              self->start_read();  // an error is the read's to report
            });
        return;
      }
    }
    start_read();
  }

  void start_read() {
    ws_.async_read(buffer_,
                   net::bind_cancellation_slot(
                       read_cancel_.slot(),
                       beast::bind_front_handler(&ws_session::on_read, this->shared_from_this())));
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      // Includes frames beyond 2× MAX_WS_MESSAGE_BYTES: the transport fails, the socket drops.
      finish();
      return;
    }
    last_inbound_ = clock_type::now();
    ++messages_;
    quiet_ = last_inbound_ - last_message_ > std::chrono::seconds(1);
    last_message_ = last_inbound_;
    ctr_->frames_in.fetch_add(1, std::memory_order_relaxed);
    if (closing_) {
      buffer_.consume(bytes);
      do_read();
      return;
    }
    if (!ws_.got_text()) {
      buffer_.consume(bytes);
      if (!auth_started_ && !authenticated_) {
        auth_started_ = true;
        handler_->on_binary_first();
      }
      do_read();  // ignored; its frames were charged as they arrived (on_frame)
      return;
    }
    if (bytes > cfg_.max_ws_message_bytes) {
      buffer_.consume(bytes);
      disconnect(proto::close_reason::message_too_large);
      do_read();
      return;
    }
    std::string text(static_cast<const char*>(buffer_.data().data()), bytes);
    buffer_.consume(bytes);
    if (buffer_.capacity() > 4096) buffer_.shrink_to_fit();  // idle sockets keep little memory
    if (!authenticated_) auth_started_ = true;
    if (!charge(true)) {
      do_read();
      return;
    }
    handler_->on_text(std::move(text));
    do_read();
  }

  /// Charges one inbound frame of an authenticated socket to its per-minute budget: text
  /// messages to MAX_WS_MESSAGES_PER_MINUTE (RELAY_PROTOCOL §9.1); every other frame (binary,
  /// continuation, ping, pong, close), which the reference does not count, to its own allowance
  /// of max(4 × that, 600) so that a reference client's pings never cost it a command while a
  /// flood is still cut. Over either, the socket closes socket_rate_limited (false).
  bool charge(bool text) {
    if (limited_) return false;
    if (!authenticated_ || closing_) return !closing_;
    auto now = clock_type::now();
    if (now >= window_end_) {
      window_end_ = now + std::chrono::seconds(60);
      window_count_ = 0;
      other_count_ = 0;
    }
    auto limit = cfg_.max_ws_messages_per_minute;
    if (text ? ++window_count_ <= limit : ++other_count_ <= std::max<uint64_t>(4 * limit, 600))
      return true;
    limited_ = true;  // one disconnect, however many frames of the same read are over
    disconnect(proto::close_reason::socket_rate_limited);
    return false;
  }

  void arm_heartbeat() {
    auto interval = std::max<uint64_t>(cfg_.ws_heartbeat_interval_ms, 1000);
    hb_timer_.expires_after(std::chrono::milliseconds(interval));
    hb_timer_.async_wait([self = this->shared_from_this(), interval](beast::error_code e) {
      if (e || self->closing_) return;
      auto timeout = std::max<uint64_t>(self->cfg_.ws_heartbeat_timeout_ms, 2 * interval);
      if (clock_type::now() - self->last_inbound_ > std::chrono::milliseconds(timeout)) {
        self->disconnect(proto::close_reason::heartbeat_timeout);
        return;
      }
      if (self->queue_.size() >= self->cap_ ||  // no room even for the ping: a slow consumer
          (self->queue_.size() > 1 &&
           self->queued_bytes_.load(std::memory_order_acquire) > self->cap_bytes_)) {
        self->ctr_->count_close(proto::close_reason::slow_consumer);
        self->ctr_->slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
        self->hard_close();
        return;
      }
      // Idle memory goes back: the read buffer while waiting for data, the queue's storage
      // when nothing is queued.
      if (self->waiting_) self->buffer_.shrink_to_fit();
      if (self->queue_.empty()) decltype(self->queue_)().swap(self->queue_);
      if (!self->ping_due_) {
        self->ping_due_ = true;  // after the frames queued now, as if queued behind them
        self->ping_ahead_ = self->queue_.size();
      }
      self->write_next();
      self->arm_heartbeat();
    });
  }

  /// Queues a frame on the strand. Once the close has begun (disconnect frame queued) nothing
  /// else is written: a revoked phone gets no frame after its disconnect.
  void push(frame_ptr f) {
    if (closed_.load() || closing_) {
      queued_.fetch_sub(1);
      queued_bytes_.fetch_sub(f ? f->size() : 0);
      if (closing_) ctr_->outbound_send_failures.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(f));
    write_next();
  }

  void write_next() {
    if (writing_ || closed_.load()) return;
    if (ping_due_ && ping_ahead_ == 0 && !closing_) {
      ping_due_ = false;
      writing_ = true;
      ws_.async_ping({}, [self = this->shared_from_this()](beast::error_code ec) {
        self->on_write(ec, true);
      });
      return;
    }
    if (queue_.empty()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_write(ec, false);
                    });
  }

  void on_write(beast::error_code ec, bool ping) {
    writing_ = false;
    if (!ping) {
      queued_.fetch_sub(1);
      queued_bytes_.fetch_sub(queue_.front()->size());
      ctr_->frames_out.fetch_add(1, std::memory_order_relaxed);
      queue_.pop_front();
      if (ping_due_ && ping_ahead_ > 0) --ping_ahead_;
    }
    if (ec) {
      finish();
      return;
    }
    if (queue_.empty() && closing_) {
      complete_close();
      return;
    }
    write_next();
  }

  void begin_close(bool policy) {
    if (closing_) return;
    closing_ = true;
    policy_close_ = policy;
    auth_timer_.cancel();
    hb_timer_.cancel();
    close_timer_.expires_after(std::chrono::milliseconds(100));
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
      if (!e) self->hard_close();
    });
    if (queue_.empty() && !writing_) complete_close();
  }

  void complete_close() {
    if (policy_close_ && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(
          websocket::close_reason(websocket::close_code::policy_error,
                                  proto::to_string(proto::close_reason::session_expired)),
          net::bind_cancellation_slot(close_cancel_.slot(),
                                      [self = this->shared_from_this()](beast::error_code) {
                                        self->writing_ = false;
                                        self->hard_close();
                                      }));
      return;
    }
    hard_close();
  }

  void hard_close() {
    if (closed_.exchange(true)) return;
    closing_ = true;
    auth_timer_.cancel();
    hb_timer_.cancel();
    close_timer_.cancel();
    lowest<decltype(ws_)>::shutdown_close(beast::get_lowest_layer(ws_));
    finish();
  }

  void finish() {
    closed_.store(true);
    if (!finished_) {
      finished_ = true;
      auth_timer_.cancel();
      hb_timer_.cancel();
      close_timer_.cancel();  // its wait holds a reference: release it with the transport
      if (handler_) handler_->on_closed();
      handler_.reset();
      preauth_.release();
      lowest<decltype(ws_)>::close(beast::get_lowest_layer(ws_));
      // Closing the transport completes the operations waiting on it, but not one Beast has
      // parked behind another: a read that met a protocol error holds the read lock and waits
      // for the write lock, which an async_close holds while it waits for the read lock. Both
      // would hold this session (and its count) forever; terminal cancellation ends them
      // (found by fuzz_ws_session: policy close, then a bad frame already buffered).
      read_cancel_.emit(net::cancellation_type::terminal);
      close_cancel_.emit(net::cancellation_type::terminal);
    }
  }

  const settings::relay_config& cfg_;
  std::shared_ptr<counters> ctr_;
  handler_factory make_handler_;
  websocket::stream<metered_stream<Stream>> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer auth_timer_, hb_timer_, close_timer_;
  net::cancellation_signal read_cancel_, close_cancel_;  ///< see finish()
  std::string ip_, origin_;
  bool has_origin_;
  std::string query_token_;
  std::shared_ptr<ws_handler> handler_;
  counted_slot preauth_;
  /// Frames accepted and not yet written. A devector allocates nothing while empty (a std::deque
  /// holds a 512-byte node and its map from construction: 0.5 KiB per idle socket).
  boost::container::devector<frame_ptr> queue_;
  bool ping_due_ = false;                     ///< a heartbeat ping is to be written ...
  std::size_t ping_ahead_ = 0;                ///< ... after this many frames of the queue
  std::atomic<std::size_t> queued_{0};        ///< frames accepted and not yet written
  std::atomic<std::size_t> queued_bytes_{0};  ///< ... and their bytes
  std::size_t cap_, cap_bytes_;
  std::atomic<bool> closed_{false};
  bool closing_ = false, writing_ = false, authenticated_ = false, auth_started_ = false;
  bool policy_close_ = false, close_sent_ = false, finished_ = false, limited_ = false;
  bool waiting_ = false;   ///< waiting for data with no read pending (waits_for_data)
  bool quiet_ = true;      ///< the last message came > 1 s after the one before
  uint64_t messages_ = 0;  ///< messages read (ws_.next_layer().drained)
  clock_type::time_point last_message_{};
  clock_type::time_point last_inbound_ = clock_type::now();
  clock_type::time_point window_end_;
  std::size_t window_count_ = 0, other_count_ = 0;
};

}  // namespace rc::gw
