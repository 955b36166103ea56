// Shared fixture of the gateway tests: the real HTTP and websocket sessions over
// beast::test::stream (no sockets), with fail-at-N injection (beast::test::fail_count).
// open_websocket for test streams is defined once per binary (session_test.cpp for relay_unit,
// fuzz_ws_session.cpp for its fuzz target), both through open_fixture_websocket below.
#pragma once
#include <boost/beast/_experimental/test/stream.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/beast.hpp"
#include "gateway/ws_open.hpp"

namespace rc::gw {

using test_stream = beast::test::stream;

/// beast::test::stream has no socket and no timeouts: closing it is what the peer sees.
template <>
struct transport<test_stream> {
  static void expires_after(test_stream&, std::chrono::milliseconds) {}
  static void expires_never(test_stream&) {}
  static void shutdown_send(test_stream& s) { s.close(); }
  static void shutdown_close(test_stream& s) { s.close(); }
  static void close(test_stream& s) { s.close(); }
  /// No readiness to wait for: completes at once, and the read that follows waits instead.
  template <class Handler>
  static void async_wait_read(test_stream& s, Handler&& h) {
    net::post(s.get_executor(),
              [h = std::forward<Handler>(h)]() mutable { h(beast::error_code{}); });
  }
};

/// Upgraded test streams go to this (the production overloads are in ws_bridge.cpp).
void open_websocket(ws_bridge* bridge, test_stream&& stream, ws_upgrade&& up);

}  // namespace rc::gw

#include "gateway/http_session.hpp"
#include "gateway/ws_session.hpp"

using namespace rc::gw;
namespace test = boost::beast::test;

namespace gwtest {

/// The socket's actor side, recorded. `on_text_do` lets a test answer through the peer.
struct fake_handler final : ws_handler {
  std::vector<std::string> texts;
  int binary_first = 0;
  int closed = 0;
  std::weak_ptr<ws_peer> peer;
  std::function<void(fake_handler&, const std::string&)> on_text_do;

  void on_text(std::string&& t) override {
    texts.push_back(t);
    if (on_text_do) on_text_do(*this, texts.back());
  }
  void on_binary_first() override { ++binary_first; }
  void on_closed() override { ++closed; }
};

struct fixture;
inline fixture* current = nullptr;

struct fixture {
  rc::settings::relay_config cfg;
  std::shared_ptr<counters> ctr = std::make_shared<counters>();
  std::vector<rc::gw::http_request> requests;
  std::function<void(rc::gw::http_request&, std::shared_ptr<http_responder>)> answer;
  std::shared_ptr<fake_handler> handler = std::make_shared<fake_handler>();
  std::weak_ptr<ws_peer> ws;  ///< the websocket session, once upgraded
  std::unique_ptr<http_shared> shared;
  /// Last member, so destroyed first: its destructor destroys handlers still queued, and the
  /// sessions they hold then release their counts in `shared` and `ctr` (as in listener.cpp,
  /// whose io_context is declared after http_shared). Found by TSan (heap-use-after-free).
  net::io_context ioc;

  fixture() {
    current = this;
    cfg.allowed_origins = {"http://localhost:4173"};
    cfg.max_json_bytes = 1024;
    cfg.max_ws_message_bytes = 256;
    answer = [](rc::gw::http_request&, std::shared_ptr<http_responder> r) {
      r->respond(200, "{\"ok\":true}");
    };
  }
  ~fixture() { current = nullptr; }

  /// What the sessions of this fixture share (made once: live sessions refer to it).
  http_shared& share() {
    if (shared) return *shared;
    shared.reset(
        new http_shared{cfg, ctr,
                        [this](rc::gw::http_request&& r, std::shared_ptr<http_responder> p) {
                          requests.push_back(r);
                          answer(requests.back(), std::move(p));
                        },
                        nullptr});
    return *shared;
  }

  /// Runs whatever is ready a few rounds (posted handlers), without waiting for timers.
  void settle() {
    for (int i = 0; i < 20; ++i) {
      ioc.restart();
      ioc.poll();
    }
  }

