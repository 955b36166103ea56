// rc-bare-forwarder: the smallest Beast websocket server that speaks just enough of the relay
// protocol (RELAY_PROTOCOL.md §4, §6, §8, §9) for rc-loadgen's scenarios to run unchanged.
// No validation, no actors, no rate limits: it is the practical per-message cost floor on this
// machine, and bench/run.sh reports the relay's cost as a ratio to it.
//
//   rc-bare-forwarder [--host 127.0.0.1] [--port 0] [--threads 1] [--auto-approve]
//   (HOST / PORT env vars are honoured like the relay; prints a JSON "listening" line on stderr.)
//
// Implemented: POST /pair/start, /pair/refresh, /pair/stop, /pair/join (held open until the
// desktop's relay.pair_decision, or answered at once with --auto-approve), GET /healthz and
// /metricsz (a few counters), GET /ws with relay.auth -> auth_ok (mobile auth_ok carries a rotated
// nextDeviceSessionToken), desktop frames forwarded byte-for-byte to every phone of the session,
// phone frames forwarded byte-for-byte to the desktop, bounded outbound queue (slow_consumer).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "forwarder_util.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using net::use_awaitable;
constexpr auto as_tuple_awaitable = net::as_tuple(net::use_awaitable);

namespace {

constexpr std::size_t kQueueLimit = 256;

struct counters_t {
  std::atomic<uint64_t> ws_auth_attempts{0}, ws_auth_successes{0}, slow_consumer{0},
      send_failures{0};
  std::atomic<uint64_t> pair_start{0}, pair_join{0}, pair_join_ok{0};
} g_counters;

bool g_auto_approve = false;

using forwarder::random_token;

// Value of a top-level-looking "key":"value" pair; no JSON parsing (that is the point).
std::string_view find_string_field(std::string_view text, std::string_view key) {
  std::string pat;
  pat.reserve(key.size() + 3);
  pat.append("\"").append(key).append("\"");
  auto pos = text.find(pat);
  if (pos == std::string_view::npos) return {};
  pos += pat.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == ':')) ++pos;
  if (pos >= text.size() || text[pos] != '"') return {};
  auto end = text.find('"', pos + 1);
  if (end == std::string_view::npos) return {};
  return text.substr(pos + 1, end - pos - 1);
}

struct ws_conn;
struct session_state;

struct pending_join {
  std::string request_id;
  net::any_io_executor exec;  // executor of the waiting HTTP coroutine
  net::steady_timer* timer = nullptr;
  int result = 0;  // 0 waiting, 1 approved, 2 denied, 3 desktop gone
  std::string device_id, device_token;
};

struct session_state {
  std::string sid, desktop_token, join_token;
  std::weak_ptr<ws_conn> desktop;
  std::vector<std::weak_ptr<ws_conn>> phones;
  std::shared_ptr<pending_join> pending;
};

struct token_entry {
  std::shared_ptr<session_state> session;
  bool desktop = false;
  std::string device_id;
};

// Global registry; one mutex (uncontended with --threads 1).
std::mutex g_mu;
std::unordered_map<std::string, std::shared_ptr<session_state>> g_sessions;
std::unordered_map<std::string, token_entry> g_tokens;
std::atomic<uint64_t> g_active_ws{0};

void resolve_pending(const std::shared_ptr<pending_join>& p, int result) {
  // Caller holds g_mu. Wake the waiter on its own executor.
  p->result = result;
  net::post(p->exec, [p] {
    if (p->timer) p->timer->cancel();
  });
}

struct ws_conn : std::enable_shared_from_this<ws_conn> {
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
  std::deque<std::shared_ptr<const std::string>> queue;
  bool writing = false;
  bool closed = false;
  int role = 0;  // 0 unauthenticated, 1 desktop, 2 phone
  std::shared_ptr<session_state> session;

  explicit ws_conn(tcp::socket&& s) : ws(std::move(s)) {}

