// gateway/ hardening (issue 10): request targets, HTTP framing, bodies on paths that take none,
// connection counting, websocket keys, the close sequence and the per-socket budget. Each case
// failed on the code before the fix.
#define CAF_SUITE gateway_hardening
#include <sys/resource.h>
#include <unistd.h>

#include <array>

#include <filesystem>
#include <fstream>

#include "caf/test/unit_test.hpp"
#include "gateway/static_files.hpp"
#include "settings/config.hpp"
#include "tests/gateway/fixture.hpp"

namespace fs = std::filesystem;

namespace {

/// Everything the server writes until it closes the connection (bounded by the fixture loop).
std::string read_all(fixture& f, test_stream& client) {
  std::string out;
  bool eof = false;
  std::function<void()> next;
  std::array<char, 4096> chunk{};
  next = [&] {
    client.async_read_some(net::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      out.append(chunk.data(), n);
      if (ec) {
        eof = true;
        return;
      }
      next();
    });
  };
  next();
  f.run_until([&] { return eof; });
  return out;
}

/// One raw request; the whole answer up to the server's close.
std::string roundtrip(fixture& f, const std::string& raw) {
  std::weak_ptr<void> session;
  auto client = f.serve(session);
  send_raw(client, raw);
  return read_all(f, client);
}

std::string status_line(const std::string& raw) {
  return raw.substr(0, raw.find("\r\n"));
}

/// dist/ (index.html, assets/app.js, a symlink to the sibling), dist-private/secret.txt and
/// dist.env next to it; removed at the end.
struct static_tree {
  fs::path root = fs::temp_directory_path() / ("rc-static-" + std::to_string(::getpid()));
  std::string dist = (root / "dist").string();
  static_tree() {
    fs::create_directories(root / "dist" / "assets");
    fs::create_directories(root / "dist-private");
    std::ofstream(root / "dist" / "index.html") << "<title>pwa</title>";
    std::ofstream(root / "dist" / "assets" / "app.js") << "console.log(1)";
    std::ofstream(root / "dist-private" / "secret.txt") << "secret";
    std::ofstream(root / "dist.env") << "secret=1";
    fs::create_directory_symlink(root / "dist-private", root / "dist" / "link");
  }
  ~static_tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

/// A ping from the client, written before this returns.
void ping(fixture& f, ws_client& c) {
  bool done = false;
  c.ws.async_ping({}, [&](beast::error_code) { done = true; });
  f.run_until([&] { return done; });
}

/// An authenticated websocket (the posted mark_authenticated has run).
bool authed_socket(fixture& f, ws_client& c) {
  if (!c.handshake(f)) return false;
  f.handler->peer.lock()->mark_authenticated();
  f.settle();
  return true;
}

const std::string ws_headers =
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\n";

}  // namespace

// ---- item 5: STATIC_DIR prefix escape -----------------------------------------------------

CAF_TEST(targets without a leading slash are refused and never reach the static files) {
  static_tree t;
  for (std::string target : {"-private/secret.txt", ".env", "link/secret.txt"}) {
    fixture f;
    f.cfg.static_dir = t.dist;
    auto raw = roundtrip(f, "GET " + target + " HTTP/1.1\r\nHost: relay\r\n\r\n");
    CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 400 Bad Request");
    CAF_CHECK(raw.find("secret") == std::string::npos);
    CAF_CHECK(f.requests.empty());
  }
}

