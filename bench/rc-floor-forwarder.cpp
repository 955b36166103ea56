// rc-floor-forwarder: the kernel-floor baseline. It speaks the same subset of the relay protocol
// as rc-bare-forwarder (enough for every rc-loadgen scenario) with no framing library at all:
// one thread, level-triggered epoll, non-blocking sockets, a hand-parsed HTTP/1.1 request and
// WebSocket upgrade (Sec-WebSocket-Accept via OpenSSL EVP SHA-1 + base64), and a minimal RFC 6455
// frame parser (masked client frames in, unmasked server frames out). One recv per readiness
// event into a shared scratch buffer, one sendmsg (header + payload iovecs) per frame written;
// only bytes the kernel did not take are copied into a per-socket buffer (EPOLLOUT until drained).
// An idle authenticated socket holds no buffer at all. Its cost per message is the floor for one
// system call per message on this machine: bench/run.sh reports the relay as a ratio to it.
//
//   rc-floor-forwarder [--host 127.0.0.1] [--port 0] [--auto-approve] [--max-seconds 21600]
//   (HOST / PORT env vars are honoured like the relay; prints a JSON "listening" line on stderr.)
//
// Endpoints as rc-bare-forwarder: POST /pair/start, /pair/refresh, /pair/stop, /pair/join (held
// until the desktop's relay.pair_decision, 45 s, or answered at once with --auto-approve),
// GET /healthz and /metricsz, GET /ws upgrade with relay.auth -> auth_ok (the mobile auth_ok
// rotates the device token), desktop frames forwarded byte-for-byte to every phone of the
// session, phone frames to the desktop, at most 256 frames pending per socket (slow_consumer).
// Loopback only: a non-loopback --host is refused. Bench tool, not a relay: no origin checks,
// no rate limits; identifiers it echoes are restricted to [A-Za-z0-9_-] (fail closed).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "forwarder_util.hpp"

namespace {

constexpr std::size_t kQueueLimit = 256;          // frames pending on one socket (= bare forwarder)
constexpr std::size_t kMaxFrame = 65536;          // client payload limit (= bare read_message_max)
constexpr std::size_t kMaxHttpBytes = 80 * 1024;  // one request: headers + body
constexpr std::size_t kMaxBody = 65536;
constexpr std::size_t kScratch = 256 * 1024;  // > kMaxFrame + header, so a partial frame fits
constexpr int kMaxEvents = 256;
constexpr int kAcceptBurst = 64;
constexpr std::size_t kMaxSessions = 1'000'000;
constexpr std::size_t kMaxTokens = 4'000'000;
constexpr std::size_t kMaxWaiting = 100'000;
constexpr std::size_t kMaxIdLen = 256;
constexpr int kJoinTimeoutMs = 45'000;
constexpr int kFlushTimeoutMs = 5'000;

struct counters_t {
  uint64_t ws_auth_attempts = 0, ws_auth_successes = 0, slow_consumer = 0, send_failures = 0;
  uint64_t pair_start = 0, pair_join = 0, pair_join_ok = 0;
  uint64_t frames_in = 0, frames_out = 0, recv_calls = 0, send_calls = 0;
} g_counters;

bool g_auto_approve = false;
uint64_t g_active_ws = 0;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

using forwarder::random_token;

// Value of a "key":"value" pair, no JSON parsing (as rc-bare-forwarder).
std::string_view find_string_field(std::string_view text, std::string_view key) {
  for (std::size_t from = 0, guard = 0; guard < 64; ++guard) {
    auto pos = text.find(key, from);
    if (pos == std::string_view::npos) return {};
    from = pos + 1;
    if (pos == 0 || text[pos - 1] != '"' || pos + key.size() >= text.size() ||
        text[pos + key.size()] != '"')
      continue;
    pos += key.size() + 1;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == ':')) ++pos;
    if (pos >= text.size() || text[pos] != '"') return {};
    auto end = text.find('"', pos + 1);
    if (end == std::string_view::npos) return {};
    return text.substr(pos + 1, end - pos - 1);
  }
  return {};
}

bool contains(std::string_view a, std::string_view b) {
  return a.find(b) != std::string_view::npos;
}

// Identifiers echoed back into JSON must be plain token characters.
bool safe_id(std::string_view v) {
  if (v.empty() || v.size() > kMaxIdLen) return false;
  return std::all_of(v.begin(), v.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
  });
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

struct session;