  void start(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(65536);
    ws.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      g_counters.ws_auth_attempts++;
      self->do_read();
    });
  }

  void do_read() {
    ws.async_read(
        buf, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      on_gone();
      return;
    }
    auto data = buf.data();
    std::string_view frame(static_cast<const char*>(data.data()), data.size());
    if (role == 0) {
      authenticate(frame);
    } else if (role == 1) {
      from_desktop(frame);
    } else {
      from_phone(frame);
    }
    buf.consume(buf.size());
    if (!closed) do_read();
  }

  void authenticate(std::string_view frame) {
    std::string token(find_string_field(frame, "token"));
    std::string reply;
    std::shared_ptr<ws_conn> notify_desktop;
    {
      std::lock_guard lk(g_mu);
      auto it = g_tokens.find(token);
      if (token.empty() || it == g_tokens.end()) {
        reply = R"({"type":"disconnect","reason":"session_expired"})";
      } else {
        session = it->second.session;
        if (it->second.desktop) {
          role = 1;
          session->desktop = weak_from_this();
          reply = R"({"type":"auth_ok","role":"desktop","sessionID":")" + session->sid +
                  R"(","connectedDeviceCount":)" + std::to_string(session->phones.size()) +
                  R"(,"desktopConnected":true})";
        } else {
          role = 2;
          std::string device_id = it->second.device_id;
          std::string next = random_token(32);
          g_tokens[next] = token_entry{session, false, device_id};
          session->phones.push_back(weak_from_this());
          reply = R"({"type":"auth_ok","role":"mobile","sessionID":")" + session->sid +
                  R"(","deviceID":")" + device_id + R"(","nextDeviceSessionToken":")" + next +
                  R"(","connectedDeviceCount":)" + std::to_string(session->phones.size()) +
                  R"(,"desktopConnected":)" + (session->desktop.expired() ? "false" : "true") + "}";
          notify_desktop = session->desktop.lock();
        }
      }
    }
    if (role == 0) {
      send(std::make_shared<const std::string>(std::move(reply)));
      closed = true;  // drop after the frame is flushed (writer stops reading)
      return;
    }
    g_counters.ws_auth_successes++;
    g_active_ws++;
    send(std::make_shared<const std::string>(std::move(reply)));
    if (notify_desktop) {
      notify_desktop->send(std::make_shared<const std::string>(
          R"({"type":"relay.device_count","sessionID":")" + session->sid +
          R"(","connectedDeviceCount":)" + std::to_string(session->phones.size()) + "}"));
    }
  }

  void from_desktop(std::string_view frame) {
    if (frame.find("\"relay.pair_decision\"") != std::string_view::npos) {
      std::string request_id(find_string_field(frame, "requestID"));
      bool approved = frame.find("\"approved\":true") != std::string_view::npos;
      {
        std::lock_guard lk(g_mu);
        auto p = session->pending;
        if (p && p->request_id == request_id && p->result == 0) {
          if (approved) {
            p->device_id = random_token(12);
            p->device_token = random_token(32);
            g_tokens[p->device_token] = token_entry{session, false, p->device_id};
          }
          resolve_pending(p, approved ? 1 : 2);
          session->pending.reset();
        }
      }
      send(std::make_shared<const std::string>(
          R"({"type":"relay.pair_result","sessionID":")" + session->sid + R"(","requestID":")" +
          request_id + R"(","approved":)" + (approved ? "true" : "false") + "}"));
      return;
    }
    auto msg = std::make_shared<const std::string>(frame);
    std::vector<std::shared_ptr<ws_conn>> targets;
    {
      std::lock_guard lk(g_mu);
      targets.reserve(session->phones.size());
      for (auto& w : session->phones)
        if (auto p = w.lock()) targets.push_back(std::move(p));
    }
    for (auto& p : targets) p->send(msg);
  }

  void from_phone(std::string_view frame) {
    std::shared_ptr<ws_conn> desk;
    {
      std::lock_guard lk(g_mu);
      desk = session->desktop.lock();
    }
    if (desk) desk->send(std::make_shared<const std::string>(frame));
  }

  void send(std::shared_ptr<const std::string> msg) {
    net::dispatch(ws.get_executor(), [self = shared_from_this(), msg = std::move(msg)]() mutable {
      self->enqueue(std::move(msg));
    });
  }

  void enqueue(std::shared_ptr<const std::string> msg) {
    if (closed && role != 0) return;
    if (queue.size() >= kQueueLimit) {
      g_counters.send_failures++;
      g_counters.slow_consumer++;
      close_now();
      return;
    }
    queue.push_back(std::move(msg));
    if (!writing) do_write();
  }

  void do_write() {
    writing = true;
    ws.text(true);
    ws.async_write(net::buffer(*queue.front()),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->queue.pop_front();
                     if (ec) {
                       self->writing = false;
                       self->close_now();
                       return;
                     }
                     if (self->queue.empty()) {
                       self->writing = false;
                       if (self->closed) self->close_now();
                     } else {
                       self->do_write();
                     }
                   });
  }

  void close_now() {
    closed = true;
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws).socket().close(ec);
  }

  void on_gone() {
    closed = true;
    if (!session || role == 0) return;
    g_active_ws--;
    std::shared_ptr<ws_conn> notify_desktop;
    std::size_t phones = 0;
    {
      std::lock_guard lk(g_mu);
      if (role == 1) {
        if (session->desktop.lock().get() == this || session->desktop.expired()) {
          session->desktop.reset();
          if (session->pending) {
            resolve_pending(session->pending, 3);
            session->pending.reset();
          }
        }
      } else {
        auto& v = session->phones;
        for (std::size_t i = 0; i < v.size();) {
          auto p = v[i].lock();
          if (!p || p.get() == this) {
            v[i] = v.back();
            v.pop_back();
          } else {
            ++i;
          }
        }
        phones = v.size();
        notify_desktop = session->desktop.lock();
      }
    }
    if (notify_desktop) {
      notify_desktop->send(std::make_shared<const std::string>(
          R"({"type":"relay.device_count","sessionID":")" + session->sid +
          R"(","connectedDeviceCount":)" + std::to_string(phones) + "}"));
    }
  }
};