CAF_TEST(static paths resolve by whole components inside the directory) {
  static_tree t;
  for (std::string p : {"-private/secret.txt", ".env", "/../dist-private/secret.txt"}) {
    auto r = load_static_file(t.dist, p);
    CAF_CHECK(r.body.find("secret") == std::string::npos);
  }
  CAF_CHECK_EQUAL(load_static_file(t.dist, "-private/secret.txt").status, 404);
  // A symlink out of the directory is not followed: the single-page app answers instead.
  CAF_CHECK_EQUAL(load_static_file(t.dist, "/link/secret.txt").body, "<title>pwa</title>");
  CAF_CHECK_EQUAL(load_static_file(t.dist, "/assets/app.js").body, "console.log(1)");
  CAF_CHECK_EQUAL(load_static_file(t.dist, "/assets//app.js").body, "console.log(1)");
  CAF_CHECK_EQUAL(load_static_file(t.dist, "/").body, "<title>pwa</title>");
  CAF_CHECK_EQUAL(load_static_file(t.dist, "/threads/abc").body, "<title>pwa</title>");
}

// ---- item 7: HTTP framing -----------------------------------------------------------------

CAF_TEST(transfer encodings not ending in chunked get 400 and close) {
  for (std::string te : {"identity", "chunked, identity", "gzip"}) {
    fixture f;
    auto raw = roundtrip(f,
                         "POST /pair/stop HTTP/1.1\r\nHost: relay\r\nContent-Type: "
                         "application/json\r\nTransfer-Encoding: " +
                             te + "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n");
    CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 400 Bad Request");
    CAF_CHECK_EQUAL(raw.find("HTTP/1.1", 1), std::string::npos);  // one answer, then close
    CAF_CHECK(f.requests.empty());
  }
}

CAF_TEST(head answers carry the get headers and no body) {
  fixture f;
  auto raw = roundtrip(f, "HEAD /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 200 OK");
  CAF_CHECK(raw.find("Content-Length: 11\r\n") != std::string::npos);
  CAF_CHECK_EQUAL(raw.substr(raw.size() - 4), "\r\n\r\n");

  static_tree t;
  fixture g;
  g.cfg.static_dir = t.dist;
  raw = roundtrip(g, "HEAD /assets/app.js HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 200 OK");
  CAF_CHECK(raw.find("Content-Length: 14\r\n") != std::string::npos);
  CAF_CHECK_EQUAL(raw.substr(raw.size() - 4), "\r\n\r\n");
}

// ---- item 3: bodies, connection count, fd-derived cap ------------------------------------

CAF_TEST(bodies on paths that take none get 413 before they are read) {
  static_tree t;
  std::string body(100, 'x');
  std::string cl = "Content-Length: 100\r\n\r\n";
  const std::string heads[] = {
      "GET /healthz HTTP/1.1\r\nHost: relay\r\n",
      "GET /ws HTTP/1.1\r\nHost: relay\r\n" + ws_headers +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
      "GET /index.html HTTP/1.1\r\nHost: relay\r\n",
      "OPTIONS /pair/start HTTP/1.1\r\nHost: r\r\n",
  };
  for (const auto& head : heads) {
    fixture f;
    f.cfg.static_dir = t.dist;
    std::weak_ptr<void> session;
    auto client = f.serve(session);
    send_raw(client, head + cl);  // the body is never sent: the answer must not wait for it
    http::response<http::string_body> res;
    CAF_REQUIRE(read_response(f, client, res));
    CAF_CHECK_EQUAL(res.result_int(), 413u);
    CAF_CHECK(!res.keep_alive());
    CAF_CHECK(f.requests.empty());
    CAF_CHECK(f.ws.expired());
  }
  // Chunked too; a GET on the API with a body gets its 405 and a close.
  fixture f;
  auto raw = roundtrip(f,
                       "GET /healthz HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 413 Payload Too Large");
  fixture g;
  raw = roundtrip(g, "GET /pair/start HTTP/1.1\r\nHost: r\r\n" + cl + body +
                         "GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 405 Method Not Allowed");
  CAF_CHECK_EQUAL(raw.find("HTTP/1.1", 1), std::string::npos);
  CAF_CHECK(g.requests.empty());
  // Other methods on those paths keep the route's answer (404/405), unread body, then close.
  fixture h;
  raw = roundtrip(h, "POST /healthz HTTP/1.1\r\nHost: r\r\n" + cl + body +
                         "GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 200 OK");  // the fixture's routes answer 200
  CAF_CHECK_EQUAL(raw.find("HTTP/1.1", 1), std::string::npos);
  CAF_REQUIRE_EQUAL(h.requests.size(), 1u);
  CAF_CHECK_EQUAL(h.requests[0].method, "POST");
  CAF_CHECK(h.requests[0].body.empty());
}

