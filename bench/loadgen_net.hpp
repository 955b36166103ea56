// rc-loadgen: workers, statistics, the async HTTP and websocket clients and the pairing sessions
// (Asio/Beast, C++20 coroutines). Each session lives on exactly one worker's io_context.
#pragma once

#include "loadgen_options.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

namespace loadgen {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

extern tcp::endpoint g_target;
extern std::string g_host_header;

// ------------------------------------------------------------------------------------------
// Workers and statistics (each worker's stats are touched only by its own thread)
// ------------------------------------------------------------------------------------------
struct stats {
  uint64_t sent = 0, delivered = 0, roundtrips = 0, timeouts = 0, relay_errors = 0,
           auth_failures = 0;
  uint64_t http_errors = 0, connect_errors = 0, setup_failures = 0, peer_closes = 0,
           window_stalls = 0;
  uint64_t flows = 0, reconnects = 0, snapshot_requests = 0, snapshots_received = 0, sockets = 0;
  uint64_t last_delivery_ns = 0;
  std::map<std::string, uint64_t> disconnect_reasons, error_kinds;
  std::vector<uint64_t> lat_ns;
};

extern std::atomic<bool> g_measuring;
extern std::atomic<bool> g_stop;  // ask loops to wind down
extern std::atomic<uint64_t> g_src_counter;
extern int g_src_ips;

struct worker {
  net::io_context ioc{1};
  stats st;
  std::mt19937_64 rng{std::random_device{}()};
  std::thread th;
  void error(const std::string& kind) { st.error_kinds[kind]++; }
};
extern std::vector<std::unique_ptr<worker>> g_workers;

struct signal_t {  // single-threaded condition: notify() before wait() is not lost
  net::steady_timer t;
  bool waiting = false, notified = false;
  explicit signal_t(net::io_context& ioc) : t(ioc) {}
  void notify() {
    if (waiting)
      t.cancel();
    else
      notified = true;
  }
  net::awaitable<void> wait(std::chrono::nanoseconds max) {
    if (notified) {
      notified = false;
      co_return;
    }
    waiting = true;
    t.expires_after(max);
    co_await t.async_wait(use_tuple);
    waiting = false;
    notified = false;
  }
};

net::awaitable<void> sleep_for(std::chrono::nanoseconds d);
// Binds the socket to 127.0.0.(2 + k % src_ips) so that large socket counts do not exhaust one
// source address's ephemeral ports. IP_BIND_ADDRESS_NO_PORT defers port choice to connect().
void bind_source(tcp::socket& s);

// ------------------------------------------------------------------------------------------
// HTTP client (keep-alive, one request at a time per connection)
// ------------------------------------------------------------------------------------------
struct http_conn {
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buf;
};

struct http_result {
  int status = -1;
  std::string body;
};

net::awaitable<http_result> http_call(worker& w, http_conn& hc, http::verb method,
                                      std::string_view target, std::string body,
                                      std::string_view origin, std::chrono::seconds timeout = 15s);

// ------------------------------------------------------------------------------------------
// WebSocket client with an unbounded-by-design write queue (callers bound it via windows)
// ------------------------------------------------------------------------------------------
struct ws_client : std::enable_shared_from_this<ws_client> {
  worker& w;
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
  std::deque<std::string> queue;
  bool writing = false, dead = false, closing_by_us = false;
  std::function<void(std::string_view)> on_frame;
  std::function<void()> on_close;

  explicit ws_client(worker& wk) : w(wk), ws(wk.ioc) {}

  void send(std::string s) {
    if (dead) return;
    queue.push_back(std::move(s));
    if (!writing) do_write();
  }
  void do_write() {
    writing = true;
    ws.async_write(net::buffer(queue.front()),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->queue.pop_front();
                     if (ec) {
                       self->writing = false;
                       self->dead = true;
                       self->queue.clear();
                       return;
                     }
                     if (self->queue.empty())
                       self->writing = false;
                     else
                       self->do_write();
                   });
  }
  void close() {
    closing_by_us = true;
    dead = true;
    on_frame = nullptr;  // owners may go away right after close(); never call back into them
    on_close = nullptr;
    beast::error_code ec;
    auto& s = beast::get_lowest_layer(ws).socket();
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }
};

net::awaitable<bool> ws_connect(ws_client& c, const std::string& origin);
// Sends relay.auth and waits (≤10 s) for auth_ok. Returns the parsed auth_ok or nullopt.
net::awaitable<std::optional<json>> ws_auth(std::shared_ptr<ws_client> c, const std::string& token);
net::awaitable<void> reader(std::shared_ptr<ws_client> c);

// ------------------------------------------------------------------------------------------
// Sessions
// ------------------------------------------------------------------------------------------
enum class scenario { roundtrip, throughput, fanout, connections, pairing, churn };
extern scenario g_scenario;

struct phone_t {
  std::shared_ptr<ws_client> ws;
  std::string token, device_id;
  uint64_t seq = 0;
  std::string expect_cmd;
  uint64_t sent_at = 0;
  bool got = false, failed = false;
  std::unique_ptr<signal_t> sig;
};

struct session_t {
  worker* w = nullptr;
  int idx = 0;
  std::string sid, jt, dt;
  std::shared_ptr<ws_client> desk;
  std::vector<std::unique_ptr<phone_t>> phones;
  bool ready = false;
  uint64_t desk_seq = 0;
  // desktop -> phones streaming
  uint64_t sent = 0, completed = 0;
  std::vector<uint32_t> ring;  // deliveries per in-flight message (fan-out completion)
  std::unique_ptr<signal_t> window_sig;
  bool window_waiting = false;
  std::string event_prefix;
  std::size_t pad = 0;
};

extern std::vector<std::vector<std::unique_ptr<session_t>>> g_sessions;  // per worker
extern std::atomic<uint64_t> g_setup_done, g_setup_failed, g_running;
extern std::string g_timestamp;

std::string iso_expiry();
std::size_t ring_size();
void record_latency(worker& w, uint64_t sent_ns);
void attach_desktop(session_t& s);
void attach_phone(session_t& s, phone_t& p);
// Full pairing flow (§14): /pair/start, desktop auth, then per phone: (/pair/refresh for phones
// after the first), held /pair/join approved by the desktop reader, phone auth with the token.
net::awaitable<bool> setup_session(http_conn& hc, session_t& s, int nphones);
void close_session(session_t& s);
// Creates `n` sessions spread over the workers and pairs them with `concurrency` lanes.
void create_sessions(int n);
void start_setup(int nphones, int concurrency);
struct phase_snapshot {
  proc_cpu cpu;
  long rss = -1;
  long long allocs = -1;  // server malloc calls (bench/alloc_counter.cpp builds only)
  double self_cpu = 0;
  std::chrono::steady_clock::time_point t;
};

// GET /metricsz from the main thread on a private io_context (bounded by 3 s).
json fetch_metrics();
json metrics_delta(const json& a, const json& b);
phase_snapshot snap();
// Accepts http://H:P, ws://H:P (path ignored). H must be a literal loopback address or localhost.
bool resolve_url();

template <class F>
void for_each_session(F&& f) {
  for (auto& list : g_sessions)
    for (auto& s : list) f(*s);
}

// Waits (polling) until pred() or the deadline; returns pred().
template <class P>
bool wait_until(P pred, std::chrono::steady_clock::time_point deadline) {
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace loadgen
