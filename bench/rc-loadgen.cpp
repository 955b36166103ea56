// rc-loadgen: load generator for the Remote Control relay (and rc-bare-forwarder).
//
// One TU, Asio/Beast with C++20 coroutines. --threads N runs N single-threaded io_contexts; each
// pairing session (desktop + its phones) lives on exactly one of them, so per-session state needs
// no locks. Every scenario prints ONE JSON line on stdout (and writes it to --out FILE).
//
//   rc-loadgen --scenario roundtrip|throughput|fanout|connections|pairing|churn
//              --url http://127.0.0.1:PORT [--relay-pid PID] [--threads N] [--out FILE] ...
//   rc-loadgen --help   lists every option with its default.
//
// Only loopback targets are accepted (127.0.0.0/8 or ::1). Every loop is bounded by a count
// and by the global --timeout watchdog.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

// ------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------
struct options {
  std::string scenario;
  std::string url = "http://127.0.0.1:8787";
  std::string origin = "http://localhost:4173";
  std::string out;
  int threads = 1;
  int relay_pid = 0;
  int sessions = 0;         // scenario default when 0
  int messages = 20;        // roundtrip: commands per phone
  int phones = 100;         // fanout: phones in the one session; connections: phones per session (default 0)
  int phones_per_session = 0;
  double duration = 10;     // seconds (throughput, fanout, pairing, churn)
  double rate = 0;          // msgs/s total, 0 = unpaced (window-limited)
  int window = 0;           // max in-flight desktop messages per session (0 = auto); protects against slow_consumer
  int payload_bytes = 200;
  int target = 10000;       // connections
  double hold = 2;          // connections: seconds to hold sockets open before the final RSS read
  int concurrency = 16;     // pairing lanes
  int setup_concurrency = 32;
  int src_ips = 0;          // 0 = auto
  int count = 0;            // pairing: stop after this many flows (0 = duration only)
  bool stop_sessions = true;  // pairing: POST /pair/stop at the end of each flow
  int min_dwell_ms = 100, max_dwell_ms = 400;  // churn
  int sample_ms = 250;      // churn: RSS sample period
  double rt_timeout = 5;    // seconds per roundtrip / delivery drain
  double timeout = 0;       // hard watchdog, seconds (0 = auto)
  std::string label;
};
options g_opt;

tcp::endpoint g_target;
std::string g_host_header;

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------
inline uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_token(std::mt19937_64& rng, std::size_t bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::size_t chars = (bytes * 4 + 2) / 3;
  std::string out;
  out.reserve(chars);
  for (std::size_t i = 0; i < chars; ++i) out.push_back(alphabet[rng() & 63]);
  return out;
}

// "key":"value" lookup without parsing; tolerates whitespace around the colon.
std::string_view find_string_field(std::string_view text, std::string_view key) {
  std::size_t from = 0;
  while (true) {
    auto pos = text.find(key, from);
    if (pos == std::string_view::npos) return {};
    from = pos + key.size();
    if (pos == 0 || text[pos - 1] != '"' || from >= text.size() || text[from] != '"') continue;
    std::size_t p = from + 1;
    while (p < text.size() && (text[p] == ' ' || text[p] == ':')) ++p;
    if (p >= text.size() || text[p] != '"') continue;
    auto end = text.find('"', p + 1);
    if (end == std::string_view::npos) return {};
    return text.substr(p + 1, end - p - 1);
  }
}

uint64_t parse_u64(std::string_view s, std::size_t pos) {
  uint64_t v = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') v = v * 10 + static_cast<uint64_t>(s[pos++] - '0');
  return v;
}

bool contains(std::string_view h, std::string_view n) { return h.find(n) != std::string_view::npos; }

// ------------------------------------------------------------------------------------------
// /proc readers
// ------------------------------------------------------------------------------------------
struct proc_cpu {
  bool ok = false;
  double tick_us = 0;   // (utime + stime) in µs, 1/CLK_TCK resolution
  double sched_us = 0;  // sum over threads of /proc/<pid>/task/*/schedstat run time (ns resolution)
};

proc_cpu read_cpu(int pid) {
  proc_cpu r;
  if (pid <= 0) return r;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return r;
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return r;
  std::istringstream is(line.substr(rp + 2));
  std::string field;
  std::vector<std::string> fields;
  while (is >> field) fields.push_back(field);
  // after ")": state(3) ... utime is field 14 overall -> index 11 here, stime index 12
  if (fields.size() < 13) return r;
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  r.tick_us = (std::stod(fields[11]) + std::stod(fields[12])) * 1e6 / hz;
  r.ok = true;
  std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(task_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream s(task_dir + "/" + e->d_name + "/schedstat");
      double ns = 0;
      if (s >> ns) r.sched_us += ns / 1000.0;
    }
    closedir(d);
  }
  return r;
}

long read_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

// ------------------------------------------------------------------------------------------
// Workers and statistics (each worker's stats are touched only by its own thread)
// ------------------------------------------------------------------------------------------
struct stats {
  uint64_t sent = 0, delivered = 0, roundtrips = 0, timeouts = 0, relay_errors = 0, auth_failures = 0;
  uint64_t http_errors = 0, connect_errors = 0, setup_failures = 0, peer_closes = 0, window_stalls = 0;
  uint64_t flows = 0, reconnects = 0, snapshot_requests = 0, snapshots_received = 0, sockets = 0;
  uint64_t last_delivery_ns = 0;
  std::map<std::string, uint64_t> disconnect_reasons, error_kinds;
  std::vector<uint64_t> lat_ns;
};

std::atomic<bool> g_measuring{false};
std::atomic<bool> g_stop{false};  // ask loops to wind down
std::atomic<uint64_t> g_src_counter{0};
int g_src_ips = 1;

struct worker {
  net::io_context ioc{1};
  stats st;
  std::mt19937_64 rng{std::random_device{}()};
  std::thread th;
  void error(const std::string& kind) { st.error_kinds[kind]++; }
};
std::vector<std::unique_ptr<worker>> g_workers;

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