CAF_TEST(every http connection counts as open until it ends) {
  fixture f;
  std::weak_ptr<void> s1, s2;
  auto c1 = f.serve(s1);
  auto c2 = f.serve(s2);
  CAF_CHECK_EQUAL(f.shared->http_open.load(), 2u);
  CAF_CHECK_EQUAL(f.shared->open_connections(), 2u);
  c1.close();
  CAF_CHECK(f.run_until([&] { return s1.expired(); }));
  CAF_CHECK_EQUAL(f.shared->open_connections(), 1u);
  // An upgraded connection is counted once, as a websocket.
  ws_client w(std::move(c2));
  CAF_REQUIRE(w.handshake(f));
  CAF_CHECK(f.run_until([&] { return s2.expired(); }));
  CAF_CHECK_EQUAL(f.shared->http_open.load(), 0u);
  CAF_CHECK_EQUAL(f.shared->open_connections(), 1u);
}

CAF_TEST(the default connection cap stays below the descriptor limit) {
  rlimit old{};
  CAF_REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(1000, old.rlim_max);
  CAF_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::string name = "relay-node";
  char* argv[] = {name.data(), nullptr};
  auto r = rc::settings::load_config(1, argv, {});
  setrlimit(RLIMIT_NOFILE, &old);
  CAF_REQUIRE(r.config);
  CAF_CHECK_LESS_OR_EQUAL(r.config->max_open_connections, low.rlim_cur - 64);
  CAF_CHECK_GREATER(r.config->max_open_connections, low.rlim_cur / 2);
  // An explicit value is kept.
  auto e = rc::settings::load_config(1, argv, {{"MAX_OPEN_CONNECTIONS", "50000"}});
  CAF_REQUIRE(e.config);
  CAF_CHECK_EQUAL(e.config->max_open_connections, 50000u);
}

// ---- item 9: websocket key, nothing after the disconnect frame ---------------------------

CAF_TEST(a websocket key that is not base64 of 16 bytes gets 400) {
  for (std::string key :
       {"abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=!", "dGhlIHNhbXBsZSBub25j*Q=="}) {
    fixture f;
    auto raw = roundtrip(f, "GET /ws HTTP/1.1\r\nHost: relay\r\n" + ws_headers +
                                "Sec-WebSocket-Key: " + key + "\r\n\r\n");
    CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 400 Bad Request");
    CAF_CHECK(f.ws.expired());
  }
}

CAF_TEST(no frame reaches the client after its disconnect frame) {
  fixture f;
  std::weak_ptr<void> session;
  ws_client c(f.serve(session));
  CAF_REQUIRE(c.handshake(f));
  auto peer = f.handler->peer.lock();
  peer->disconnect(rc::proto::close_reason::device_revoked);
  peer->send(std::make_shared<const std::string>("late"));
  peer.reset();
  beast::error_code ec;
  CAF_CHECK_EQUAL(c.read(f, ec), "{\"type\":\"disconnect\",\"reason\":\"device_revoked\"}");
  CAF_CHECK_EQUAL(c.read(f, ec), "");
  CAF_CHECK(ec);
}

// ---- item 8: every frame kind is charged to the per-socket budget ------------------------