struct conn {
  int fd = -1;
  bool ws = false;
  uint8_t role = 0;  // 0 unauthenticated (or plain HTTP), 1 desktop, 2 phone
  bool closed = false;
  bool draining = false;  // close once `out` is flushed; further input is ignored
  bool want_out = false;  // EPOLLOUT registered
  bool waiting = false;   // held /pair/join
  uint32_t out_frames = 0;
  uint64_t drain_deadline_ms = 0;
  std::string in;              // only a partial frame / request, else empty (no capacity)
  std::string out;             // only what the kernel did not take, else empty
  std::shared_ptr<session> s;  // ws: its session; HTTP: the session whose join it waits on
};

struct session {
  std::string sid, desktop_token, join_token;
  conn* desktop = nullptr;
  std::vector<conn*> phones;
  std::vector<std::string> device_tokens;
  conn* pending_http = nullptr;  // held /pair/join
  std::string pending_request_id, pending_origin;
  bool pending_keep_alive = true;
  uint64_t pending_deadline_ms = 0;
};

struct token_entry {
  std::shared_ptr<session> s;
  bool desktop = false;
  std::string device_id;
};

int g_ep = -1;
char g_listen_tag, g_signal_tag;
std::unique_ptr<uint8_t[]> g_scratch;
std::unordered_map<std::string, std::shared_ptr<session>> g_sessions;
std::unordered_map<std::string, token_entry> g_tokens;
std::vector<conn*> g_dead;      // closed this loop turn; unlinked and freed after the batch
std::vector<conn*> g_waiting;   // held joins (timeout scan)
std::vector<conn*> g_draining;  // flush-then-close sockets (timeout scan)

void set_out_interest(conn* c, bool want) {
  if (c->want_out == want || c->closed) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.ptr = c;
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = want;
}

void close_conn(conn* c) {
  if (c->closed) return;
  c->closed = true;
  ::close(c->fd);  // also removes it from the epoll set
  g_dead.push_back(c);
}

// Writes iov; whatever the kernel does not take is kept in c->out (bounded in frames).
void send_iov(conn* c, iovec* iov, int iovcnt) {
  if (c->closed) return;
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  if (!c->out.empty()) {
    if (c->out_frames >= kQueueLimit) {
      g_counters.send_failures++;
      g_counters.slow_consumer++;
      close_conn(c);
      return;
    }
    for (int i = 0; i < iovcnt; ++i)
      c->out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    c->out_frames++;
    return;
  }
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = static_cast<std::size_t>(iovcnt);
  ssize_t n = ::sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  g_counters.send_calls++;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      g_counters.send_failures++;
      close_conn(c);
      return;
    }
    n = 0;
  }
  auto sent = static_cast<std::size_t>(n);
  if (sent == total) return;
  for (int i = 0; i < iovcnt; ++i) {
    std::size_t len = iov[i].iov_len;
    if (sent >= len) {
      sent -= len;
      continue;
    }
    c->out.append(static_cast<char*>(iov[i].iov_base) + sent, len - sent);
    sent = 0;
  }
  c->out_frames = 1;
  set_out_interest(c, true);
}

void send_bytes(conn* c, std::string_view bytes) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  send_iov(c, &iov, 1);
}

// One unmasked server frame: header and payload in one sendmsg.
void send_frame(conn* c, std::string_view payload, uint8_t opcode = 1) {
  if (c->closed) return;
  uint8_t hdr[10];
  std::size_t hl = 2;
  hdr[0] = static_cast<uint8_t>(0x80 | opcode);
  if (payload.size() < 126) {
    hdr[1] = static_cast<uint8_t>(payload.size());
  } else if (payload.size() <= 0xffff) {
    hdr[1] = 126;
    hdr[2] = static_cast<uint8_t>(payload.size() >> 8);
    hdr[3] = static_cast<uint8_t>(payload.size());
    hl = 4;
  } else {
    hdr[1] = 127;
    for (int i = 0; i < 8; ++i)
      hdr[2 + i] = static_cast<uint8_t>(uint64_t{payload.size()} >> (56 - 8 * i));
    hl = 10;
  }
  iovec iov[2] = {{hdr, hl}, {const_cast<char*>(payload.data()), payload.size()}};
  send_iov(c, iov, payload.empty() ? 1 : 2);
  g_counters.frames_out++;
}

// Close after what is queued has been flushed (bounded by kFlushTimeoutMs).
void drain_and_close(conn* c) {
  if (c->closed || c->draining) return;
  c->draining = true;
  if (c->out.empty()) {
    ::shutdown(c->fd, SHUT_WR);
    close_conn(c);
    return;
  }
  c->drain_deadline_ms = now_ms() + kFlushTimeoutMs;
  g_draining.push_back(c);
}

