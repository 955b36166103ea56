// One HTTP/1.1 connection over any Beast stream (TCP, TLS, or beast::test::stream in the gateway
// tests): bounded header and body, CORS, framework rejections (405/413/415), static files, the
// websocket upgrade (handed to open_websocket) and the responder through which routes answer.
// Beast only, no CAF.
#pragma once
#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "gateway/beast.hpp"
#include "gateway/listener.hpp"
#include "gateway/socket.hpp"
#include "gateway/static_files.hpp"
#include "gateway/ws_open.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/url.hpp"
#include "settings/config.hpp"

namespace rc::gw {

/// Open connections per peer address (MAX_CONNECTIONS_PER_IP). An entry lives while the address
/// has a connection, so the map never holds more entries than there are open connections.
class ip_counts {
 public:
  /// One connection of `ip`, or nullptr when the address is at `limit` (0 = unbounded). The
  /// unit is released when the last copy of the returned handle goes (HTTP session, then the
  /// websocket it became).
  std::shared_ptr<void> acquire(const std::string& ip, uint64_t limit) {
    if (limit == 0) return std::make_shared<int>(0);
    std::lock_guard<std::mutex> lock(mtx_);
    auto& n = counts_[ip];
    if (n >= limit) {
      if (n == 0) counts_.erase(ip);
      return nullptr;
    }
    ++n;
    return std::shared_ptr<void>(new std::string(ip), [this](void* p) {
      auto* key = static_cast<std::string*>(p);
      release(*key);
      delete key;
    });
  }
  std::size_t addresses() const {
    std::lock_guard<std::mutex> lock(mtx_);
    return counts_.size();
  }