net::awaitable<void> sleep_for(std::chrono::nanoseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

// Binds the socket to 127.0.0.(2 + k % src_ips) so that large socket counts do not exhaust one
// source address's ephemeral ports. IP_BIND_ADDRESS_NO_PORT defers port choice to connect().
void bind_source(tcp::socket& s) {
  if (!g_target.address().is_v4() || g_src_ips <= 0) return;
  uint64_t k = g_src_counter.fetch_add(1, std::memory_order_relaxed) % static_cast<uint64_t>(g_src_ips);
  int one = 1;
  ::setsockopt(s.native_handle(), IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, sizeof one);
  beast::error_code ec;
  s.bind(tcp::endpoint(net::ip::address_v4((127u << 24) | static_cast<uint32_t>(2 + k)), 0), ec);
}

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

net::awaitable<http_result> http_call(worker& w, http_conn& hc, http::verb method, std::string_view target,
                                      std::string body, std::string_view origin,
                                      std::chrono::seconds timeout = 15s) {
  http_result r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!hc.stream) {
      hc.stream.emplace(w.ioc);
      hc.buf.clear();
      auto& sock = hc.stream->socket();
      beast::error_code ec;
      sock.open(g_target.protocol(), ec);
      bind_source(sock);
      hc.stream->expires_after(10s);
      auto [cec] = co_await hc.stream->async_connect(g_target, use_tuple);
      if (cec) {
        hc.stream.reset();
        w.st.connect_errors++;
        w.error("http_connect:" + cec.message());
        co_return r;
      }
      sock.set_option(tcp::no_delay(true), ec);
      fresh = true;
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, g_host_header);
    req.set(http::field::user_agent, "rc-loadgen");
    if (!origin.empty()) req.set(http::field::origin, origin);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    hc.stream->expires_after(timeout);
    auto [wec, wn] = co_await http::async_write(*hc.stream, req, use_tuple);
    (void)wn;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::error_code rec = wec;
    if (!wec) {
      auto [e, n] = co_await http::async_read(*hc.stream, hc.buf, parser, use_tuple);
      (void)n;
      rec = e;
    }
    if (rec) {
      hc.stream.reset();
      if (!fresh && attempt == 0) continue;  // stale keep-alive connection: retry once
      w.st.http_errors++;
      w.error("http_io:" + rec.message());
      co_return r;
    }
    auto res = parser.release();
    r.status = static_cast<int>(res.result_int());
    r.body = std::move(res.body());
    if (!res.keep_alive()) hc.stream.reset();
    if (hc.stream) hc.stream->expires_never();
    co_return r;
  }
  co_return r;
}

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
    ws.async_write(net::buffer(queue.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
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

net::awaitable<bool> ws_connect(ws_client& c, const std::string& origin) {
  auto& layer = beast::get_lowest_layer(c.ws);
  beast::error_code ec;
  layer.socket().open(g_target.protocol(), ec);
  if (ec) {
    c.w.st.connect_errors++;
    c.w.error("ws_socket:" + ec.message());
    co_return false;
  }
  bind_source(layer.socket());
  layer.expires_after(10s);
  auto [cec] = co_await layer.async_connect(g_target, use_tuple);
  if (cec) {
    c.w.st.connect_errors++;
    c.w.error("ws_connect:" + cec.message());
    co_return false;
  }
  layer.socket().set_option(tcp::no_delay(true), ec);
  c.ws.set_option(websocket::stream_base::decorator([origin](websocket::request_type& req) {
    req.set(http::field::user_agent, "rc-loadgen");
    if (!origin.empty()) req.set(http::field::origin, origin);
  }));
  auto [hec] = co_await c.ws.async_handshake(g_host_header, "/ws", use_tuple);
  if (hec) {
    c.w.st.connect_errors++;
    c.w.error("ws_handshake:" + hec.message());
    co_return false;
  }
  layer.expires_never();
  auto to = websocket::stream_base::timeout::suggested(beast::role_type::client);
  c.ws.set_option(to);
  c.ws.text(true);
  c.ws.read_message_max(16 << 20);
  co_return true;
}

// Sends relay.auth and waits (≤10 s) for auth_ok. Returns the parsed auth_ok or nullopt.
net::awaitable<std::optional<json>> ws_auth(std::shared_ptr<ws_client> c, const std::string& token) {
  c->send(R"({"type":"relay.auth","token":")" + token + "\"}");
  auto done = std::make_shared<bool>(false);
  net::steady_timer guard(c->w.ioc, 10s);
  guard.async_wait([c, done](beast::error_code ec) {
    if (!ec && !*done) c->close();
  });
  for (int frames = 0; frames < 8; ++frames) {
    auto [ec, n] = co_await c->ws.async_read(c->buf, use_tuple);
    (void)n;
    if (ec) break;
    std::string text = beast::buffers_to_string(c->buf.data());
    c->buf.consume(c->buf.size());
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) continue;
    std::string type = j.value("type", "");
    if (type == "auth_ok") {
      *done = true;
      guard.cancel();
      co_return j;
    }
    if (type == "disconnect") {
      c->w.st.disconnect_reasons[j.value("reason", "?")]++;
      break;
    }
  }
  *done = true;
  guard.cancel();
  c->w.st.auth_failures++;
  c->w.error("ws_auth_failed");
  c->close();
  co_return std::nullopt;
}

net::awaitable<void> reader(std::shared_ptr<ws_client> c) {
  for (uint64_t frames = 0; frames < (uint64_t{1} << 40); ++frames) {
    auto [ec, n] = co_await c->ws.async_read(c->buf, use_tuple);
    (void)n;
    if (ec) break;
    auto d = c->buf.data();
    if (c->on_frame) c->on_frame(std::string_view(static_cast<const char*>(d.data()), d.size()));
    c->buf.consume(c->buf.size());
  }
  c->dead = true;
  if (!c->closing_by_us && c->on_close) c->on_close();
  c->on_frame = nullptr;  // break reference cycles
  c->on_close = nullptr;
}

// ------------------------------------------------------------------------------------------
// Sessions
// ------------------------------------------------------------------------------------------
enum class scenario { roundtrip, throughput, fanout, connections, pairing, churn };
scenario g_scenario;

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

std::vector<std::vector<std::unique_ptr<session_t>>> g_sessions;  // per worker
std::atomic<uint64_t> g_setup_done{0}, g_setup_failed{0}, g_running{0};
std::string g_timestamp;

std::string iso_expiry() { return rfc3339(std::chrono::system_clock::now() + 10min); }

std::size_t ring_size() { return static_cast<std::size_t>(std::max(16, g_opt.window * 4)); }

void record_latency(worker& w, uint64_t sent_ns) {
  uint64_t now = now_ns();
  if (g_measuring.load(std::memory_order_relaxed)) w.st.lat_ns.push_back(now - sent_ns);
  w.st.last_delivery_ns = now;
}