std::string json_error(const char* code, const char* message) {
  return std::string(R"({"error":")") + code + R"(","message":")" + message + "\"}";
}

// Handles one HTTP request; returns {status, body}. May suspend (held /pair/join).
net::awaitable<std::pair<http::status, std::string>> handle(
    const http::request<http::string_body>& req) {
  std::string_view target = req.target();
  if (req.method() == http::verb::get && (target == "/healthz" || target == "/metricsz")) {
    std::size_t sessions;
    {
      std::lock_guard lk(g_mu);
      sessions = g_sessions.size();
    }
    nlohmann::json j{{"ok", true},
                     {"sessions", sessions},
                     {"activeWebSockets", g_active_ws.load()},
                     {"wsAuthAttempts", g_counters.ws_auth_attempts.load()},
                     {"wsAuthSuccesses", g_counters.ws_auth_successes.load()},
                     {"wsAuthFailures",
                      g_counters.ws_auth_attempts.load() - g_counters.ws_auth_successes.load()},
                     {"slowConsumerDisconnects", g_counters.slow_consumer.load()},
                     {"outboundSendFailures", g_counters.send_failures.load()},
                     {"pairStartRequests", g_counters.pair_start.load()},
                     {"pairJoinRequests", g_counters.pair_join.load()},
                     {"pairJoinSuccesses", g_counters.pair_join_ok.load()},
                     {"bareForwarder", true}};
    co_return std::pair{http::status::ok, j.dump()};
  }
  if (req.method() == http::verb::options) co_return std::pair{http::status::ok, std::string{}};
  if (req.method() != http::verb::post) co_return std::pair{http::status::not_found, std::string{}};

  nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
  if (!body.is_object()) co_return std::pair{http::status::bad_request, std::string("bad json")};
  auto str = [&](const char* k) {
    return body.contains(k) && body[k].is_string() ? body[k].get<std::string>() : "";
  };
  std::string sid = str("sessionID");

  if (target == "/pair/start") {
    g_counters.pair_start++;
    auto s = std::make_shared<session_state>();
    s->sid = sid;
    s->desktop_token = str("desktopSessionToken");
    s->join_token = str("joinToken");
    std::lock_guard lk(g_mu);
    g_sessions[sid] = s;
    g_tokens[s->desktop_token] = token_entry{s, true, {}};
    co_return std::pair{http::status::ok, R"({"accepted":true,"sessionID":")" + sid +
                                              R"(","wsURL":"ws://127.0.0.1/ws"})"};
  }
  if (target == "/pair/refresh") {
    std::lock_guard lk(g_mu);
    auto it = g_sessions.find(sid);
    if (it == g_sessions.end())
      co_return std::pair{http::status::not_found,
                          json_error("session_not_found", "Remote session not found.")};
    it->second->join_token = str("joinToken");
    co_return std::pair{http::status::ok, R"({"accepted":true,"sessionID":")" + sid +
                                              R"(","wsURL":"ws://127.0.0.1/ws"})"};
  }
  if (target == "/pair/stop") {
    std::vector<std::shared_ptr<ws_conn>> sockets;
    {
      std::lock_guard lk(g_mu);
      auto it = g_sessions.find(sid);
      if (it != g_sessions.end()) {
        auto s = it->second;
        g_sessions.erase(it);
        g_tokens.erase(s->desktop_token);  // device tokens are left to leak: bench only
        if (auto d = s->desktop.lock()) sockets.push_back(d);
        for (auto& w : s->phones)
          if (auto p = w.lock()) sockets.push_back(p);
        if (s->pending) resolve_pending(s->pending, 3);
      }
    }
    auto bye = std::make_shared<const std::string>(
        R"({"type":"disconnect","reason":"stopped_by_desktop"})");
    for (auto& c : sockets) {
      net::dispatch(c->ws.get_executor(), [c, bye] {
        c->enqueue(bye);
        c->closed = true;
      });
    }
    co_return std::pair{http::status::ok, R"({"accepted":true,"sessionID":")" + sid + "\"}"};
  }
  if (target == "/pair/join") {
    g_counters.pair_join++;
    auto exec = co_await net::this_coro::executor;
    auto p = std::make_shared<pending_join>();
    net::steady_timer timer(exec);
    std::shared_ptr<ws_conn> desktop;
    {
      std::lock_guard lk(g_mu);
      auto it = g_sessions.find(sid);
      if (it == g_sessions.end())
        co_return std::pair{http::status::not_found,
                            json_error("session_not_found", "Remote session not found.")};
      auto s = it->second;
      if (g_auto_approve) {
        p->result = 1;
        p->device_id = random_token(12);
        p->device_token = random_token(32);
        g_tokens[p->device_token] = token_entry{s, false, p->device_id};
      } else {
        desktop = s->desktop.lock();
        if (!desktop)
          co_return std::pair{
              http::status::conflict,
              json_error("desktop_not_connected", "Desktop is not connected to relay.")};
        if (s->pending)
          co_return std::pair{http::status::conflict,
                              json_error("pair_request_in_progress",
                                         "A pairing approval request is already pending.")};
        p->request_id = random_token(10);
        p->exec = exec;
        p->timer = &timer;
        s->pending = p;
      }
    }
    if (desktop) {
      desktop->send(std::make_shared<const std::string>(
          R"({"type":"relay.pair_request","sessionID":")" + sid + R"(","requestID":")" +
          p->request_id +
          R"(","deviceName":"bench","requesterIP":"127.0.0.1","requestedAt":"2026-01-01T00:00:00+00:00","expiresAt":"2026-01-01T00:00:45+00:00"})"));
      timer.expires_after(std::chrono::seconds(45));
      co_await timer.async_wait(as_tuple_awaitable);
    }
    int result;
    {
      std::lock_guard lk(g_mu);
      result = p->result;
      p->timer = nullptr;
      if (result == 0) {
        auto it = g_sessions.find(sid);
        if (it != g_sessions.end() && it->second->pending == p) it->second->pending.reset();
      }
    }
    if (result == 1) {
      g_counters.pair_join_ok++;
      co_return std::pair{http::status::ok, R"({"accepted":true,"sessionID":")" + sid +
                                                R"(","deviceID":")" + p->device_id +
                                                R"(","deviceSessionToken":")" + p->device_token +
                                                R"(","wsURL":"ws://127.0.0.1/ws"})"};
    }
    if (result == 2)
      co_return std::pair{
          http::status::forbidden,
          json_error("pair_request_denied", "Desktop denied this pairing request.")};
    if (result == 3)
      co_return std::pair{http::status::conflict,
                          json_error("desktop_not_connected", "Desktop disconnected.")};
    co_return std::pair{
        http::status::request_timeout,
        json_error("pair_request_timed_out", "Desktop pairing approval timed out.")};
  }
  co_return std::pair{http::status::not_found, std::string{}};
}

