// The layer under a session's websocket::stream that sees every frame a client sends, so that
// every frame kind can be charged to the per-socket budget (issue 10 item 8). Beast reports
// whole messages to read callbacks and pings/pongs/close to the control callback, but consumes
// zero-length non-final frames (empty continuations) silently inside its read loop: a client
// could send them forever without any callback. metered_stream<Next> forwards every operation
// to Next and scans the raw bytes each read delivers for frame headers (payload bytes are
// skipped, never copied or unmasked). Beast only, no CAF.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <utility>

#include "gateway/beast.hpp"

namespace rc::gw {

/// Incremental RFC 6455 §5.2 frame-header parser over a byte stream: `on_frame(opcode)` once per
/// frame, when its header is complete. O(1) per header byte; payloads are skipped.
class frame_scanner {
 public:
  template <class OnFrame>
  void scan(const unsigned char* p, std::size_t n, OnFrame&& on_frame) {
    const unsigned char* end = p + n;
    while (p < end) {
      if (skip_ > 0) {
        auto k =
            static_cast<std::size_t>(std::min<uint64_t>(skip_, static_cast<uint64_t>(end - p)));
        p += k;
        skip_ -= k;
        continue;
      }
      hdr_[have_++] = *p++;
      if (have_ == 2) {
        unsigned len7 = hdr_[1] & 0x7fu;
        need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((hdr_[1] & 0x80u) ? 4 : 0);
      }
      if (have_ < 2 || have_ < need_) continue;
      uint64_t len = hdr_[1] & 0x7fu;
      if (len == 126) {
        len = (uint64_t{hdr_[2]} << 8) | hdr_[3];
      } else if (len == 127) {
        len = 0;
        for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | hdr_[i];
      }
      have_ = 0;
      need_ = 2;
      skip_ = len;
      on_frame(static_cast<unsigned>(hdr_[0] & 0x0fu));
    }
  }

  /// The FIN bit of the frame whose header was completed last (valid in `on_frame`).
  bool fin() const noexcept { return (hdr_[0] & 0x80u) != 0; }
  /// Every byte scanned so far belongs to a complete frame (header and payload).
  bool at_boundary() const noexcept { return have_ == 0 && skip_ == 0; }

 private:
  std::array<unsigned char, 14> hdr_{};
  std::size_t have_ = 0, need_ = 2;
  uint64_t skip_ = 0;  ///< payload bytes of the current frame still to pass
};

template <class Next>
class metered_stream;

namespace detail {

/// Completion of a read of the metered layer: scans what arrived, then calls Beast's handler.
/// Its executor, allocator and cancellation slot are the wrapped handler's (asio::associator).
template <class Next, class Buffers, class Handler>
struct metered_read_handler {
  metered_stream<Next>* self;
  Buffers buffers;
  Handler handler;
  void operator()(beast::error_code ec, std::size_t n) {
    self->scan(buffers, n);
    std::move(handler)(ec, n);
  }
};

}  // namespace detail

/// A Next stream whose reads are scanned for websocket frame headers.
template <class Next>
class metered_stream {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;
  /// Called with the opcode of every frame, on the stream's executor, before Beast sees it.
  using frame_callback = std::function<void(unsigned opcode)>;

  explicit metered_stream(Next&& next) : next_(std::move(next)) {}

  next_layer_type& next_layer() noexcept { return next_; }
  const next_layer_type& next_layer() const noexcept { return next_; }
  executor_type get_executor() noexcept { return next_.get_executor(); }
  void on_frame(frame_callback cb) { on_frame_ = std::move(cb); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    next_.async_read_some(buffers,
                          detail::metered_read_handler<Next, Buffers, std::decay_t<Handler>>{
                              this, buffers, std::forward<Handler>(handler)});
  }
  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    return next_.async_write_some(buffers, std::forward<Handler>(handler));
  }

  template <class Buffers>
  void scan(const Buffers& buffers, std::size_t n) {
    for (auto it = net::buffer_sequence_begin(buffers);
         n > 0 && it != net::buffer_sequence_end(buffers); ++it) {
      net::mutable_buffer b = *it;
      std::size_t k = std::min(n, b.size());
      scanner_.scan(static_cast<const unsigned char*>(b.data()), k, [this](unsigned op) {
        ended_message_ = op <= 2 && scanner_.fin();  // the last frame of a data message
        if (ended_message_) ++messages_ended_;
        if (on_frame_) on_frame_(op);
      });
      n -= k;
    }
  }

  /// True when the websocket stream above, having delivered `messages` messages, holds no byte
  /// read from here that it has not processed: every byte read so far belongs to complete
  /// frames, the last of them ended a data message, and that was the `messages`-th. (A ping or
  /// a further message read in the same chunk still sits in Beast's read buffer otherwise.)
  bool drained(uint64_t messages) const noexcept {
    return scanner_.at_boundary() && ended_message_ && messages_ended_ == messages;
  }

  friend void teardown(beast::role_type role, metered_stream& s, beast::error_code& ec) {
    using websocket::teardown;
    teardown(role, s.next_, ec);
  }
  template <class TeardownHandler>
  friend void async_teardown(beast::role_type role, metered_stream& s, TeardownHandler&& handler) {
    using websocket::async_teardown;
    async_teardown(role, s.next_, std::forward<TeardownHandler>(handler));
  }

 private:
  Next next_;
  frame_scanner scanner_;
  frame_callback on_frame_;
  bool ended_message_ = true;    ///< nothing read yet counts as "no message in progress"
  uint64_t messages_ended_ = 0;  ///< data messages whose final frame was read
};

}  // namespace rc::gw

namespace boost::asio {

template <template <typename, typename> class Associator, class Next, class Buffers, class Handler,
          class DefaultCandidate>
struct associator<Associator, rc::gw::detail::metered_read_handler<Next, Buffers, Handler>,
                  DefaultCandidate> : Associator<Handler, DefaultCandidate> {
  using wrapped = rc::gw::detail::metered_read_handler<Next, Buffers, Handler>;
  static typename Associator<Handler, DefaultCandidate>::type get(const wrapped& h) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.handler);
  }
  static auto get(const wrapped& h, const DefaultCandidate& c) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
    return Associator<Handler, DefaultCandidate>::get(h.handler, c);
  }
};

}  // namespace boost::asio