void desktop_frame(session_t& s, std::string_view f) {
  worker& w = *s.w;
  if (contains(f, "\"relay.pair_request\"")) {
    std::string rid(find_string_field(f, "requestID"));
    s.desk->send(R"({"type":"relay.pair_decision","sessionID":")" + s.sid + R"(","requestID":")" + rid +
                 R"(","approved":true})");
    return;
  }
  if (contains(f, "\"type\":\"disconnect\"")) {
    w.st.disconnect_reasons[std::string(find_string_field(f, "reason"))]++;
    return;
  }
  if (g_scenario == scenario::roundtrip) {
    auto cid = find_string_field(f, "commandID");
    if (cid.empty()) return;
    auto sp = f.find("\"seq\":");
    uint64_t cseq = sp == std::string_view::npos ? 0 : parse_u64(f, sp + 6);
    std::string ack;
    ack.reserve(320);
    ack.append(R"({"schemaVersion":2,"sessionID":")").append(s.sid).append(R"(","seq":)");
    ack.append(std::to_string(++s.desk_seq)).append(R"(,"timestamp":")").append(g_timestamp);
    ack.append(R"(","payload":{"type":"command_ack","payload":{"commandSeq":)").append(std::to_string(cseq));
    ack.append(R"(,"commandID":")").append(cid);
    ack.append(R"(","commandName":"thread.select","status":"accepted","threadID":"bench-thread"}}})");
    s.desk->send(std::move(ack));
  } else if (g_scenario == scenario::churn && contains(f, "\"relay.snapshot_request\"")) {
    std::string snap;
    snap.append(R"({"schemaVersion":2,"sessionID":")").append(s.sid).append(R"(","seq":)");
    snap.append(std::to_string(++s.desk_seq)).append(R"(,"timestamp":")").append(g_timestamp);
    snap.append(R"(","payload":{"type":"snapshot","payload":{"projects":[],"threads":[{"id":"bench-thread",)"
                R"("title":"Bench thread"}],"selectedThreadID":"bench-thread","messages":[],)"
                R"("pendingRuntimeRequests":[]}}})");
    s.desk->send(std::move(snap));
  }
}

void phone_frame(session_t& s, phone_t& p, std::string_view f) {
  worker& w = *s.w;
  if (contains(f, "\"type\":\"disconnect\"")) {
    w.st.disconnect_reasons[std::string(find_string_field(f, "reason"))]++;
    return;
  }
  if (contains(f, "\"type\":\"relay.error\"")) {
    w.st.relay_errors++;
    w.error("relay.error:" + std::string(find_string_field(f, "error")));
    if (!p.expect_cmd.empty() && !p.got) {
      p.failed = true;
      if (p.sig) p.sig->notify();
    }
    return;
  }
  switch (g_scenario) {
    case scenario::roundtrip: {
      auto cid = find_string_field(f, "commandID");
      if (!cid.empty() && cid == p.expect_cmd && !p.got) {
        record_latency(w, p.sent_at);
        w.st.delivered++;
        p.got = true;
        if (p.sig) p.sig->notify();
      }
      break;
    }
    case scenario::throughput:
    case scenario::fanout:
    case scenario::churn: {
      auto pos = f.find("\"body\":\"t=");
      if (pos == std::string_view::npos) {
        if (contains(f, "\"type\":\"snapshot\"")) w.st.snapshots_received++;
        break;
      }
      pos += 10;
      uint64_t ts = parse_u64(f, pos);
      auto kp = f.find(" k=", pos);
      uint64_t k = kp == std::string_view::npos ? 0 : parse_u64(f, kp + 3);
      record_latency(w, ts);
      w.st.delivered++;
      if (!s.ring.empty()) {
        auto& slot = s.ring[k % s.ring.size()];
        if (++slot >= s.phones.size()) {
          slot = 0;
          s.completed++;
          if (s.window_waiting && s.sent - s.completed <= static_cast<uint64_t>(g_opt.window / 2))
            s.window_sig->notify();
        }
      }
      break;
    }
    default:
      break;
  }
}

void attach_desktop(session_t& s) {
  session_t* sp = &s;
  s.desk->on_frame = [sp](std::string_view f) { desktop_frame(*sp, f); };
  s.desk->on_close = [sp] {
    sp->w->st.peer_closes++;
    sp->w->error("desktop_closed_by_peer");
  };
  net::co_spawn(s.w->ioc, reader(s.desk), net::detached);
}

void attach_phone(session_t& s, phone_t& p) {
  session_t* sp = &s;
  phone_t* pp = &p;
  p.ws->on_frame = [sp, pp](std::string_view f) { phone_frame(*sp, *pp, f); };
  p.ws->on_close = [sp, pp] {
    sp->w->st.peer_closes++;
    sp->w->error("phone_closed_by_peer");
    pp->failed = true;
    if (pp->sig) pp->sig->notify();
  };
  net::co_spawn(s.w->ioc, reader(p.ws), net::detached);
}

// Full pairing flow (§14): /pair/start, desktop auth, then per phone: (/pair/refresh for phones
// after the first), held /pair/join approved by the desktop reader, phone auth with the token.
net::awaitable<bool> setup_session(http_conn& hc, session_t& s, int nphones) {
  worker& w = *s.w;
  s.sid = random_token(w.rng, 16);
  s.jt = random_token(w.rng, 32);
  s.dt = random_token(w.rng, 32);
  json start{{"schemaVersion", 2},
             {"sessionID", s.sid},
             {"joinToken", s.jt},
             {"desktopSessionToken", s.dt},
             {"joinTokenExpiresAt", iso_expiry()}};
  auto r = co_await http_call(w, hc, http::verb::post, "/pair/start", start.dump(), "");
  if (r.status != 200) {
    w.error("pair_start_status_" + std::to_string(r.status));
    co_return false;
  }
  s.desk = std::make_shared<ws_client>(w);
  if (!co_await ws_connect(*s.desk, "")) co_return false;
  auto ok = co_await ws_auth(s.desk, s.dt);
  if (!ok || ok->value("role", "") != "desktop") co_return false;
  w.st.sockets++;
  attach_desktop(s);
  for (int i = 0; i < nphones; ++i) {
    if (i > 0) {
      s.jt = random_token(w.rng, 32);
      json refresh{{"schemaVersion", 2},
                   {"sessionID", s.sid},
                   {"joinToken", s.jt},
                   {"desktopSessionToken", s.dt},
                   {"joinTokenExpiresAt", iso_expiry()}};
      auto rr = co_await http_call(w, hc, http::verb::post, "/pair/refresh", refresh.dump(), "");
      if (rr.status != 200) {
        w.error("pair_refresh_status_" + std::to_string(rr.status));
        co_return false;
      }
    }
    json join{{"sessionID", s.sid}, {"joinToken", s.jt}, {"deviceName", "bench-phone-" + std::to_string(i)}};
    auto jr = co_await http_call(w, hc, http::verb::post, "/pair/join", join.dump(), g_opt.origin, 60s);
    if (jr.status != 200) {
      w.error("pair_join_status_" + std::to_string(jr.status));
      co_return false;
    }
    json jb = json::parse(jr.body, nullptr, false);
    auto p = std::make_unique<phone_t>();
    p->token = jb.is_object() ? jb.value("deviceSessionToken", "") : "";
    p->device_id = jb.is_object() ? jb.value("deviceID", "") : "";
    p->ws = std::make_shared<ws_client>(w);
    p->sig = std::make_unique<signal_t>(w.ioc);
    if (!co_await ws_connect(*p->ws, g_opt.origin)) co_return false;
    auto pok = co_await ws_auth(p->ws, p->token);
    if (!pok || pok->value("role", "") != "mobile") co_return false;
    w.st.sockets++;
    p->token = pok->value("nextDeviceSessionToken", p->token);
    s.phones.push_back(std::move(p));
    attach_phone(s, *s.phones.back());
  }
  s.ready = true;
  co_return true;
}

void close_session(session_t& s) {
  if (s.desk) s.desk->close();
  for (auto& p : s.phones)
    if (p->ws) p->ws->close();
}

// Creates `n` sessions spread over the workers and pairs them with `concurrency` lanes.
void create_sessions(int n) {
  g_sessions.clear();
  g_sessions.resize(g_workers.size());
  for (int i = 0; i < n; ++i) {
    auto wi = static_cast<std::size_t>(i) % g_workers.size();
    auto s = std::make_unique<session_t>();
    s->w = g_workers[wi].get();
    s->idx = i;
    s->window_sig = std::make_unique<signal_t>(s->w->ioc);
    g_sessions[wi].push_back(std::move(s));
  }
}

void start_setup(int nphones, int concurrency) {
  auto nw = g_workers.size();
  int lanes_per_worker = std::max(1, (concurrency + static_cast<int>(nw) - 1) / static_cast<int>(nw));
  for (std::size_t wi = 0; wi < nw; ++wi) {
    auto next = std::make_shared<std::size_t>(0);
    for (int l = 0; l < lanes_per_worker; ++l) {
      net::co_spawn(
          g_workers[wi]->ioc,
          [wi, next, nphones]() -> net::awaitable<void> {
            http_conn hc;
            auto& list = g_sessions[wi];
            while (*next < list.size() && !g_stop.load()) {
              auto& s = *list[(*next)++];
              bool ok = co_await setup_session(hc, s, nphones);
              if (ok) {
                g_setup_done++;
              } else {
                s.w->st.setup_failures++;
                g_setup_failed++;
              }
            }
          },
          net::detached);
    }
  }
}

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

// ------------------------------------------------------------------------------------------
// Scenario coroutines
// ------------------------------------------------------------------------------------------
net::awaitable<void> roundtrip_phone(session_t& s, phone_t& p) {
  worker& w = *s.w;
  auto timeout = std::chrono::nanoseconds(static_cast<int64_t>(g_opt.rt_timeout * 1e9));
  for (int m = 1; m <= g_opt.messages && !g_stop.load(); ++m) {
    if (p.ws->dead) {
      w.error("roundtrip_socket_dead");
      w.st.timeouts += static_cast<uint64_t>(g_opt.messages - m + 1);
      break;
    }
    p.seq++;
    p.expect_cmd = "c" + std::to_string(s.idx) + "-" + std::to_string(m);
    p.got = p.failed = false;
    std::string env;
    env.reserve(256);
    env.append(R"({"schemaVersion":2,"sessionID":")").append(s.sid).append(R"(","seq":)");
    env.append(std::to_string(p.seq)).append(R"(,"timestamp":")").append(g_timestamp);
    env.append(R"(","payload":{"type":"command","payload":{"name":"thread.select","commandID":")");
    env.append(p.expect_cmd).append(R"(","threadID":"bench-thread"}}})");
    p.sent_at = now_ns();
    p.ws->send(std::move(env));
    w.st.sent++;
    uint64_t deadline = p.sent_at + static_cast<uint64_t>(timeout.count());
    for (int spins = 0; spins < 1000 && !p.got && !p.failed; ++spins) {
      uint64_t now = now_ns();
      if (now >= deadline) break;
      co_await p.sig->wait(std::chrono::nanoseconds(deadline - now));
    }
    if (p.got) {
      w.st.roundtrips++;
    } else {
      w.st.timeouts++;
      w.error(p.failed ? "roundtrip_failed" : "roundtrip_timeout");
    }
  }
  p.expect_cmd.clear();
  g_running--;
}

std::string make_event(session_t& s, uint64_t k) {
  std::string m;
  m.reserve(s.event_prefix.size() + s.pad + 96);
  m.append(s.event_prefix).append(std::to_string(++s.desk_seq));
  m.append(R"(,"timestamp":")").append(g_timestamp);
  m.append(R"(","payload":{"type":"event","payload":{"name":"thread.message.append","threadID":"bench-thread",)");
  m.append(R"("messageID":"m-)").append(std::to_string(k)).append(R"(","role":"assistant","body":"t=)");
  m.append(std::to_string(now_ns())).append(" k=").append(std::to_string(k)).append(" ");
  std::size_t target = static_cast<std::size_t>(std::max(0, g_opt.payload_bytes));
  if (m.size() + 4 < target) m.append(target - m.size() - 4, 'x');
  m.append("\"}}}");
  return m;
}

// Desktop streams events to its phones for --duration: paced at rate_per_session (0 = as fast
// as the window allows). In-flight (sent, not yet received by every phone) is capped by --window
// unless use_window is false (churn: phones come and go).
net::awaitable<void> desktop_stream(session_t& s, double rate_per_session, bool use_window) {
  worker& w = *s.w;
  s.event_prefix = R"({"schemaVersion":2,"sessionID":")" + s.sid + R"(","seq":)";
  if (use_window) s.ring.assign(ring_size(), 0);
  const uint64_t t0 = now_ns();
  const uint64_t end = t0 + static_cast<uint64_t>(g_opt.duration * 1e9);
  const double interval_ns = rate_per_session > 0 ? 1e9 / rate_per_session : 0;
  const uint64_t max_msgs = uint64_t{1} << 36;
  uint64_t k = 0;
  while (k < max_msgs && !g_stop.load(std::memory_order_relaxed)) {
    uint64_t now = now_ns();
    if (now >= end || s.desk->dead) break;
    if (interval_ns > 0) {
      uint64_t due = t0 + static_cast<uint64_t>(static_cast<double>(k) * interval_ns);
      if (due > now) {
        co_await sleep_for(std::chrono::nanoseconds(std::min(due, end) - now));
        continue;
      }
    }
    if (use_window && s.sent - s.completed >= static_cast<uint64_t>(g_opt.window)) {
      w.st.window_stalls++;
      s.window_waiting = true;
      co_await s.window_sig->wait(100ms);
      s.window_waiting = false;
      continue;
    }
    if (!use_window && s.desk->queue.size() > 1024) {  // never build an unbounded local backlog
      co_await sleep_for(1ms);
      continue;
    }
    s.desk->send(make_event(s, k));
    s.sent++;
    w.st.sent++;
    k++;
  }
  // Drain: wait for the in-flight messages to arrive (bounded).
  if (use_window) {
    uint64_t drain_end = now_ns() + static_cast<uint64_t>(g_opt.rt_timeout * 1e9);
    for (int i = 0; i < 100000 && s.completed < s.sent && now_ns() < drain_end; ++i) {
      s.window_waiting = true;
      co_await s.window_sig->wait(10ms);
      s.window_waiting = false;
    }
  } else {
    co_await sleep_for(200ms);
  }
  g_running--;
}

net::awaitable<void> churn_phone(session_t& s, phone_t& p) {
  worker& w = *s.w;
  const uint64_t end = now_ns() + static_cast<uint64_t>(g_opt.duration * 1e9);
  std::uniform_int_distribution<int> dwell(g_opt.min_dwell_ms, std::max(g_opt.min_dwell_ms, g_opt.max_dwell_ms));
  for (int cycle = 0; cycle < 1000000 && !g_stop.load(); ++cycle) {
    co_await sleep_for(std::chrono::milliseconds(dwell(w.rng)));
    if (now_ns() >= end) break;
    p.ws->close();
    w.st.reconnects++;
    auto c = std::make_shared<ws_client>(w);
    bool ok = co_await ws_connect(*c, g_opt.origin);
    std::optional<json> auth;
    if (ok) auth = co_await ws_auth(c, p.token);
    if (!auth || auth->value("role", "") != "mobile") {
      w.error("churn_reconnect_failed");
      p.ws = c;  // dead client; retry on the next cycle with the same token
      continue;
    }
    p.token = auth->value("nextDeviceSessionToken", p.token);
    p.seq = 0;  // the relay's sequence counter is per connection
    p.ws = c;
    attach_phone(s, p);
    p.ws->send(R"({"type":"relay.snapshot_request","sessionID":")" + s.sid +
               R"(","reason":"bench_reconnect","lastSeq":)" + std::to_string(s.desk_seq) + "}");
    w.st.snapshot_requests++;
  }
  g_running--;
}

net::awaitable<void> pairing_lane(worker& w, std::shared_ptr<std::atomic<int64_t>> budget) {
  http_conn hc;
  const uint64_t end = now_ns() + static_cast<uint64_t>(g_opt.duration * 1e9);
  for (int i = 0; i < 10000000 && !g_stop.load(); ++i) {
    if (now_ns() >= end) break;
    if (budget->fetch_sub(1) <= 0) break;  // --count bound (budget starts huge when unset)
    session_t s;
    s.w = &w;
    uint64_t t0 = now_ns();
    bool ok = co_await setup_session(hc, s, 1);
    if (ok) {
      record_latency(w, t0);
      w.st.flows++;
    } else {
      w.st.setup_failures++;
    }
    close_session(s);
    if (g_opt.stop_sessions && !s.sid.empty()) {
      json stop{{"schemaVersion", 2}, {"sessionID", s.sid}, {"desktopSessionToken", s.dt}};
      auto r = co_await http_call(w, hc, http::verb::post, "/pair/stop", stop.dump(), "");
      if (r.status != 200) w.error("pair_stop_status_" + std::to_string(r.status));
    }
    // Let the readers observe their closed sockets before `s` goes out of scope.
    co_await sleep_for(0ms);
  }
  g_running--;
}

// ------------------------------------------------------------------------------------------
// Result assembly
// ------------------------------------------------------------------------------------------
json percentiles(std::vector<uint64_t>& v) {
  json j;
  j["count"] = v.size();
  if (v.empty()) {
    for (auto k : {"p50", "p95", "p99", "p999", "max", "mean"}) j[k] = nullptr;
    return j;
  }
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return static_cast<double>(v[std::min(idx, v.size() - 1)]) / 1000.0;
  };
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  j["p50"] = q(0.50);
  j["p95"] = q(0.95);
  j["p99"] = q(0.99);
  j["p999"] = q(0.999);
  j["max"] = static_cast<double>(v.back()) / 1000.0;
  j["mean"] = sum / static_cast<double>(v.size()) / 1000.0;
  return j;
}