net::awaitable<void> http_conn(tcp::socket sock) {
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buf;
  for (int requests = 0; requests < 1000000; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(65536);
    stream.expires_after(std::chrono::seconds(60));
    auto [ec, n] = co_await http::async_read(stream, buf, parser, as_tuple_awaitable);
    (void)n;
    if (ec) co_return;
    auto req = parser.release();
    if (websocket::is_upgrade(req)) {
      std::make_shared<ws_conn>(stream.release_socket())->start(std::move(req));
      co_return;
    }
    stream.expires_never();
    auto [status, body] = co_await handle(req);
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::content_type, "application/json");
    if (auto o = req.find(http::field::origin); o != req.end())
      res.set(http::field::access_control_allow_origin, o->value());
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, as_tuple_awaitable);
    (void)wn;
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> accept_loop(net::io_context& ioc, tcp::acceptor& acc, bool use_strands) {
  for (;;) {
    net::any_io_executor exec = use_strands ? net::any_io_executor(net::make_strand(ioc))
                                            : net::any_io_executor(ioc.get_executor());
    auto [ec, sock] = co_await acc.async_accept(exec, as_tuple_awaitable);
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      net::steady_timer t(ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(as_tuple_awaitable);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    net::co_spawn(exec, http_conn(std::move(sock)), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = std::getenv("HOST") ? std::getenv("HOST") : "127.0.0.1";
  unsigned port = std::getenv("PORT") ? static_cast<unsigned>(std::atoi(std::getenv("PORT"))) : 0;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host")
      host = next();
    else if (a == "--port")
      port = static_cast<unsigned>(std::stoi(next()));
    else if (a == "--threads")
      threads = std::max(1, std::stoi(next()));
    else if (a == "--auto-approve")
      g_auto_approve = true;
    else {
      std::cerr
          << "usage: rc-bare-forwarder [--host H] [--port P] [--threads N] [--auto-approve]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  net::io_context ioc(threads);
  tcp::endpoint ep(net::ip::make_address(host), static_cast<unsigned short>(port));
  tcp::acceptor acc(ioc);
  acc.open(ep.protocol());
  acc.set_option(net::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(4096);
  std::fprintf(
      stderr,
      "{\"level\":\"info\",\"msg\":\"listening\",\"host\":\"%s\",\"port\":%u,\"threads\":%d}\n",
      host.c_str(), acc.local_endpoint().port(), threads);
  std::fflush(stderr);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  net::co_spawn(ioc, accept_loop(ioc, acc, threads > 1), net::detached);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