void on_writable(conn* c) {
  if (c->out.empty()) {
    set_out_interest(c, false);
    return;
  }
  ssize_t n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  g_counters.send_calls++;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    g_counters.send_failures++;
    close_conn(c);
    return;
  }
  c->out.erase(0, static_cast<std::size_t>(n));
  if (!c->out.empty()) return;
  std::string().swap(c->out);  // an idle socket keeps no buffer
  c->out_frames = 0;
  set_out_interest(c, false);
  if (c->draining) {
    ::shutdown(c->fd, SHUT_WR);
    close_conn(c);
  }
}

// ---- HTTP -------------------------------------------------------------------------------------

struct http_req {
  std::string_view method, target, origin, upgrade, ws_key, ws_version, body;
  bool keep_alive = true;
};

void send_http(conn* c, int status, std::string_view body, std::string_view origin,
               bool keep_alive) {
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 408 ? "Request Timeout"
                       : status == 409 ? "Conflict"
                                       : "Service Unavailable";
  char head[512];
  int n =
      std::snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s",
                    status, reason, body.size(), keep_alive ? "" : "Connection: close\r\n");
  std::string h(head, static_cast<std::size_t>(std::max(0, std::min<int>(n, sizeof head - 1))));
  if (!origin.empty()) h.append("Access-Control-Allow-Origin: ").append(origin).append("\r\n");
  h.append("\r\n");
  iovec iov[2] = {{h.data(), h.size()}, {const_cast<char*>(body.data()), body.size()}};
  send_iov(c, iov, body.empty() ? 1 : 2);
  if (!keep_alive) drain_and_close(c);
}

std::string json_error(const char* code, const char* message) {
  return std::string(R"({"error":")") + code + R"(","message":")" + message + "\"}";
}

std::string ws_accept_key(std::string_view key) {
  std::string k(key);
  k += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(k.data(), k.size(), md, &len, EVP_sha1(), nullptr) != 1 || len != 20) return {};
  unsigned char b64[32];
  int n = EVP_EncodeBlock(b64, md, static_cast<int>(len));
  return n > 0 ? std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n))
               : std::string();
}

void http_process(conn* c);

// Answers a held /pair/join. result: 1 approved, 2 denied, 3 desktop gone/stopped, 0 timed out.
void resolve_join(std::shared_ptr<session> s, int result, std::string_view device_id = {},
                  std::string_view device_token = {}) {
  conn* h = s->pending_http;
  if (!h) return;
  s->pending_http = nullptr;
  h->waiting = false;
  h->s.reset();
  g_waiting.erase(std::remove(g_waiting.begin(), g_waiting.end(), h), g_waiting.end());
  std::string origin = std::move(s->pending_origin);
  switch (result) {
    case 1:
      g_counters.pair_join_ok++;
      send_http(h, 200,
                R"({"accepted":true,"sessionID":")" + s->sid + R"(","deviceID":")" +
                    std::string(device_id) + R"(","deviceSessionToken":")" +
                    std::string(device_token) + R"(","wsURL":"ws://127.0.0.1/ws"})",
                origin, s->pending_keep_alive);
      break;
    case 2:
      send_http(h, 403, json_error("pair_request_denied", "Desktop denied this pairing request."),
                origin, s->pending_keep_alive);
      break;
    case 3:
      send_http(h, 409, json_error("desktop_not_connected", "Desktop disconnected."), origin,
                s->pending_keep_alive);
      break;
    default:
      send_http(h, 408, json_error("pair_request_timed_out", "Desktop pairing approval timed out."),
                origin, s->pending_keep_alive);
  }
  if (!h->in.empty()) http_process(h);  // a request that arrived while this one was held
}

// Issues a device token for `s`; empty when the token table is full (fail closed).
std::string issue_device_token(const std::shared_ptr<session>& s, const std::string& device_id) {
  if (g_tokens.size() >= kMaxTokens) return {};
  std::string tok = random_token(32);
  g_tokens[tok] = token_entry{s, false, device_id};
  s->device_tokens.push_back(tok);
  return tok;
}

