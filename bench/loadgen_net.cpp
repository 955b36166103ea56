// rc-loadgen: the Asio/Beast part (see loadgen_net.hpp).
#include "loadgen_net.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <netinet/in.h>

#include <algorithm>
#include <iostream>

namespace loadgen {

tcp::endpoint g_target;
std::string g_host_header;
std::atomic<bool> g_measuring{false};
std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_src_counter{0};
int g_src_ips = 1;
std::vector<std::unique_ptr<worker>> g_workers;
scenario g_scenario;
std::vector<std::vector<std::unique_ptr<session_t>>> g_sessions;
std::atomic<uint64_t> g_setup_done{0}, g_setup_failed{0}, g_running{0};
std::string g_timestamp;

net::awaitable<void> sleep_for(std::chrono::nanoseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

void bind_source(tcp::socket& s) {
  if (!g_target.address().is_v4() || g_src_ips <= 0) return;
  uint64_t k =
      g_src_counter.fetch_add(1, std::memory_order_relaxed) % static_cast<uint64_t>(g_src_ips);
  int one = 1;
  ::setsockopt(s.native_handle(), IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, sizeof one);
  beast::error_code ec;
  s.bind(tcp::endpoint(net::ip::address_v4((127u << 24) | static_cast<uint32_t>(2 + k)), 0), ec);
}

net::awaitable<http_result> http_call(worker& w, http_conn& hc, http::verb method,
                                      std::string_view target, std::string body,
                                      std::string_view origin, std::chrono::seconds timeout) {
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

net::awaitable<std::optional<json>> ws_auth(std::shared_ptr<ws_client> c,
                                            const std::string& token) {
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

std::string iso_expiry() {
  return rfc3339(std::chrono::system_clock::now() + 10min);
}

std::size_t ring_size() {
  return static_cast<std::size_t>(std::max(16, g_opt.window * 4));
}

void record_latency(worker& w, uint64_t sent_ns) {
  uint64_t now = now_ns();
  if (g_measuring.load(std::memory_order_relaxed)) w.st.lat_ns.push_back(now - sent_ns);
  w.st.last_delivery_ns = now;
}

void desktop_frame(session_t& s, std::string_view f) {
  worker& w = *s.w;
  if (contains(f, "\"relay.pair_request\"")) {
    std::string rid(find_string_field(f, "requestID"));
    s.desk->send(R"({"type":"relay.pair_decision","sessionID":")" + s.sid + R"(","requestID":")" +
                 rid + R"(","approved":true})");
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
    ack.append(R"(","payload":{"type":"command_ack","payload":{"commandSeq":)")
        .append(std::to_string(cseq));
    ack.append(R"(,"commandID":")").append(cid);
    ack.append(
        R"(","commandName":"thread.select","status":"accepted","threadID":"bench-thread"}}})");
    s.desk->send(std::move(ack));
  } else if (g_scenario == scenario::churn && contains(f, "\"relay.snapshot_request\"")) {
    std::string snap;
    snap.append(R"({"schemaVersion":2,"sessionID":")").append(s.sid).append(R"(","seq":)");
    snap.append(std::to_string(++s.desk_seq)).append(R"(,"timestamp":")").append(g_timestamp);
    snap.append(
        R"(","payload":{"type":"snapshot","payload":{"projects":[],"threads":[{"id":"bench-thread",)"
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
    json join{{"sessionID", s.sid},
              {"joinToken", s.jt},
              {"deviceName", "bench-phone-" + std::to_string(i)}};
    auto jr =
        co_await http_call(w, hc, http::verb::post, "/pair/join", join.dump(), g_opt.origin, 60s);
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
  int lanes_per_worker =
      std::max(1, (concurrency + static_cast<int>(nw) - 1) / static_cast<int>(nw));
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
  for (auto k : {"slowConsumerDisconnects", "outboundSendFailures", "wsAuthFailures",
                 "wsAuthSuccesses", "wsAuthAttempts", "pairJoinSuccesses", "pairStartRequests"}) {
    if (a.contains(k) && b.contains(k) && a[k].is_number() && b[k].is_number())
      d[k] = b[k].get<int64_t>() - a[k].get<int64_t>();
  }
  if (b.contains("wsAuthFailureReasons"))
    d["wsAuthFailureReasonsTotal"] = b["wsAuthFailureReasons"];
  return d;
}

phase_snapshot snap() {
  phase_snapshot p;
  p.cpu = read_cpu(g_opt.relay_pid);
  p.rss = read_rss_kib(g_opt.relay_pid);
  p.allocs = read_allocs(g_opt.relay_pid);
  p.self_cpu = self_cpu_us();
  p.t = std::chrono::steady_clock::now();
  return p;
}

}  // namespace loadgen
