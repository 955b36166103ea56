// Asio/Beast headers and namespace aliases of the gateway's socket code. Included only by the
// Beast translation units (listener.cpp, ws_bridge.cpp, beast_impl.cpp and the gateway tests);
// never together with CAF except in ws_bridge.cpp (tests/check_includes.py enforces it).
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <type_traits>
#include <utility>

namespace rc::gw {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

/// Transport operations of a session's lowest layer. Specialised for beast::tcp_stream here and
/// for beast::test::stream in the gateway tests, so that one session template runs on both.
template <class Lowest>
struct transport;

template <>
struct transport<beast::tcp_stream> {
  static void expires_after(beast::tcp_stream& s, std::chrono::milliseconds d) {
    s.expires_after(d);
  }
  static void expires_never(beast::tcp_stream& s) { s.expires_never(); }
  static void shutdown_send(beast::tcp_stream& s) {
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  /// Shuts both directions down and closes.
  static void shutdown_close(beast::tcp_stream& s) {
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
    s.socket().close(ec);
  }
  static void close(beast::tcp_stream& s) {
    beast::error_code ec;
    s.socket().close(ec);
  }
  /// Completes once the socket has data to read (or fails): a websocket can wait idle with no
  /// read buffer prepared. Under epoll's edge trigger Asio re-arms the descriptor for the wait
  /// (EPOLL_CTL_MOD), which reports data that had already arrived.
  template <class Handler>
  static void async_wait_read(beast::tcp_stream& s, Handler&& h) {
    s.socket().async_wait(tcp::socket::wait_read, std::forward<Handler>(h));
  }
};

/// The transport of a (possibly layered) stream: `lowest<S>::close(beast::get_lowest_layer(s))`.
template <class Stream>
using lowest = transport<std::decay_t<decltype(beast::get_lowest_layer(std::declval<Stream&>()))>>;

}  // namespace rc::gw