std::string metrics_json() {
  char buf[1024];
  int n = std::snprintf(
      buf, sizeof buf,
      R"({"ok":true,"sessions":%zu,"activeWebSockets":%llu,"wsAuthAttempts":%llu,"wsAuthSuccesses":%llu,)"
      R"("wsAuthFailures":%llu,"slowConsumerDisconnects":%llu,"outboundSendFailures":%llu,)"
      R"("pairStartRequests":%llu,"pairJoinRequests":%llu,"pairJoinSuccesses":%llu,"framesIn":%llu,)"
      R"("framesOut":%llu,"recvCalls":%llu,"sendCalls":%llu,"floorForwarder":true})",
      g_sessions.size(), static_cast<unsigned long long>(g_active_ws),
      static_cast<unsigned long long>(g_counters.ws_auth_attempts),
      static_cast<unsigned long long>(g_counters.ws_auth_successes),
      static_cast<unsigned long long>(g_counters.ws_auth_attempts - g_counters.ws_auth_successes),
      static_cast<unsigned long long>(g_counters.slow_consumer),
      static_cast<unsigned long long>(g_counters.send_failures),
      static_cast<unsigned long long>(g_counters.pair_start),
      static_cast<unsigned long long>(g_counters.pair_join),
      static_cast<unsigned long long>(g_counters.pair_join_ok),
      static_cast<unsigned long long>(g_counters.frames_in),
      static_cast<unsigned long long>(g_counters.frames_out),
      static_cast<unsigned long long>(g_counters.recv_calls),
      static_cast<unsigned long long>(g_counters.send_calls));
  return std::string(buf, static_cast<std::size_t>(std::max(0, std::min<int>(n, sizeof buf - 1))));
}

const char* kWsUrl = R"(","wsURL":"ws://127.0.0.1/ws"})";

void handle_post(conn* c, const http_req& r) {
  std::string_view body = r.body;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '{') {
    send_http(c, 400, "bad json", r.origin, r.keep_alive);
    return;
  }
  std::string sid(find_string_field(body, "sessionID"));
  if (!safe_id(sid)) {
    send_http(c, 400, json_error("invalid_request", "sessionID"), r.origin, r.keep_alive);
    return;
  }
  auto it = g_sessions.find(sid);
  if (r.target == "/pair/start") {
    g_counters.pair_start++;
    std::string dt(find_string_field(body, "desktopSessionToken"));
    if (!safe_id(dt)) {
      send_http(c, 400, json_error("invalid_request", "desktopSessionToken"), r.origin,
                r.keep_alive);
      return;
    }
    if (g_sessions.size() >= kMaxSessions || g_tokens.size() >= kMaxTokens) {
      send_http(c, 503, json_error("capacity", "Too many sessions."), r.origin, r.keep_alive);
      return;
    }
    if (it != g_sessions.end()) g_tokens.erase(it->second->desktop_token);
    auto s = std::make_shared<session>();
    s->sid = sid;
    s->desktop_token = dt;
    s->join_token = std::string(find_string_field(body, "joinToken"));
    g_sessions[sid] = s;
    g_tokens[dt] = token_entry{s, true, {}};
    send_http(c, 200, R"({"accepted":true,"sessionID":")" + sid + kWsUrl, r.origin, r.keep_alive);
    return;
  }
  if (r.target == "/pair/refresh") {
    if (it == g_sessions.end()) {
      send_http(c, 404, json_error("session_not_found", "Remote session not found."), r.origin,
                r.keep_alive);
      return;
    }
    it->second->join_token = std::string(find_string_field(body, "joinToken"));
    send_http(c, 200, R"({"accepted":true,"sessionID":")" + sid + kWsUrl, r.origin, r.keep_alive);
    return;
  }
  if (r.target == "/pair/stop") {
    if (it != g_sessions.end()) {
      std::shared_ptr<session> s = it->second;
      g_sessions.erase(it);
      g_tokens.erase(s->desktop_token);
      for (auto& t : s->device_tokens) g_tokens.erase(t);
      s->device_tokens.clear();
      resolve_join(s, 3);
      std::vector<conn*> sockets = s->phones;
      if (s->desktop) sockets.push_back(s->desktop);
      for (conn* w : sockets) {
        send_frame(w, R"({"type":"disconnect","reason":"stopped_by_desktop"})");
        drain_and_close(w);
      }
    }
    send_http(c, 200, R"({"accepted":true,"sessionID":")" + sid + "\"}", r.origin, r.keep_alive);
    return;
  }
  if (r.target == "/pair/join") {
    g_counters.pair_join++;
    if (it == g_sessions.end()) {
      send_http(c, 404, json_error("session_not_found", "Remote session not found."), r.origin,
                r.keep_alive);
      return;
    }
    std::shared_ptr<session> s = it->second;
    if (g_auto_approve) {
      std::string device_id = random_token(12);
      std::string tok = issue_device_token(s, device_id);
      if (tok.empty()) {
        send_http(c, 503, json_error("capacity", "Too many tokens."), r.origin, r.keep_alive);
        return;
      }
      g_counters.pair_join_ok++;
      send_http(c, 200,
                R"({"accepted":true,"sessionID":")" + sid + R"(","deviceID":")" + device_id +
                    R"(","deviceSessionToken":")" + tok + kWsUrl,
                r.origin, r.keep_alive);
      return;
    }
    if (!s->desktop || s->desktop->closed) {
      send_http(c, 409, json_error("desktop_not_connected", "Desktop is not connected to relay."),
                r.origin, r.keep_alive);
      return;
    }
    if (s->pending_http || g_waiting.size() >= kMaxWaiting) {
      send_http(
          c, 409,
          json_error("pair_request_in_progress", "A pairing approval request is already pending."),
          r.origin, r.keep_alive);
      return;
    }
    s->pending_http = c;
    s->pending_request_id = random_token(10);
    s->pending_origin = std::string(r.origin);
    s->pending_keep_alive = r.keep_alive;
    s->pending_deadline_ms = now_ms() + kJoinTimeoutMs;
    c->waiting = true;
    c->s = s;
    g_waiting.push_back(c);
    send_frame(
        s->desktop,
        R"({"type":"relay.pair_request","sessionID":")" + sid + R"(","requestID":")" +
            s->pending_request_id +
            R"(","deviceName":"bench","requesterIP":"127.0.0.1","requestedAt":"2026-01-01T00:00:00+00:00","expiresAt":"2026-01-01T00:00:45+00:00"})");
    return;
  }
  send_http(c, 404, {}, r.origin, r.keep_alive);
}