  /// Runs the io loop until `done` or 2 s (bounded; timers of the sessions may stay armed).
  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      ioc.restart();
      ioc.run_for(std::chrono::milliseconds(1));
    }
    return done();
  }

  /// A server-side HTTP session over an in-memory stream; returns the client end.
  test_stream serve(std::weak_ptr<void>& session, test::fail_count* fc = nullptr) {
    test_stream server = fc ? test_stream(ioc, *fc) : test_stream(ioc);
    test_stream client(ioc);
    server.connect(client);
    auto s = std::make_shared<http_session<test_stream>>(share(), std::move(server), "203.0.113.1",
                                                         false);
    session = s;
    s->start();
    return client;
  }
};

/// What the test-stream open_websocket does: the real ws_session over the upgraded stream, its
/// actor side the current fixture's handler. `on_handler` runs each time the session asks for
/// its handler (after the handshake).
inline void open_fixture_websocket(test_stream&& stream, ws_upgrade&& up,
                                   const std::function<void()>& on_handler = {}) {
  auto& f = *current;
  auto ws = std::make_shared<ws_session<test_stream>>(f.cfg, f.ctr, std::move(stream),
                                                      std::move(up.client_ip), std::move(up.origin),
                                                      up.has_origin, std::move(up.query_token));
  ws->hold_preauth(std::move(up.preauth));
  f.ws = ws;
  ws->start(std::move(up.req), [h = f.handler, on_handler](std::shared_ptr<ws_peer> p) {
    h->peer = p;
    if (on_handler) on_handler();
    return h;
  });
}

}  // namespace gwtest

namespace gwtest {

inline std::string request(const std::string& method, const std::string& target,
                           const std::string& headers = "", const std::string& body = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: relay\r\n" + headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Writes raw bytes from the client end (they arrive in the server's input).
inline void send_raw(test_stream& client, const std::string& bytes) {
  net::write(client, net::buffer(bytes));
}

/// A client frame as on the wire: masked with key 0 (so the payload goes as is), any first byte
/// (FIN, RSV, opcode); payloads below 64 KiB.
inline std::string masked_frame(uint8_t b0, const std::string& payload) {
  std::string f(1, static_cast<char>(b0));
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  f.append(4, '\0');
  return f + payload;
}

/// Reads one response from the client end (bounded by the fixture loop).
inline bool read_response(fixture& f, test_stream& client, http::response<http::string_body>& res) {
  beast::flat_buffer buf;
  bool done = false;
  beast::error_code err;
  http::async_read(client, buf, res, [&](beast::error_code ec, std::size_t) {
    err = ec;
    done = true;
  });
  return f.run_until([&] { return done; }) && !err;
}

/// A websocket client on the client end, upgraded through the HTTP session.
struct ws_client {
  websocket::stream<test_stream> ws;
  beast::flat_buffer buf;
  explicit ws_client(test_stream&& s) : ws(std::move(s)) {}

  bool handshake(fixture& f, const std::string& origin = "http://localhost:4173") {
    ws.set_option(websocket::stream_base::decorator(
        [origin](websocket::request_type& r) { r.set(http::field::origin, origin); }));
    bool done = false;
    beast::error_code err;
    ws.async_handshake("relay", "/ws", [&](beast::error_code ec) {
      err = ec;
      done = true;
    });
    if (!f.run_until([&] { return done; }) || err) return false;
    return f.run_until([&] { return f.handler->peer.lock() != nullptr; });
  }
  void write(fixture& f, const std::string& text, bool binary = false) {
    bool done = false;
    ws.binary(binary);
    ws.async_write(net::buffer(text), [&](beast::error_code, std::size_t) { done = true; });
    f.run_until([&] { return done; });
  }
  /// Next text frame, or "" when the connection ended (ec set).
  std::string read(fixture& f, beast::error_code& err) {
    bool done = false;
    buf.clear();
    ws.async_read(buf, [&](beast::error_code ec, std::size_t) {
      err = ec;
      done = true;
    });
    f.run_until([&] { return done; });
    if (!done) err = beast::error::timeout;
    return err ? std::string{} : beast::buffers_to_string(buf.data());
  }
};

}  // namespace gwtest

using namespace gwtest;