 private:
  void release(const std::string& ip) {
    std::lock_guard<std::mutex> lock(mtx_);
    auto it = counts_.find(ip);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }
  mutable std::mutex mtx_;
  std::unordered_map<std::string, uint64_t> counts_;
};

/// What every HTTP session of a listener shares; outlives the io loop.
struct http_shared {
  const settings::relay_config& cfg;
  std::shared_ptr<counters> ctr;
  http_handler on_http;
  ws_bridge* bridge = nullptr;
  /// Log lines of the gateway (one JSON object each); may be empty (tests).
  log_sink log{};
  /// Open HTTP connections of the main listener not (yet) upgraded; with counters::ws_open,
  /// what MAX_OPEN_CONNECTIONS bounds at accept time (listener.cpp).
  mutable std::atomic<uint64_t> http_open{0};
  uint64_t open_connections() const {
    return ctr->ws_open.load(std::memory_order_relaxed) + http_open.load(std::memory_order_relaxed);
  }
  /// HTTP connections between a request's header and the end of its response (what a drain
  /// waits for; idle keep-alive connections are not waited for).
  mutable std::atomic<uint64_t> http_busy{0};
  /// Open connections of the main listener per peer address (admission at accept, listener.cpp).
  mutable ip_counts per_ip{};
};

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(const http_shared& srv, Stream&& stream, std::string peer_ip, bool admin)
      : srv_(srv), stream_(std::move(stream)), peer_ip_(std::move(peer_ip)), admin_(admin) {
    if (!admin_) srv_.http_open.fetch_add(1, std::memory_order_relaxed);
  }
  ~http_session() {
    set_busy(false);
    if (!admin_) srv_.http_open.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() { read_header(); }

  /// This connection's unit of MAX_CONNECTIONS_PER_IP (passed on to the websocket it becomes).
  void hold_ip_slot(std::shared_ptr<void> slot) { ip_slot_ = std::move(slot); }

  Stream& stream() { return stream_; }

 private:
  class responder final : public http_responder {
   public:
    responder(std::shared_ptr<http_session> s, bool keep_alive, std::string origin, bool has_origin)
        : s_(std::move(s)),
          keep_alive_(keep_alive),
          origin_(std::move(origin)),
          has_origin_(has_origin) {}
    ~responder() override {
      if (!done_.exchange(true)) {  // a route dropped its responder: logged, counted, 500
        auto s = s_;
        s->srv_.ctr->handler_errors.fetch_add(1, std::memory_order_relaxed);
        if (s->srv_.log)
          s->srv_.log(
              "{\"level\":\"error\",\"component\":\"gateway\",\"msg\":\"request not "
              "answered by its route\",\"path\":\"" +
              safe_path(s->path_) + "\"}");
        net::post(s->stream_.get_executor(),
                  [s] { s->send_simple(500, "internal error", "text/plain", false, "", false); });
      }
    }
    void respond(int status, std::string body, std::string ct) override {
      if (done_.exchange(true)) return;
      auto s = s_;
      net::post(
          s->stream_.get_executor(),
          [s, status, body = std::move(body), ct = std::move(ct), ka = keep_alive_, o = origin_,
           ho = has_origin_]() mutable { s->send_simple(status, std::move(body), ct, ka, o, ho); });
    }

   private:
    std::shared_ptr<http_session> s_;
    bool keep_alive_;
    std::string origin_;
    bool has_origin_;
    std::atomic<bool> done_{false};
  };

  void read_header() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    // Beast rejects a Content-Length above body_limit while parsing the header; keep the header
    // phase permissive (bounded) so the API can answer 415/413 properly, then tighten it.
    parser_->body_limit(std::max<std::size_t>(srv_.cfg.max_json_bytes, 1024 * 1024));
    // Header deadline (HTTP_REQUEST_TIMEOUT_MS) from accept or from the previous response, so
    // it is also the keep-alive idle deadline: a trickled header (slowloris) or an idle
    // connection is closed when it passes.
    lowest<Stream>::expires_after(beast::get_lowest_layer(stream_),
                                  srv_.cfg.http_request_timeout());
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&http_session::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return close();
    set_busy(true);
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    auto o = req.find(http::field::origin);
    has_origin_ = o != req.end();
    origin_ = has_origin_ ? std::string(o->value()) : std::string{};
    head_ = req.method() == http::verb::head;
    std::string target(req.target());
    path_ = target.substr(0, target.find('?'));
    srv_.ctr->http_requests.fetch_add(1, std::memory_order_relaxed);

    // Only origin-form targets (and `OPTIONS *`): a target such as `-private/x` or `.env` never
    // reaches path handling.
    bool star = req.method() == http::verb::options && target == "*";
    if (path_.empty() || (path_[0] != '/' && !star))
      return send_simple(400, "", "", false, origin_, has_origin_);
    // RFC 9112 §6.3: a Transfer-Encoding whose final coding is not chunked cannot be framed.
    if (req.find(http::field::transfer_encoding) != req.end() && !parser_->chunked())
      return send_simple(400, "", "", false, origin_, has_origin_);
    auto len = parser_->content_length();
    bool has_body = parser_->chunked() || (len && *len > 0);
    bool is_api = !admin_ && is_api_path(path_);
    // Paths (and preflights) that take no body never read one: GET, HEAD and OPTIONS get 413;
    // other methods get the route's answer (404/405, which does not depend on the body), and
    // the connection closes after it either way.
    if (!admin_ && has_body && (!is_api || req.method() == http::verb::options)) {
      auto m = req.method();
      if (m == http::verb::get || m == http::verb::head || m == http::verb::options)
        return send_simple(413, "Request body not allowed", "text/plain; charset=utf-8", false,
                           origin_, has_origin_);
      keep_alive_ = false;
      return dispatch(parser_->release());
    }

    if (!admin_ && req.method() == http::verb::get && path_ == "/ws" &&
        websocket::is_upgrade(req)) {
      if (!valid_ws_key(req[http::field::sec_websocket_key]))
        return send_simple(400, "", "", false, origin_, has_origin_);
      // An address whose auths failed WS_AUTH_FAILURES_PER_IP times in its window (a token
      // guesser) gets no further websocket until the window ends.
      if (srv_.ctr->auth_failures.blocked(client_ip(req), srv_.cfg.ws_auth_failures_per_ip,
                                          srv_.cfg.ws_auth_failure_window())) {
        srv_.ctr->auth_failure_refused.fetch_add(1, std::memory_order_relaxed);
        return send_simple(429, "{\"error\":\"rate_limited\"}", "application/json", false, origin_,
                           has_origin_);
      }
      // Unauthenticated websockets have their own, smaller budget: at it, new upgrades are
      // refused while the HTTP API (healthz, pairing) keeps its connection slots.
      preauth_ = counted_slot(srv_.ctr->ws_preauth, srv_.cfg.preauth_websockets());
      if (!preauth_) {
        srv_.ctr->ws_preauth_refused.fetch_add(1, std::memory_order_relaxed);
        return send_simple(503, "{\"error\":\"relay_at_capacity\"}", "application/json", false,
                           origin_, has_origin_);
      }
      arm_body_deadline();
      http::async_read(
          stream_, buffer_, *parser_,
          beast::bind_front_handler(&http_session::on_upgrade_body, this->shared_from_this()));
      return;
    }
    if (!admin_ && req.method() == http::verb::options)
      return send_simple(200, "", "", keep_alive_, origin_, has_origin_, true);
    if (is_api) {
      if (req.method() != http::verb::post)  // an unread body ends the connection
        return send_simple(405, "", "", keep_alive_ && !has_body, origin_, has_origin_);
      auto ct = req.find(http::field::content_type);
      if (ct == req.end() || !proto::is_json_content_type(std::string(ct->value())))
        return reject_after_body(415, "Expected request with `Content-Type: application/json`");
      if (len && *len > srv_.cfg.max_json_bytes)
        return reject_after_body(413, "Failed to buffer the request body: length limit exceeded");
    }
    parser_->body_limit(srv_.cfg.max_json_bytes);
    arm_body_deadline();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_body, this->shared_from_this()));
  }

  /// Answers a framework rejection after draining a bounded body, so that the client reads the
  /// response instead of a connection reset. Larger bodies get the response and a close.
  void reject_after_body(int status, std::string text) {
    constexpr std::size_t drain_limit = 1024 * 1024;
    auto len = parser_->content_length();
    if ((len && *len > drain_limit) || (!len && !parser_->chunked()))
      return send_simple(status, std::move(text), "text/plain; charset=utf-8", false, origin_,
                         has_origin_);
    arm_body_deadline();
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this(), status, text = std::move(text)](
                         beast::error_code ec, std::size_t) mutable {
                       bool ka = !ec && self->keep_alive_;
                       self->send_simple(status, std::move(text), "text/plain; charset=utf-8", ka,
                                         self->origin_, self->has_origin_);
                     });
  }

  void on_upgrade_body(beast::error_code ec, std::size_t) {
    if (ec) return close();
    auto req = parser_->release();
    std::string ip = client_ip(req);
    std::string qtoken;
    if (srv_.cfg.allow_legacy_query_token_auth) {
      std::string target(req.target());
      auto q = target.find('?');
      if (q != std::string::npos) {
        std::string query = target.substr(q + 1);
        std::size_t pos = 0;
        while (pos <= query.size()) {
          auto amp = query.find('&', pos);
          std::string kv =
              query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
          if (kv.rfind("token=", 0) == 0) qtoken = proto::percent_decode(kv.substr(6)).value_or("");
          if (amp == std::string::npos) break;
          pos = amp + 1;
        }
      }
    }
    ws_upgrade up{std::move(req),      std::move(ip),      origin_, has_origin_, std::move(qtoken),
                  std::move(preauth_), std::move(ip_slot_)};
    open_websocket(srv_.bridge, std::move(stream_), std::move(up));
  }

  std::string client_ip(const http::request<http::string_body>& req) {
    if (srv_.cfg.trust_proxy) {
      auto xff = req.find("x-forwarded-for");
      if (xff != req.end()) {
        std::string v(xff->value());
        std::stringstream ss(v);
        std::string part;
        while (std::getline(ss, part, ',')) {
          auto b = part.find_first_not_of(" \t");
          auto e = part.find_last_not_of(" \t");
          if (b == std::string::npos) continue;
          part = part.substr(b, e - b + 1);
          beast::error_code ec;
          auto addr = net::ip::make_address(part, ec);
          if (!ec) return addr.to_string();
        }
      }
    }
    return peer_ip_;
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit)
      return send_simple(413, "Failed to buffer the request body: length limit exceeded",
                         "text/plain", false, origin_, has_origin_);
    if (ec) return close();
    dispatch(parser_->release());
  }

  /// A whole request (or one whose body is refused unread) to static files or the routes.
  void dispatch(http::request<http::string_body>&& req) {
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.path = path_;
    r.body = std::move(req.body());
    if (auto ct = req.find(http::field::content_type); ct != req.end())
      r.content_type = std::string(ct->value());
    r.origin = origin_;
    r.has_origin = has_origin_;
    r.client_ip = client_ip(req);
    if (auto a = req.find(http::field::authorization); a != req.end())
      r.authorization = std::string(a->value());
    r.admin = admin_;
    if (!admin_ && !is_api_path(path_) && !srv_.cfg.static_dir.empty() &&
        (req.method() == http::verb::get || head_) && path_ != "/healthz" && path_ != "/metricsz" &&
        path_ != "/metrics" && path_ != "/ws")
      return serve_static();
    auto resp =
        std::make_shared<responder>(this->shared_from_this(), keep_alive_, origin_, has_origin_);
    srv_.on_http(std::move(r), std::move(resp));
  }

  void serve_static() {
    auto f = load_static_file(srv_.cfg.static_dir, path_);
    send_simple(f.status, std::move(f.body), f.content_type, keep_alive_, origin_, has_origin_);
  }

 public:
  void send_simple(int status, std::string body, const std::string& ct, bool keep_alive,
                   const std::string& origin, bool has_origin, bool preflight = false) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), version_);
    res->set(http::field::server, "remote-control-relay");
    if (!ct.empty()) res->set(http::field::content_type, ct);
    if (!admin_) cors(*res, origin, has_origin);
    if (preflight) {
      res->set(http::field::access_control_allow_methods, "POST,OPTIONS");
      res->set(http::field::access_control_allow_headers, "content-type");
    }
    // 1xx, 204 and 304 carry no body: Beast's prepare_payload throws on one (found by
    // fuzz_http_session; an exception here would end the io thread and the node).
    bool bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
    res->body() = bodiless ? std::string{} : std::move(body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    if (head_) {  // the headers of the GET answer (Content-Length included), no body
      auto n = res->body().size();
      res->body().clear();
      res->content_length(n);
    }
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        self->set_busy(false);
                        if (ec || !res->keep_alive()) return self->close();
                        self->read_header();
                      });
  }

 private:
  void close() { lowest<Stream>::shutdown_send(beast::get_lowest_layer(stream_)); }

  /// A request path for a log line: at most 64 characters of [A-Za-z0-9/_.-], never a query.
  static std::string safe_path(const std::string& p) {
    std::string out;
    for (char c : p.substr(0, 64))
      out += (std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '.' ||
              c == '-')
                 ? c
                 : '?';
    return out;
  }

  void set_busy(bool b) {
    if (admin_ || b == busy_) return;
    busy_ = b;
    if (b)
      srv_.http_busy.fetch_add(1, std::memory_order_relaxed);
    else
      srv_.http_busy.fetch_sub(1, std::memory_order_relaxed);
  }

  /// Body deadline: the body must arrive within HTTP_REQUEST_TIMEOUT_MS of its header.
  void arm_body_deadline() {
    lowest<Stream>::expires_after(beast::get_lowest_layer(stream_),
                                  srv_.cfg.http_request_timeout());
  }

  /// RFC 6455 §4.1: the key is base64 of exactly 16 bytes (24 characters, `==` padding).
  static bool valid_ws_key(beast::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22, [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '+' || c == '/';
    });
  }

  // CORS headers applied to every response of the main listener (RELAY_PROTOCOL §3.5).
  template <class Res>
  void cors(Res& res, const std::string& origin, bool has_origin) {
    bool star = false, match = false;
    for (const auto& a : srv_.cfg.allowed_origins) {
      if (a == "*") star = true;
      if (has_origin && a == origin) match = true;
    }
    if (match)
      res.set(http::field::access_control_allow_origin, origin);
    else if (star)
      res.set(http::field::access_control_allow_origin, "*");
    res.set(http::field::vary,
            "origin, access-control-request-method, access-control-request-headers");
  }

  const http_shared& srv_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_ip_;
  bool admin_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;  ///< the current request is HEAD
  std::string origin_;
  bool has_origin_ = false;
  std::string path_;
  counted_slot preauth_;           ///< held from the upgrade request until the websocket takes it
  std::shared_ptr<void> ip_slot_;  ///< this connection's unit of MAX_CONNECTIONS_PER_IP
  bool busy_ = false;              ///< counted in http_shared::http_busy
};

}  // namespace rc::gw