double round3(double x) { return std::round(x * 1000.0) / 1000.0; }

// GET /metricsz from the main thread on a private io_context (bounded by 3 s).
json fetch_metrics() {
  json out;
  worker tmp;
  http_conn hc;
  net::co_spawn(
      tmp.ioc,
      [&]() -> net::awaitable<void> {
        auto r = co_await http_call(tmp, hc, http::verb::get, "/metricsz", "", "", 3s);
        if (r.status == 200) out = json::parse(r.body, nullptr, false);
        hc.stream.reset();
      },
      net::detached);
  tmp.ioc.run_for(4s);
  if (out.is_discarded()) out = json();
  return out;
}

json metrics_delta(const json& a, const json& b) {
  json d = json::object();
  if (!a.is_object() || !b.is_object()) return d;
  for (auto k : {"slowConsumerDisconnects", "outboundSendFailures", "wsAuthFailures", "wsAuthSuccesses",
                 "wsAuthAttempts", "pairJoinSuccesses", "pairStartRequests"}) {
    if (a.contains(k) && b.contains(k) && a[k].is_number() && b[k].is_number())
      d[k] = b[k].get<int64_t>() - a[k].get<int64_t>();
  }
  if (b.contains("wsAuthFailureReasons")) d["wsAuthFailureReasonsTotal"] = b["wsAuthFailureReasons"];
  return d;
}