void ws_process(conn* c, uint8_t* buf, std::size_t len);

// Parses one request head at the front of c->in. Returns bytes consumed, 0 when incomplete,
// SIZE_MAX on a malformed request.
std::size_t parse_http(std::string_view in, http_req& r) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return in.size() > kMaxHttpBytes ? SIZE_MAX : 0;
  std::string_view head = in.substr(0, end);
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return SIZE_MAX;
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return SIZE_MAX;
  r.keep_alive = version == "HTTP/1.1";
  std::size_t content_length = 0;
  std::size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  for (int lines = 0; pos < head.size(); ++lines) {
    if (lines > 100) return SIZE_MAX;
    auto e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view h = head.substr(pos, e - pos);
    pos = e + 2;
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return SIZE_MAX;
    std::string_view name = h.substr(0, colon), value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 7) return SIZE_MAX;
      content_length = 0;
      for (char ch : value) {
        if (ch < '0' || ch > '9') return SIZE_MAX;
        content_length = content_length * 10 + static_cast<std::size_t>(ch - '0');
      }
      if (content_length > kMaxBody) return SIZE_MAX;
    } else if (iequals(name, "transfer-encoding")) {
      return SIZE_MAX;  // the loadgen never sends chunked bodies
    } else if (iequals(name, "connection")) {
      if (icontains(value, "close")) r.keep_alive = false;
      if (icontains(value, "keep-alive")) r.keep_alive = true;
    } else if (iequals(name, "origin")) {
      r.origin = value;
    } else if (iequals(name, "upgrade")) {
      r.upgrade = value;
    } else if (iequals(name, "sec-websocket-key")) {
      r.ws_key = value;
    } else if (iequals(name, "sec-websocket-version")) {
      r.ws_version = value;
    }
  }
  std::size_t total = end + 4 + content_length;
  if (in.size() < total) return 0;
  r.body = in.substr(end + 4, content_length);
  return total;
}