CAF_TEST(pings and binary frames are charged to their own socket allowance) {
  // max(4 × MAX_WS_MESSAGES_PER_MINUTE, 600) per minute: 600 pass, the 601st closes.
  // Text commands keep their own budget (RELAY_PROTOCOL §9.1 does not count the others).
  for (bool binary : {false, true}) {
    fixture f;
    f.cfg.max_ws_messages_per_minute = 3;
    std::weak_ptr<void> session;
    ws_client c(f.serve(session));
    CAF_REQUIRE(authed_socket(f, c));
    for (int i = 0; i < 601; ++i) {
      if (binary) {
        c.write(f, "\x01", true);
      } else {
        ping(f, c);
      }
    }
    beast::error_code ec;
    CAF_CHECK_EQUAL(c.read(f, ec), "{\"type\":\"disconnect\",\"reason\":\"socket_rate_limited\"}");
    CAF_CHECK(f.handler->texts.empty());
  }
}

CAF_TEST(zero - length continuation frames are charged to the socket allowance) {
  // Beast consumes empty non-final frames inside its read loop and reports them to no callback:
  // before the frame meter, 20 000 of them after a non-final text frame kept the socket open.
  fixture f;
  f.cfg.max_ws_messages_per_minute = 3;  // other frames: 600 per minute
  std::weak_ptr<void> session;
  ws_client c(f.serve(session));
  CAF_REQUIRE(authed_socket(f, c));
  std::string raw = masked_frame(0x01, "{");  // a text message begun, never finished
  for (int i = 0; i < 20000; ++i) raw += masked_frame(0x00, "");
  send_raw(c.ws.next_layer(), raw);
  beast::error_code ec;
  CAF_CHECK_EQUAL(c.read(f, ec), "{\"type\":\"disconnect\",\"reason\":\"socket_rate_limited\"}");
  CAF_CHECK(f.handler->texts.empty());
  CAF_CHECK_EQUAL(
      f.ctr->closes[static_cast<std::size_t>(rc::proto::close_reason::socket_rate_limited)].load(),
      1u);
}

CAF_TEST(a fragmented message within the allowance is delivered whole) {
  fixture f;
  f.cfg.max_ws_messages_per_minute = 3;
  std::weak_ptr<void> session;
  ws_client c(f.serve(session));
  CAF_REQUIRE(authed_socket(f, c));
  // 1 text frame + 599 empty continuations + the final one: 600 frames besides the message.
  std::string raw = masked_frame(0x01, "{");
  for (int i = 0; i < 599; ++i) raw += masked_frame(0x00, "");
  raw += masked_frame(0x80, "}");
  send_raw(c.ws.next_layer(), raw);
  CAF_CHECK(f.run_until([&] { return !f.handler->texts.empty(); }));
  CAF_REQUIRE_EQUAL(f.handler->texts.size(), 1u);
  CAF_CHECK_EQUAL(f.handler->texts[0], "{}");
  CAF_CHECK_EQUAL(
      f.ctr->closes[static_cast<std::size_t>(rc::proto::close_reason::socket_rate_limited)].load(),
      0u);
}

CAF_TEST(the frame scanner finds every header however the bytes are split) {
  std::string wire = masked_frame(0x01, "") + masked_frame(0x00, "abc") +
                     masked_frame(0x89, std::string(125, 'p')) +
                     masked_frame(0x80, std::string(300, 'x')) +
                     masked_frame(0x82, std::string(65535, 'b'));
  // A 64-bit length (127): 70 000 bytes, masked.
  std::string big(1, static_cast<char>(0x82));
  big += static_cast<char>(0x80 | 127);
  for (int shift = 56; shift >= 0; shift -= 8)
    big += static_cast<char>((uint64_t{70000} >> shift) & 0xff);
  big.append(4, '\0');
  wire += big + std::string(70000, 'y') + masked_frame(0x88, "");
  const std::vector<unsigned> expected{1, 0, 9, 0, 2, 2, 8};
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{7}, wire.size()}) {
    frame_scanner s;
    std::vector<unsigned> seen;
    auto p = reinterpret_cast<const unsigned char*>(wire.data());
    for (std::size_t at = 0; at < wire.size(); at += step)
      s.scan(p + at, std::min(step, wire.size() - at), [&](unsigned op) { seen.push_back(op); });
    CAF_CHECK_EQUAL(seen, expected);
  }
}