struct phase_snapshot {
  proc_cpu cpu;
  long rss = -1;
  double self_cpu = 0;
  std::chrono::steady_clock::time_point t;
};

phase_snapshot snap() {
  phase_snapshot p;
  p.cpu = read_cpu(g_opt.relay_pid);
  p.rss = read_rss_kib(g_opt.relay_pid);
  p.self_cpu = self_cpu_us();
  p.t = std::chrono::steady_clock::now();
  return p;
}

void usage() {
  std::cout << R"(usage: rc-loadgen --scenario NAME --url http://127.0.0.1:PORT [options]
scenarios: roundtrip throughput fanout connections pairing churn
common:   --relay-pid PID (CPU/RSS from /proc)  --threads N (1)  --out FILE  --origin URL (http://localhost:4173)
          --timeout S (hard watchdog; auto)  --setup-concurrency N (32)  --src-ips N (auto)  --label TEXT
roundtrip:   --sessions S (200) --messages M (20) --rt-timeout S (5)
throughput:  --sessions S (1) --duration S (10) --rate MSGS_PER_S (0 = unpaced) --window W (auto: 1024/sessions in 8..128; fanout 32) --payload-bytes B (200)
fanout:      --phones N (100) --duration S --rate R --window W --payload-bytes B
connections: --target N (10000) --phones-per-session P (0) --hold S (2)
pairing:     --concurrency C (16) --duration S --count N (0 = unbounded) --no-stop
churn:       --sessions S (20) --duration S --rate R (1000) --min-dwell-ms (100) --max-dwell-ms (400) --sample-ms (250)
)";
}