// Handles every complete request in c->in (bounded); may switch the socket to WebSocket.
void http_process(conn* c) {
  for (int requests = 0; requests < 64 && !c->closed && !c->waiting && !c->draining; ++requests) {
    http_req r;
    std::size_t used = parse_http(c->in, r);
    if (used == 0) return;
    if (used == SIZE_MAX) {
      send_http(c, 400, {}, {}, false);
      return;
    }
    if (r.method == "GET" && icontains(r.upgrade, "websocket")) {
      std::string accept = ws_accept_key(r.ws_key);
      if (r.ws_key.empty() || r.ws_version != "13" || accept.empty()) {
        send_http(c, 400, {}, {}, false);
        return;
      }
      send_bytes(c,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: " +
                     accept + "\r\n\r\n");
      c->ws = true;
      g_counters.ws_auth_attempts++;
      std::string rest = c->in.substr(used);
      std::string().swap(c->in);
      if (!rest.empty()) {
        std::memcpy(g_scratch.get(), rest.data(), rest.size());
        ws_process(c, g_scratch.get(), rest.size());
      }
      return;
    }
    if (r.method == "GET" && (r.target == "/healthz" || r.target == "/metricsz")) {
      send_http(c, 200, metrics_json(), r.origin, r.keep_alive);
    } else if (r.method == "OPTIONS") {
      send_http(c, 200, {}, r.origin, r.keep_alive);
    } else if (r.method == "POST") {
      handle_post(c, r);
    } else {
      send_http(c, 404, {}, r.origin, r.keep_alive);
    }
    c->in.erase(0, used);
  }
  if (c->in.empty()) std::string().swap(c->in);
}

void http_read(conn* c) {
  ssize_t n = ::recv(c->fd, g_scratch.get(), kScratch, 0);
  g_counters.recv_calls++;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    close_conn(c);
    return;
  }
  if (c->in.size() + static_cast<std::size_t>(n) > kMaxHttpBytes + kMaxBody) {
    close_conn(c);
    return;
  }
  c->in.append(reinterpret_cast<char*>(g_scratch.get()), static_cast<std::size_t>(n));
  http_process(c);
}

// ---- WebSocket --------------------------------------------------------------------------------

void notify_device_count(const std::shared_ptr<session>& s) {
  if (!s->desktop || s->desktop->closed) return;
  std::size_t phones = 0;
  for (conn* p : s->phones) phones += p->closed ? 0 : 1;
  send_frame(s->desktop, R"({"type":"relay.device_count","sessionID":")" + s->sid +
                             R"(","connectedDeviceCount":)" + std::to_string(phones) + "}");
}

void authenticate(conn* c, std::string_view frame) {
  std::string token(find_string_field(frame, "token"));
  auto it = token.empty() ? g_tokens.end() : g_tokens.find(token);
  if (it == g_tokens.end()) {
    send_frame(c, R"({"type":"disconnect","reason":"session_expired"})");
    drain_and_close(c);
    return;
  }
  token_entry entry = it->second;
  std::shared_ptr<session> s = entry.s;
  c->s = s;
  g_counters.ws_auth_successes++;
  g_active_ws++;
  if (entry.desktop) {
    c->role = 1;
    s->desktop = c;
    std::size_t phones = 0;
    for (conn* p : s->phones) phones += p->closed ? 0 : 1;
    send_frame(c, R"({"type":"auth_ok","role":"desktop","sessionID":")" + s->sid +
                      R"(","connectedDeviceCount":)" + std::to_string(phones) +
                      R"(,"desktopConnected":true})");
    return;
  }
  // Phone: the presented token is replaced by a fresh one (keeps the table bounded).
  c->role = 2;
  std::string next = random_token(32);
  g_tokens.erase(it);
  g_tokens[next] = entry;
  std::replace(s->device_tokens.begin(), s->device_tokens.end(), token, next);
  s->phones.push_back(c);
  std::size_t phones = 0;
  for (conn* p : s->phones) phones += p->closed ? 0 : 1;
  bool desk = s->desktop && !s->desktop->closed;
  send_frame(c, R"({"type":"auth_ok","role":"mobile","sessionID":")" + s->sid +
                    R"(","deviceID":")" + entry.device_id + R"(","nextDeviceSessionToken":")" +
                    next + R"(","connectedDeviceCount":)" + std::to_string(phones) +
                    R"(,"desktopConnected":)" + (desk ? "true" : "false") + "}");
  notify_device_count(s);
}

void from_desktop(conn* c, std::string_view frame) {
  session& s = *c->s;
  if (contains(frame, "\"relay.pair_decision\"")) {
    std::string request_id(find_string_field(frame, "requestID"));
    bool approved = contains(frame, "\"approved\":true");
    if (!safe_id(request_id)) return;
    if (s.pending_http && s.pending_request_id == request_id) {
      if (approved) {
        std::string device_id = random_token(12);
        std::string tok = issue_device_token(c->s, device_id);
        resolve_join(c->s, tok.empty() ? 3 : 1, device_id, tok);
      } else {
        resolve_join(c->s, 2);
      }
    }
    send_frame(c, R"({"type":"relay.pair_result","sessionID":")" + s.sid + R"(","requestID":")" +
                      request_id + R"(","approved":)" + (approved ? "true" : "false") + "}");
    return;
  }
  // Fanout: the same header and payload to every phone, one sendmsg each. Iterate by index:
  // a slow phone is only marked closed here, unlinked after the batch.
  for (std::size_t i = 0; i < s.phones.size(); ++i) send_frame(s.phones[i], frame);
}