CAF_TEST(text frames keep their budget next to pings) {
  fixture f;
  f.cfg.max_ws_messages_per_minute = 2;
  std::weak_ptr<void> session;
  ws_client c(f.serve(session));
  CAF_REQUIRE(authed_socket(f, c));
  for (int i = 0; i < 5; ++i) {
    c.write(f, "\x01", true);
    ping(f, c);
  }
  c.write(f, "{}");
  c.write(f, "{}");
  f.settle();
  CAF_CHECK_EQUAL(f.handler->texts.size(), 2u);
  CAF_CHECK_EQUAL(
      f.ctr->closes[static_cast<std::size_t>(rc::proto::close_reason::socket_rate_limited)].load(),
      0u);
}

// ---- item 4: unauthenticated websockets have their own budget ------------------------------

CAF_TEST(unauthenticated websockets at their budget get 503 while http is still served) {
  fixture f;
  f.cfg.max_preauth_websockets = 2;
  std::weak_ptr<void> s1, s2, s3, s4;
  ws_client a(f.serve(s1)), b(f.serve(s2));
  CAF_REQUIRE(a.handshake(f));
  CAF_REQUIRE(b.handshake(f));
  CAF_CHECK_EQUAL(f.ctr->ws_preauth.load(), 2u);
  // A third upgrade is refused with 503 and a close; healthz and pairing still answer.
  auto raw = roundtrip(f, "GET /ws HTTP/1.1\r\nHost: relay\r\n" + ws_headers +
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 503 Service Unavailable");
  CAF_CHECK_EQUAL(f.ctr->ws_preauth_refused.load(), 1u);
  CAF_CHECK_EQUAL(f.ctr->ws_open.load(), 2u);
  for (std::string req :
       {request("GET", "/healthz"),
        request("POST", "/pair/start", "Content-Type: application/json\r\n", "{}")}) {
    auto client = f.serve(s3);
    send_raw(client, req);
    http::response<http::string_body> res;
    CAF_REQUIRE(read_response(f, client, res));
    CAF_CHECK_EQUAL(res.result_int(), 200u);
  }
  CAF_CHECK_EQUAL(f.requests.size(), 2u);
  // An authenticated socket leaves the budget: a new upgrade is accepted again.
  f.handler->peer.lock()->mark_authenticated();
  f.settle();
  CAF_CHECK_EQUAL(f.ctr->ws_preauth.load(), 1u);
  ws_client c(f.serve(s4));
  CAF_CHECK(c.handshake(f));
  CAF_CHECK_EQUAL(f.ctr->ws_preauth.load(), 2u);
  // A socket that ends unauthenticated gives its unit back.
  a.ws.next_layer().close();
  CAF_CHECK(f.run_until([&] { return f.ctr->ws_preauth.load() == 1u; }));
}

// ---- item 8: websocket auth failures are limited per address -----------------------------

CAF_TEST(an address over its auth failures gets 429 at upgrade until its window ends) {
  fixture f;
  f.cfg.ws_auth_failures_per_ip = 3;
  f.cfg.ws_auth_failure_window_ms = 60000;
  const std::string upgrade = "GET /ws HTTP/1.1\r\nHost: relay\r\n" + ws_headers +
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  auto window = f.cfg.ws_auth_failure_window();
  for (int i = 0; i < 2; ++i) f.ctr->auth_failures.record("203.0.113.1", 3, window);
  std::weak_ptr<void> s1;
  ws_client a(f.serve(s1));
  CAF_CHECK(a.handshake(f));  // 2 failures: still accepted
  f.ctr->auth_failures.record("203.0.113.1", 3, window);
  auto raw = roundtrip(f, upgrade);
  CAF_CHECK_EQUAL(status_line(raw), "HTTP/1.1 429 Too Many Requests");
  CAF_CHECK(raw.find("{\"error\":\"rate_limited\"}") != std::string::npos);
  CAF_CHECK_EQUAL(f.ctr->auth_failure_refused.load(), 1u);
  // HTTP from that address is still served; another address still upgrades.
  CAF_CHECK_EQUAL(status_line(roundtrip(f, request("GET", "/healthz", "Connection: close\r\n"))),
                  "HTTP/1.1 200 OK");
  CAF_CHECK(!f.ctr->auth_failures.blocked("198.51.100.7", 3, window));
  // Once the window that began at the first failure has passed, the address is let in again.
  auto later = auth_failure_limiter::clock::now() + window;
  CAF_CHECK(!f.ctr->auth_failures.blocked("203.0.113.1", 3, window, later));
  CAF_CHECK_EQUAL(f.ctr->auth_failures.addresses(), 0u);
  // 0 = off.
  f.ctr->auth_failures.record("203.0.113.1", 0, window);
  CAF_CHECK(!f.ctr->auth_failures.blocked("203.0.113.1", 0, window));
}

CAF_TEST(the auth failure map is bounded and evicts the oldest window) {
  auth_failure_limiter l;
  auto window = std::chrono::milliseconds(60000);
  auto t0 = auth_failure_limiter::clock::now();
  l.record("first", 1, window, t0);
  for (std::size_t i = 0; i < auth_failure_limiter::max_addresses; ++i)
    l.record("a" + std::to_string(i), 1, window, t0 + std::chrono::milliseconds(1));
  CAF_CHECK_EQUAL(l.addresses(), auth_failure_limiter::max_addresses);
  CAF_CHECK(!l.blocked("first", 1, window, t0 + std::chrono::milliseconds(2)));  // evicted
  CAF_CHECK(l.blocked("a0", 1, window, t0 + std::chrono::milliseconds(2)));
  CAF_CHECK(l.blocked("a16383", 1, window, t0 + std::chrono::milliseconds(2)));
  // Expired windows go as soon as the limiter is used again.
  CAF_CHECK(!l.blocked("a0", 1, window, t0 + window + std::chrono::milliseconds(1)));
  CAF_CHECK_EQUAL(l.addresses(), 0u);
}

// ---- item 6: the outbound queue is bounded in bytes as well as frames ----------------------

CAF_TEST(a burst of small frames fits the outbound queue and a byte backlog does not ) {
  fixture f;  // default MAX_SOCKET_OUTBOUND_QUEUE / MAX_SOCKET_OUTBOUND_BYTES
  std::weak_ptr<void> session;
  ws_client c(f.serve(session));
  CAF_REQUIRE(authed_socket(f, c));
  auto peer = f.handler->peer.lock();
  // 1000 small frames queued at once (nothing written yet: the io loop does not run).
  int accepted = 0;
  for (int i = 0; i < 1000; ++i)
    accepted += peer->send(std::make_shared<const std::string>("f" + std::to_string(i))) ? 1 : 0;
  CAF_CHECK_EQUAL(accepted, 1000);
  CAF_CHECK_EQUAL(f.ctr->outbound_send_failures.load(), 0u);
  beast::error_code ec;
  for (int i = 0; i < 1000 && !ec; ++i) CAF_CHECK_EQUAL(c.read(f, ec), "f" + std::to_string(i));
  // A backlog of 64 KiB frames: 4 MiB fit, the next frame is refused.
  auto big = std::make_shared<const std::string>(std::string(65536, 'x'));
  accepted = 0;
  for (int i = 0; i < 80; ++i) accepted += peer->send(big) ? 1 : 0;
  CAF_CHECK_EQUAL(accepted, 64);
  CAF_CHECK_EQUAL(f.ctr->outbound_send_failures.load(), 16u);
  // Once written, the bytes are free again.
  for (int i = 0; i < 64 && !ec; ++i) CAF_CHECK_EQUAL(c.read(f, ec).size(), 65536u);
  CAF_CHECK(peer->send(big));
}