bool parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--scenario") g_opt.scenario = val();
    else if (a == "--url") g_opt.url = val();
    else if (a == "--origin") g_opt.origin = val();
    else if (a == "--out") g_opt.out = val();
    else if (a == "--label") g_opt.label = val();
    else if (a == "--threads") g_opt.threads = std::stoi(val());
    else if (a == "--relay-pid") g_opt.relay_pid = std::stoi(val());
    else if (a == "--sessions") g_opt.sessions = std::stoi(val());
    else if (a == "--messages") g_opt.messages = std::stoi(val());
    else if (a == "--phones") g_opt.phones = std::stoi(val());
    else if (a == "--phones-per-session") g_opt.phones_per_session = std::stoi(val());
    else if (a == "--duration") g_opt.duration = std::stod(val());
    else if (a == "--rate") g_opt.rate = std::stod(val());
    else if (a == "--window") g_opt.window = std::stoi(val());
    else if (a == "--payload-bytes") g_opt.payload_bytes = std::stoi(val());
    else if (a == "--target") g_opt.target = std::stoi(val());
    else if (a == "--hold") g_opt.hold = std::stod(val());
    else if (a == "--concurrency") g_opt.concurrency = std::stoi(val());
    else if (a == "--setup-concurrency") g_opt.setup_concurrency = std::stoi(val());
    else if (a == "--src-ips") g_opt.src_ips = std::stoi(val());
    else if (a == "--count") g_opt.count = std::stoi(val());
    else if (a == "--no-stop") g_opt.stop_sessions = false;
    else if (a == "--min-dwell-ms") g_opt.min_dwell_ms = std::stoi(val());
    else if (a == "--max-dwell-ms") g_opt.max_dwell_ms = std::stoi(val());
    else if (a == "--sample-ms") g_opt.sample_ms = std::stoi(val());
    else if (a == "--rt-timeout") g_opt.rt_timeout = std::stod(val());
    else if (a == "--timeout") g_opt.timeout = std::stod(val());
    else {
      std::cerr << "unknown option " << a << "\n";
      return false;
    }
  }
  return true;
}