void from_phone(conn* c, std::string_view frame) {
  session& s = *c->s;
  if (s.desktop) send_frame(s.desktop, frame);
}

void unmask(uint8_t* p, std::size_t n, const uint8_t* key) {
  uint32_t k32;
  std::memcpy(&k32, key, 4);
  uint64_t k64 = (uint64_t{k32} << 32) | k32;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= k64;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] ^= key[i & 3];
}

// Parses and handles every complete frame of buf; keeps a partial one in c->in.
void ws_process(conn* c, uint8_t* buf, std::size_t len) {
  std::size_t pos = 0;
  for (int frames = 0; frames < 100000 && !c->closed; ++frames) {
    std::size_t avail = len - pos;
    if (avail < 2) break;
    uint8_t b0 = buf[pos], b1 = buf[pos + 1];
    bool fin = (b0 & 0x80) != 0;
    uint8_t op = b0 & 0x0f;
    uint64_t plen = b1 & 0x7f;
    std::size_t hl = 2;
    if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0) {  // RSV bits (no extension) or unmasked client frame
      close_conn(c);
      return;
    }
    if (plen == 126) {
      if (avail < 4) break;
      plen = (uint64_t{buf[pos + 2]} << 8) | buf[pos + 3];
      hl = 4;
    } else if (plen == 127) {
      if (avail < 10) break;
      plen = 0;
      for (int i = 0; i < 8; ++i) plen = (plen << 8) | buf[pos + 2 + i];
      hl = 10;
    }
    if (plen > kMaxFrame) {
      close_conn(c);
      return;
    }
    hl += 4;
    if (avail < hl + plen) break;
    uint8_t* payload = buf + pos + hl;
    unmask(payload, static_cast<std::size_t>(plen), buf + pos + hl - 4);
    std::string_view data(reinterpret_cast<char*>(payload), static_cast<std::size_t>(plen));
    pos += hl + static_cast<std::size_t>(plen);
    // Fragmented messages are not supported (the loadgen never sends them): fail closed.
    if (!fin || op == 0 || (op >= 8 && plen > 125)) {
      close_conn(c);
      return;
    }
    if (c->draining) continue;
    g_counters.frames_in++;
    if (op == 1 || op == 2) {
      if (c->role == 0)
        authenticate(c, data);
      else if (c->role == 1)
        from_desktop(c, data);
      else
        from_phone(c, data);
    } else if (op == 8) {
      send_frame(c, data.substr(0, std::min<std::size_t>(data.size(), 2)), 8);
      drain_and_close(c);
    } else if (op == 9) {
      send_frame(c, data, 10);
    } else if (op != 10) {
      close_conn(c);
      return;
    }
  }
  if (!c->closed && pos < len) c->in.assign(reinterpret_cast<char*>(buf + pos), len - pos);
}

void ws_read(conn* c) {
  std::size_t have = c->in.size();
  if (have) std::memcpy(g_scratch.get(), c->in.data(), have);
  ssize_t n = ::recv(c->fd, g_scratch.get() + have, kScratch - have, 0);
  g_counters.recv_calls++;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    close_conn(c);
    return;
  }
  if (have) std::string().swap(c->in);
  ws_process(c, g_scratch.get(), have + static_cast<std::size_t>(n));
}

// ---- lifecycle --------------------------------------------------------------------------------

// Drops every reference to a closed socket; called after the event batch.
void unlink_conn(conn* c) {
  if (c->waiting && c->s && c->s->pending_http == c) {
    c->s->pending_http = nullptr;
    g_waiting.erase(std::remove(g_waiting.begin(), g_waiting.end(), c), g_waiting.end());
  }
  if (c->draining)
    g_draining.erase(std::remove(g_draining.begin(), g_draining.end(), c), g_draining.end());
  if (!c->ws || !c->s || c->role == 0) return;
  g_active_ws--;
  std::shared_ptr<session> s = std::move(c->s);
  if (c->role == 1) {
    if (s->desktop == c) {
      s->desktop = nullptr;
      resolve_join(s, 3);
    }
  } else {
    s->phones.erase(std::remove(s->phones.begin(), s->phones.end(), c), s->phones.end());
    notify_device_count(s);
  }
}