// Accepts http://H:P, ws://H:P (path ignored). H must be a literal loopback address or localhost.
bool resolve_url() {
  std::string u = g_opt.url;
  auto sep = u.find("://");
  if (sep == std::string::npos) return false;
  std::string scheme = u.substr(0, sep);
  if (scheme != "http" && scheme != "ws") {
    std::cerr << "only http:// or ws:// loopback URLs are supported\n";
    return false;
  }
  std::string rest = u.substr(sep + 3);
  rest = rest.substr(0, rest.find('/'));
  std::string host, port = "80";
  if (!rest.empty() && rest[0] == '[') {
    auto rb = rest.find(']');
    if (rb == std::string::npos) return false;
    host = rest.substr(1, rb - 1);
    if (rb + 1 < rest.size() && rest[rb + 1] == ':') port = rest.substr(rb + 2);
  } else {
    auto c = rest.rfind(':');
    host = rest.substr(0, c);
    if (c != std::string::npos) port = rest.substr(c + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) {
    std::cerr << "host must be a literal loopback IP: " << host << "\n";
    return false;
  }
  bool loop = addr.is_v4() ? (addr.to_v4().to_uint() >> 24) == 127 : addr.to_v6().is_loopback();
  if (!loop) {
    std::cerr << "refusing non-loopback target " << host << "\n";
    return false;
  }
  g_target = tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(port)));
  g_host_header = rest;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (!parse_args(argc, argv)) return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  static const std::map<std::string, scenario> names{
      {"roundtrip", scenario::roundtrip}, {"throughput", scenario::throughput}, {"fanout", scenario::fanout},
      {"connections", scenario::connections}, {"pairing", scenario::pairing}, {"churn", scenario::churn}};
  auto sit = names.find(g_opt.scenario);
  if (sit == names.end()) {
    usage();
    return 2;
  }
  g_scenario = sit->second;
  if (!resolve_url()) return 2;
  g_opt.threads = std::clamp(g_opt.threads, 1, 64);
  g_timestamp = rfc3339(std::chrono::system_clock::now());

  // Raise our own descriptor limit to the hard limit.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  const long fd_limit = static_cast<long>(rl.rlim_cur);

  json res;
  res["scenario"] = g_opt.scenario;
  if (!g_opt.label.empty()) res["label"] = g_opt.label;
  res["url"] = g_opt.url;
  res["threads"] = g_opt.threads;
  res["relay_pid"] = g_opt.relay_pid;
  res["date"] = rfc3339(std::chrono::system_clock::now());

  int sessions = g_opt.sessions;
  int phones_per_session = 1;
  switch (g_scenario) {
    case scenario::roundtrip: sessions = sessions ? sessions : 200; break;
    case scenario::throughput: sessions = sessions ? sessions : 1; break;
    case scenario::fanout:
      sessions = 1;
      phones_per_session = std::max(1, g_opt.phones);
      break;
    case scenario::connections: {
      phones_per_session = std::max(0, g_opt.phones_per_session);
      long cap = std::max<long>(1, fd_limit - 256);
      long target = std::min<long>(g_opt.target, cap);
      res["target_requested"] = g_opt.target;
      res["target_effective"] = target;
      res["loadgen_fd_limit"] = fd_limit;
      if (target < g_opt.target) res["target_capped_by"] = "loadgen RLIMIT_NOFILE hard limit";
      sessions = static_cast<int>((target + phones_per_session) / (1 + phones_per_session));
      break;
    }
    case scenario::pairing: sessions = 0; break;
    case scenario::churn:
      sessions = sessions ? sessions : 20;
      if (g_opt.rate <= 0) g_opt.rate = 1000;
      break;
  }
  if (g_opt.window <= 0) {  // auto: ~1024 messages in flight in total, 8..128 per session
    g_opt.window = g_scenario == scenario::fanout ? 32 : std::clamp(1024 / std::max(1, sessions), 8, 128);
  }
  g_src_ips = g_opt.src_ips > 0 ? g_opt.src_ips
                                : (g_scenario == scenario::connections
                                       ? std::max(1, (g_opt.target + 19999) / 20000 + 1)
                                       : 8);
  res["src_ips"] = g_target.address().is_v4() ? g_src_ips : 0;
  double timeout = g_opt.timeout > 0 ? g_opt.timeout : g_opt.duration + 300;
  auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));

  for (int i = 0; i < g_opt.threads; ++i) g_workers.push_back(std::make_unique<worker>());
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& w : g_workers) {
    guards.push_back(net::make_work_guard(w->ioc));
    w->th = std::thread([wp = w.get()] { wp->ioc.run(); });
  }

  json metrics_before = fetch_metrics();
  phase_snapshot before_setup = snap();
  phase_snapshot m0, m1;
  bool aborted = false;
  json extra = json::object();

  auto post_all = [&](auto make) {
    for (std::size_t wi = 0; wi < g_sessions.size(); ++wi)
      for (auto& s : g_sessions[wi])
        if (s->ready) make(*s);
  };
  auto wait_running = [&]() {
    if (!wait_until([] { return g_running.load() == 0; }, hard_deadline)) aborted = true;
  };
  auto do_setup = [&](int n, int nphones) {
    create_sessions(n);
    auto t0 = std::chrono::steady_clock::now();
    start_setup(nphones, g_opt.setup_concurrency);
    if (!wait_until([&] { return g_setup_done + g_setup_failed >= static_cast<uint64_t>(n); }, hard_deadline))
      aborted = true;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    extra["setup_seconds"] = round3(secs);
    extra["sessions_ready"] = g_setup_done.load();
    extra["sessions_failed"] = g_setup_failed.load();
  };

  uint64_t cpu_msgs = 0;  // denominator for relay_cpu_us_per_msg
  switch (g_scenario) {
    case scenario::roundtrip: {
      res["sessions"] = sessions;
      res["messages_per_session"] = g_opt.messages;
      do_setup(sessions, 1);
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running++;
        net::co_spawn(s.w->ioc, roundtrip_phone(s, *s.phones[0]), net::detached);
      });
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::throughput:
    case scenario::fanout: {
      res["sessions"] = sessions;
      res["phones_per_session"] = phones_per_session;
      res["rate_requested"] = g_opt.rate;
      res["window"] = g_opt.window;
      res["payload_bytes"] = g_opt.payload_bytes;
      res["duration_s"] = g_opt.duration;
      do_setup(sessions, phones_per_session);
      uint64_t ready = g_setup_done.load();
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running++;
        double per = g_opt.rate > 0 ? g_opt.rate / static_cast<double>(std::max<uint64_t>(1, ready)) : 0;
        net::co_spawn(s.w->ioc, desktop_stream(s, per, true), net::detached);
      });
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::connections: {
      res["sessions"] = sessions;
      res["phones_per_session"] = phones_per_session;
      m0 = before_setup;
      do_setup(sessions, phones_per_session);
      phase_snapshot established = snap();
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(g_opt.hold * 1000)));
      m1 = snap();
      extra["relay_rss_kib_established"] = established.rss;
      break;
    }
    case scenario::pairing: {
      res["concurrency"] = g_opt.concurrency;
      res["duration_s"] = g_opt.duration;
      res["flow_includes_stop"] = g_opt.stop_sessions;
      auto budget = std::make_shared<std::atomic<int64_t>>(g_opt.count > 0 ? int64_t{g_opt.count} : (int64_t{1} << 62));
      m0 = snap();
      g_measuring = true;
      for (int l = 0; l < g_opt.concurrency; ++l) {
        auto& w = *g_workers[static_cast<std::size_t>(l) % g_workers.size()];
        g_running++;
        net::co_spawn(w.ioc, pairing_lane(w, budget), net::detached);
      }
      wait_running();
      g_measuring = false;
      m1 = snap();
      break;
    }
    case scenario::churn: {
      res["sessions"] = sessions;
      res["rate_requested"] = g_opt.rate;
      res["duration_s"] = g_opt.duration;
      do_setup(sessions, 1);
      uint64_t ready = g_setup_done.load();
      m0 = snap();
      g_measuring = true;
      post_all([&](session_t& s) {
        g_running += 2;
        net::co_spawn(s.w->ioc, desktop_stream(s, g_opt.rate / static_cast<double>(std::max<uint64_t>(1, ready)), false),
                      net::detached);
        net::co_spawn(s.w->ioc, churn_phone(s, *s.phones[0]), net::detached);
      });
      json samples = json::array();
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 1000000 && g_running.load() > 0; ++i) {
        if (std::chrono::steady_clock::now() >= hard_deadline) {
          aborted = true;
          break;
        }
        samples.push_back({round3(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()),
                           read_rss_kib(g_opt.relay_pid)});
        std::this_thread::sleep_for(std::chrono::milliseconds(std::max(10, g_opt.sample_ms)));
      }
      g_measuring = false;
      m1 = snap();
      extra["relay_rss_samples"] = samples;  // [seconds, VmRSS KiB]
      break;
    }
  }

  // Stop everything: close sockets on their own threads, then stop the io_contexts.
  g_stop = true;
  json metrics_after = fetch_metrics();
  for (std::size_t wi = 0; wi < g_sessions.size(); ++wi)
    net::post(g_workers[wi]->ioc, [wi] {
      for (auto& s : g_sessions[wi]) close_session(*s);
    });
  std::this_thread::sleep_for(50ms);
  for (auto& g : guards) g.reset();
  for (auto& w : g_workers) w->ioc.stop();
  for (auto& w : g_workers) w->th.join();

  // Aggregate.
  stats tot;
  std::vector<uint64_t> lat;
  for (auto& w : g_workers) {
    auto& s = w->st;
    tot.sent += s.sent;
    tot.delivered += s.delivered;
    tot.roundtrips += s.roundtrips;
    tot.timeouts += s.timeouts;
    tot.relay_errors += s.relay_errors;
    tot.auth_failures += s.auth_failures;
    tot.http_errors += s.http_errors;
    tot.connect_errors += s.connect_errors;
    tot.setup_failures += s.setup_failures;
    tot.peer_closes += s.peer_closes;
    tot.window_stalls += s.window_stalls;
    tot.flows += s.flows;
    tot.reconnects += s.reconnects;
    tot.snapshot_requests += s.snapshot_requests;
    tot.snapshots_received += s.snapshots_received;
    tot.sockets += s.sockets;
    tot.last_delivery_ns = std::max(tot.last_delivery_ns, s.last_delivery_ns);
    for (auto& [k, v] : s.disconnect_reasons) tot.disconnect_reasons[k] += v;
    for (auto& [k, v] : s.error_kinds) tot.error_kinds[k] += v;
    lat.insert(lat.end(), s.lat_ns.begin(), s.lat_ns.end());
  }
  double elapsed = std::chrono::duration<double>(m1.t - m0.t).count();
  res["elapsed_s"] = round3(elapsed);
  res["sent"] = tot.sent;
  res["delivered"] = tot.delivered;
  json latency = percentiles(lat);
  switch (g_scenario) {
    case scenario::roundtrip:
      res["roundtrips"] = tot.roundtrips;
      res["roundtrips_per_sec"] = round3(static_cast<double>(tot.roundtrips) / std::max(1e-9, elapsed));
      cpu_msgs = tot.roundtrips * 2;  // command up + ack down
      break;
    case scenario::throughput:
    case scenario::fanout:
      res["msgs_per_sec"] = round3(static_cast<double>(tot.delivered) / std::max(1e-9, elapsed));
      res["desktop_msgs_per_sec"] = round3(static_cast<double>(tot.sent) / std::max(1e-9, elapsed));
      res["window_stalls"] = tot.window_stalls;
      res["undelivered"] = tot.sent * static_cast<uint64_t>(phones_per_session) > tot.delivered
                               ? tot.sent * static_cast<uint64_t>(phones_per_session) - tot.delivered
                               : 0;
      cpu_msgs = tot.delivered;
      break;
    case scenario::connections: {
      res["sockets_established"] = tot.sockets;
      double setup_s = extra.value("setup_seconds", 0.0);
      res["establish_seconds"] = setup_s;
      res["sockets_per_sec"] = round3(static_cast<double>(tot.sockets) / std::max(1e-9, setup_s));
      if (m0.rss >= 0 && m1.rss >= 0 && tot.sockets > 0)
        res["relay_rss_bytes_per_socket"] =
            round3(static_cast<double>(m1.rss - m0.rss) * 1024.0 / static_cast<double>(tot.sockets));
      cpu_msgs = tot.sockets;
      break;
    }
    case scenario::pairing:
      res["flows"] = tot.flows;
      res["flows_per_sec"] = round3(static_cast<double>(tot.flows) / std::max(1e-9, elapsed));
      cpu_msgs = tot.flows;
      break;
    case scenario::churn:
      res["reconnects"] = tot.reconnects;
      res["snapshot_requests"] = tot.snapshot_requests;
      res["snapshots_received"] = tot.snapshots_received;
      res["msgs_per_sec"] = round3(static_cast<double>(tot.delivered) / std::max(1e-9, elapsed));
      cpu_msgs = tot.delivered + tot.snapshot_requests + tot.snapshots_received;
      break;
  }
  res["latency_us"] = latency;
  uint64_t errors = tot.timeouts + tot.relay_errors + tot.auth_failures + tot.http_errors + tot.connect_errors +
                    tot.setup_failures + tot.peer_closes;
  res["errors"] = errors;
  res["timeouts"] = tot.timeouts;
  res["relay_errors"] = tot.relay_errors;
  res["auth_failures"] = tot.auth_failures;
  res["setup_failures"] = tot.setup_failures;
  res["peer_closes"] = tot.peer_closes;
  res["error_kinds"] = tot.error_kinds;
  res["disconnect_reasons"] = tot.disconnect_reasons;
  json md = metrics_delta(metrics_before, metrics_after);
  res["relay_metrics_delta"] = md;
  uint64_t slow = tot.disconnect_reasons.count("slow_consumer") ? tot.disconnect_reasons["slow_consumer"] : 0;
  if (md.contains("slowConsumerDisconnects")) slow = std::max<uint64_t>(slow, md["slowConsumerDisconnects"].get<int64_t>());
  res["slow_consumer_disconnects"] = slow;
  res["loadgen_cpu_us"] = round3(m1.self_cpu - m0.self_cpu);
  if (m0.cpu.ok && m1.cpu.ok) {
    double cpu = m1.cpu.tick_us - m0.cpu.tick_us;
    double sched = m1.cpu.sched_us - m0.cpu.sched_us;
    res["relay_cpu_us"] = round3(cpu);
    res["relay_cpu_sched_us"] = round3(sched);
    res["relay_cpu_util"] = round3(sched / std::max(1.0, elapsed * 1e6));
    res["cpu_msgs"] = cpu_msgs;
    res["relay_cpu_us_per_msg"] = cpu_msgs ? json(round3(cpu / static_cast<double>(cpu_msgs))) : json(nullptr);
    res["relay_cpu_sched_us_per_msg"] = cpu_msgs ? json(round3(sched / static_cast<double>(cpu_msgs))) : json(nullptr);
    if (g_scenario == scenario::pairing)
      res["relay_cpu_us_per_flow"] = cpu_msgs ? json(round3(sched / static_cast<double>(cpu_msgs))) : json(nullptr);
    res["relay_rss_kib_before"] = m0.rss;
    res["relay_rss_kib_after"] = m1.rss;
  } else {
    res["relay_cpu_us_per_msg"] = nullptr;
  }
  for (auto& [k, v] : extra.items()) res[k] = v;
  {
    std::ifstream la("/proc/loadavg");
    double l1 = -1;
    la >> l1;
    res["host_loadavg_1m"] = l1;  // > ~1.2 on this 2-core box means someone else was using the cores
  }
  res["aborted"] = aborted;
  res["ok"] = !aborted && errors == 0;

  std::string line = res.dump();
  std::cout << line << std::endl;
  if (!g_opt.out.empty()) {
    std::ofstream f(g_opt.out);
    f << line << "\n";
  }
  std::fflush(nullptr);
  // Coroutine frames still parked on the stopped io_contexts own sockets; skip their teardown.
  _exit(aborted ? 3 : 0);
}