void reap() {
  for (std::size_t i = 0; i < g_dead.size(); ++i) {  // grows while unlinking: bounded by sockets
    conn* c = g_dead[i];
    unlink_conn(c);
    delete c;
  }
  g_dead.clear();
}

void check_timers(uint64_t now) {
  for (std::size_t i = 0; i < g_waiting.size();) {
    conn* h = g_waiting[i];
    if (h->s && now >= h->s->pending_deadline_ms) {
      resolve_join(h->s, 0);  // erases h from g_waiting
      continue;
    }
    ++i;
  }
  for (conn* c : g_draining)
    if (!c->closed && now >= c->drain_deadline_ms) close_conn(c);
}

bool g_listen_paused = false;

void do_accept(int lfd) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, lfd, nullptr);  // back off; re-armed by the timer tick
        g_listen_paused = true;
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new conn;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      delete c;
      return;
    }
  }
}

bool loopback(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = std::getenv("HOST") ? std::getenv("HOST") : "127.0.0.1";
  unsigned port = std::getenv("PORT") ? static_cast<unsigned>(std::atoi(std::getenv("PORT"))) : 0;
  double max_seconds = 6 * 3600;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host")
      host = next();
    else if (a == "--port")
      port = static_cast<unsigned>(std::atoi(next().c_str()));
    else if (a == "--auto-approve")
      g_auto_approve = true;
    else if (a == "--max-seconds")
      max_seconds = std::atof(next().c_str());
    else if (a == "--threads")
      next();  // accepted for run.sh symmetry; always one thread
    else {
      std::fprintf(
          stderr,
          "usage: rc-floor-forwarder [--host H] [--port P] [--auto-approve] [--max-seconds S]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!loopback(host) || port > 65535) {
    std::fprintf(stderr, "refusing non-loopback host or bad port: %s:%u\n", host.c_str(), port);
    return 2;
  }
  g_scratch.reset(new uint8_t[kScratch]);

  bool v6 = host.find(':') != std::string::npos;
  int lfd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t sl;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    sl = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    sl = sizeof *a;
  }
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&ss), sl) != 0 ||
      ::listen(lfd, 4096) != 0) {
    std::fprintf(stderr, "{\"level\":\"error\",\"msg\":\"listen failed\",\"errno\":%d}\n", errno);
    return 1;
  }
  sl = sizeof ss;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &sl);
  unsigned bound = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  g_ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &g_listen_tag;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &g_signal_tag;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, sfd, &ev);

  std::fprintf(
      stderr,
      "{\"level\":\"info\",\"msg\":\"listening\",\"host\":\"%s\",\"port\":%u,\"threads\":1,"
      "\"floor\":true}\n",
      host.c_str(), bound);
  std::fflush(stderr);

  const uint64_t start = now_ms();
  const uint64_t end = start + static_cast<uint64_t>(std::max(1.0, max_seconds) * 1000);
  uint64_t next_tick = start + 250;
  epoll_event evs[kMaxEvents];
  bool stop = false;
  for (uint64_t iter = 0; iter < (uint64_t{1} << 40) && !stop; ++iter) {
    int n = ::epoll_wait(g_ep, evs, kMaxEvents, 250);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      void* p = evs[i].data.ptr;
      if (p == &g_listen_tag) {
        do_accept(lfd);
        continue;
      }
      if (p == &g_signal_tag) {
        stop = true;
        continue;
      }
      auto* c = static_cast<conn*>(p);
      if (c->closed) continue;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->ws)
          ws_read(c);
        else
          http_read(c);
      }
      if (!c->closed && (evs[i].events & EPOLLOUT)) on_writable(c);
    }
    reap();
    uint64_t now = now_ms();
    if (now >= next_tick) {
      next_tick = now + 250;
      check_timers(now);
      reap();
      if (g_listen_paused) {
        ev.events = EPOLLIN;
        ev.data.ptr = &g_listen_tag;
        if (epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev) == 0) g_listen_paused = false;
      }
      if (now >= end) break;
    }
  }
  std::fprintf(stderr,
               "{\"level\":\"info\",\"msg\":\"stopped\",\"framesIn\":%llu,\"framesOut\":%llu,"
               "\"recvCalls\":%llu,\"sendCalls\":%llu}\n",
               static_cast<unsigned long long>(g_counters.frames_in),
               static_cast<unsigned long long>(g_counters.frames_out),
               static_cast<unsigned long long>(g_counters.recv_calls),
               static_cast<unsigned long long>(g_counters.send_calls));
  return 0;
}
