// Beast HTTP + WebSocket server. Knows nothing about sessions: it bounds and frames bytes and
// hands them to the hooks. The only TU of the relay that includes Beast.
#include "gateway/gateway.hpp"

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
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "protocol/close_reason.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/url.hpp"

namespace rc::gw {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

bool api_path(const std::string& p) {
  return p == "/pair/start" || p == "/pair/join" || p == "/pair/refresh" || p == "/pair/stop" ||
         p == "/devices/list" || p == "/devices/revoke";
}

const char* mime_for(const std::string& path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript";
  if (ext == "css") return "text/css";
  if (ext == "json" || ext == "webmanifest") return "application/manifest+json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "txt") return "text/plain";
  return "application/octet-stream";
}

}  // namespace

struct server::impl {
  options opts;
  hooks h;
  std::shared_ptr<counters> ctr;
  net::io_context ioc;
  std::unique_ptr<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  tcp::acceptor admin_acceptor{ioc};
  uint16_t bound_port = 0;
  uint16_t bound_admin_port = 0;
  std::atomic<bool> accepting{true};
  std::vector<std::thread> threads;

  impl(options o, hooks hk, std::shared_ptr<counters> c)
      : opts(std::move(o)), h(std::move(hk)), ctr(std::move(c)) {}

  void log(const std::string& level, const std::string& msg, const std::string& extra = "") {
    if (h.log)
      h.log("{\"level\":\"" + level + "\",\"component\":\"gateway\",\"msg\":\"" + json_escape(msg) +
            "\"" + extra + "}");
  }

  // CORS headers applied to every response of the main listener (RELAY_PROTOCOL §3.5).
  template <class Res>
  void cors(Res& res, const std::string& origin, bool has_origin) {
    bool star = false, match = false;
    for (const auto& a : opts.allowed_origins) {
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

  void do_accept(tcp::acceptor& acc, bool admin);
};

// ---------------------------------------------------------------------------------------------
// WebSocket session
// ---------------------------------------------------------------------------------------------

template <class Stream>
class ws_session : public ws_peer, public std::enable_shared_from_this<ws_session<Stream>> {
 public:
  ws_session(server::impl& srv, Stream&& stream, std::string ip, std::string origin,
             bool has_origin, std::string query_token)
      : srv_(srv),
        ws_(std::move(stream)),
        auth_timer_(ws_.get_executor()),
        hb_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()),
        ip_(std::move(ip)),
        origin_(std::move(origin)),
        has_origin_(has_origin),
        query_token_(std::move(query_token)) {
    cap_ = std::max<std::size_t>(srv_.opts.max_outbound_queue, 8);
  }

  ~ws_session() override { srv_.ctr->ws_open.fetch_sub(1, std::memory_order_relaxed); }

  template <class Request>
  void start(Request&& req) {
    srv_.ctr->ws_open.fetch_add(1, std::memory_order_relaxed);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                   websocket::stream_base::none(), false});
    // Read frames up to twice the limit so an oversize message gets `message_too_large`
    // (bounded); beyond that the transport fails and the socket just drops.
    ws_.read_message_max(srv_.opts.max_ws_message_bytes * 2 + 4096);
    ws_.auto_fragment(false);
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { last_inbound_ = clock_type::now(); });
    ws_.async_accept(req,
                     beast::bind_front_handler(&ws_session::on_accept, this->shared_from_this()));
  }

  // ---- ws_peer ----
  bool send(frame_ptr frame) override {
    if (closed_.load(std::memory_order_acquire)) {
      srv_.ctr->outbound_send_failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (queued_.fetch_add(1, std::memory_order_acq_rel) >= cap_) {
      queued_.fetch_sub(1, std::memory_order_acq_rel);
      srv_.ctr->outbound_send_failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    net::post(ws_.get_executor(),
              [self = this->shared_from_this(), f = std::move(frame)]() mutable {
                self->push(std::move(f), false);
              });
    return true;
  }

  void disconnect(proto::close_reason reason) override {
    auto f = std::make_shared<const std::string>(proto::disconnect_frame(reason));
    net::post(ws_.get_executor(), [self = this->shared_from_this(), f, reason]() mutable {
      if (self->closing_) return;
      self->srv_.ctr->count_close(reason);
      if (self->queued_.load() < self->cap_) {
        self->queued_.fetch_add(1);
        self->push(std::move(f), false);
      }
      self->begin_close(false);
    });
  }

  void reject_policy() override {
    auto f = std::make_shared<const std::string>(
        proto::disconnect_frame(proto::close_reason::session_expired));
    net::post(ws_.get_executor(), [self = this->shared_from_this(), f]() mutable {
      if (self->closing_) return;
      self->srv_.ctr->count_close(proto::close_reason::session_expired);
      self->queued_.fetch_add(1);
      self->push(std::move(f), false);
      self->begin_close(true);
    });
  }

  void reject_missing_auth() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()]() mutable {
      if (self->closing_) return;
      self->queued_.fetch_add(1);
      self->push(std::make_shared<const std::string>("{}"), false);
      self->begin_close(false);
    });
  }

  void drop() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->hard_close(); });
  }

  void mark_authenticated() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      if (self->closing_ || self->authenticated_) return;
      self->authenticated_ = true;
      self->auth_timer_.cancel();
      self->window_end_ = clock_type::now() + std::chrono::seconds(60);
      self->window_count_ = 0;
      self->last_inbound_ = clock_type::now();
      self->arm_heartbeat();
    });
  }

  void post(std::function<void()> fn) override { net::post(ws_.get_executor(), std::move(fn)); }
  const std::string& client_ip() const override { return ip_; }
  const std::string& origin() const override { return origin_; }
  bool has_origin() const override { return has_origin_; }
  const std::string& query_token() const override { return query_token_; }

 private:
  struct out_item {
    frame_ptr frame;
    bool ping;
  };

  void on_accept(beast::error_code ec) {
    if (ec) {
      closed_.store(true);
      return;
    }
    srv_.ctr->ws_auth_attempts.fetch_add(1, std::memory_order_relaxed);
    handler_ = srv_.h.on_ws_open(this->shared_from_this());
    if (!handler_) {
      hard_close();
      return;
    }
    auth_timer_.expires_after(std::chrono::milliseconds(srv_.opts.ws_auth_timeout_ms));
    auth_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
      if (e || self->authenticated_ || self->closing_) return;
      self->handler_->on_binary_first();  // no (accepted) relay.auth in time: `{}` and drop
    });
    if (!query_token_.empty()) auth_started_ = true;
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&ws_session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      // Includes frames beyond 2× MAX_WS_MESSAGE_BYTES: the transport fails, the socket drops.
      finish();
      return;
    }
    last_inbound_ = clock_type::now();
    srv_.ctr->frames_in.fetch_add(1, std::memory_order_relaxed);
    if (closing_) {
      buffer_.consume(bytes);
      do_read();
      return;
    }
    if (!ws_.got_text()) {
      buffer_.consume(bytes);
      if (!auth_started_ && !authenticated_) {
        auth_started_ = true;
        handler_->on_binary_first();
      }
      do_read();
      return;
    }
    if (bytes > srv_.opts.max_ws_message_bytes) {
      buffer_.consume(bytes);
      disconnect(proto::close_reason::message_too_large);
      do_read();
      return;
    }
    std::string text(static_cast<const char*>(buffer_.data().data()), bytes);
    buffer_.consume(bytes);
    if (buffer_.capacity() > 4096) buffer_.shrink_to_fit();  // idle sockets keep little memory
    if (authenticated_) {
      auto now = clock_type::now();
      if (now >= window_end_) {
        window_end_ = now + std::chrono::seconds(60);
        window_count_ = 0;
      }
      if (++window_count_ > srv_.opts.max_ws_messages_per_minute) {
        disconnect(proto::close_reason::socket_rate_limited);
        do_read();
        return;
      }
    } else {
      auth_started_ = true;
    }
    handler_->on_text(std::move(text));
    do_read();
  }

  void arm_heartbeat() {
    auto interval = std::max<uint64_t>(srv_.opts.heartbeat_interval_ms, 1000);
    hb_timer_.expires_after(std::chrono::milliseconds(interval));
    hb_timer_.async_wait([self = this->shared_from_this(), interval](beast::error_code e) {
      if (e || self->closing_) return;
      auto timeout = std::max<uint64_t>(self->srv_.opts.heartbeat_timeout_ms, 2 * interval);
      if (clock_type::now() - self->last_inbound_ > std::chrono::milliseconds(timeout)) {
        self->disconnect(proto::close_reason::heartbeat_timeout);
        return;
      }
      if (self->queue_.size() >= self->cap_) {
        self->hard_close();
        return;
      }
      self->queue_.push_back({nullptr, true});
      self->write_next();
      self->arm_heartbeat();
    });
  }

  void push(frame_ptr f, bool ping) {
    if (closed_.load()) {
      queued_.fetch_sub(1);
      return;
    }
    queue_.push_back({std::move(f), ping});
    write_next();
  }

  void write_next() {
    if (writing_ || queue_.empty() || closed_.load()) return;
    writing_ = true;
    auto& item = queue_.front();
    if (item.ping) {
      ws_.async_ping({}, [self = this->shared_from_this()](beast::error_code ec) {
        self->on_write(ec, true);
      });
    } else {
      ws_.text(true);
      ws_.async_write(net::buffer(*item.frame),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_write(ec, false);
                      });
    }
  }

  void on_write(beast::error_code ec, bool ping) {
    writing_ = false;
    queue_.pop_front();
    if (!ping) {
      queued_.fetch_sub(1);
      srv_.ctr->frames_out.fetch_add(1, std::memory_order_relaxed);
    }
    if (ec) {
      finish();
      return;
    }
    if (queue_.empty() && closing_) {
      complete_close();
      return;
    }
    write_next();
  }

  void begin_close(bool policy) {
    if (closing_) return;
    closing_ = true;
    policy_close_ = policy;
    auth_timer_.cancel();
    hb_timer_.cancel();
    close_timer_.expires_after(std::chrono::milliseconds(100));
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
      if (!e) self->hard_close();
    });
    if (queue_.empty() && !writing_) complete_close();
  }

  void complete_close() {
    if (policy_close_ && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(
          websocket::close_reason(websocket::close_code::policy_error,
                                  proto::to_string(proto::close_reason::session_expired)),
          [self = this->shared_from_this()](beast::error_code) {
            self->writing_ = false;
            self->hard_close();
          });
      return;
    }
    hard_close();
  }

  void hard_close() {
    if (closed_.exchange(true)) return;
    closing_ = true;
    auth_timer_.cancel();
    hb_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
    finish();
  }

  void finish() {
    closed_.store(true);
    if (!finished_) {
      finished_ = true;
      auth_timer_.cancel();
      hb_timer_.cancel();
      if (handler_) handler_->on_closed();
      handler_.reset();
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().close(ec);
    }
  }

  server::impl& srv_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer auth_timer_, hb_timer_, close_timer_;
  std::string ip_, origin_;
  bool has_origin_;
  std::string query_token_;
  std::shared_ptr<ws_handler> handler_;
  std::deque<out_item> queue_;
  std::atomic<std::size_t> queued_{0};
  std::size_t cap_;
  std::atomic<bool> closed_{false};
  bool closing_ = false, writing_ = false, authenticated_ = false, auth_started_ = false;
  bool policy_close_ = false, close_sent_ = false, finished_ = false;
  clock_type::time_point last_inbound_ = clock_type::now();
  clock_type::time_point window_end_;
  std::size_t window_count_ = 0;
};

// ---------------------------------------------------------------------------------------------
// HTTP session
// ---------------------------------------------------------------------------------------------

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(server::impl& srv, Stream&& stream, std::string peer_ip, bool admin)
      : srv_(srv), stream_(std::move(stream)), peer_ip_(std::move(peer_ip)), admin_(admin) {}

  void start() { read_header(); }

  Stream& stream() { return stream_; }

 private:
  class responder final : public http_responder {
   public:
    responder(std::shared_ptr<http_session> s, unsigned version, bool keep_alive,
              std::string origin, bool has_origin)
        : s_(std::move(s)),
          version_(version),
          keep_alive_(keep_alive),
          origin_(std::move(origin)),
          has_origin_(has_origin) {}
    ~responder() override {
      if (!done_.exchange(true)) {
        auto s = s_;
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
    unsigned version_;
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
    parser_->body_limit(std::max<std::size_t>(srv_.opts.max_json_bytes, 1024 * 1024));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&http_session::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return close();
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    auto o = req.find(http::field::origin);
    has_origin_ = o != req.end();
    origin_ = has_origin_ ? std::string(o->value()) : std::string{};
    std::string target(req.target());
    path_ = target.substr(0, target.find('?'));
    srv_.ctr->http_requests.fetch_add(1, std::memory_order_relaxed);

    if (!admin_ && req.method() == http::verb::get && path_ == "/ws" &&
        websocket::is_upgrade(req)) {
      http::async_read(
          stream_, buffer_, *parser_,
          beast::bind_front_handler(&http_session::on_upgrade_body, this->shared_from_this()));
      return;
    }
    if (!admin_ && req.method() == http::verb::options)
      return send_simple(200, "", "", keep_alive_, origin_, has_origin_, true);
    bool is_api = !admin_ && api_path(path_);
    if (is_api) {
      if (req.method() != http::verb::post)
        return send_simple(405, "", "", keep_alive_, origin_, has_origin_);
      auto ct = req.find(http::field::content_type);
      if (ct == req.end() || !proto::is_json_content_type(std::string(ct->value())))
        return reject_after_body(415, "Expected request with `Content-Type: application/json`");
      if (auto len = parser_->content_length(); len && *len > srv_.opts.max_json_bytes)
        return reject_after_body(413, "Failed to buffer the request body: length limit exceeded");
    }
    parser_->body_limit(srv_.opts.max_json_bytes);
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
    if (srv_.opts.legacy_query_token) {
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
    auto ws = std::make_shared<ws_session<Stream>>(srv_, std::move(stream_), ip, origin_,
                                                   has_origin_, qtoken);
    ws->start(std::move(req));
  }

  std::string client_ip(const http::request<http::string_body>& req) {
    if (srv_.opts.trust_proxy) {
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
    auto req = parser_->release();
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
    if (!admin_ && !api_path(path_) && !srv_.opts.static_dir.empty() &&
        req.method() == http::verb::get && path_ != "/healthz" && path_ != "/metricsz" &&
        path_ != "/metrics" && path_ != "/ws")
      return serve_static();
    auto resp = std::make_shared<responder>(this->shared_from_this(), version_, keep_alive_,
                                            origin_, has_origin_);
    srv_.h.on_http(std::move(r), std::move(resp));
  }

  void serve_static() {
    std::string p = path_;
    if (p.find("..") != std::string::npos || p.find('\0') != std::string::npos)
      return send_simple(404, "", "", keep_alive_, origin_, has_origin_);
    if (p.empty() || p.back() == '/') p += "index.html";
    std::ifstream in(srv_.opts.static_dir + p, std::ios::binary);
    if (!in) {
      p = "/index.html";  // single-page app fallback
      in.open(srv_.opts.static_dir + p, std::ios::binary);
      if (!in) return send_simple(404, "", "", keep_alive_, origin_, has_origin_);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string body = ss.str();
    if (body.size() > 8 * 1024 * 1024)
      return send_simple(404, "", "", keep_alive_, origin_, has_origin_);
    send_simple(200, std::move(body), mime_for(p), keep_alive_, origin_, has_origin_);
  }

 public:
  void send_simple(int status, std::string body, const std::string& ct, bool keep_alive,
                   const std::string& origin, bool has_origin, bool preflight = false) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), version_);
    res->set(http::field::server, "remote-control-relay");
    if (!ct.empty()) res->set(http::field::content_type, ct);
    if (!admin_) srv_.cors(*res, origin, has_origin);
    if (preflight) {
      res->set(http::field::access_control_allow_methods, "POST,OPTIONS");
      res->set(http::field::access_control_allow_headers, "content-type");
    }
    res->body() = std::move(body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->read_header();
                      });
  }

 private:
  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  server::impl& srv_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_ip_;
  bool admin_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  std::string origin_;
  bool has_origin_ = false;
  std::string path_;
};

void server::impl::do_accept(tcp::acceptor& acc, bool admin) {
  acc.async_accept(net::make_strand(ioc), [this, &acc, admin](beast::error_code ec,
                                                              tcp::socket sock) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acc.is_open()) return;
      log("warn", "accept failed", ",\"error\":\"" + json_escape(ec.message()) + "\"");
      // Back off briefly on resource exhaustion (EMFILE) instead of spinning.
      auto t = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(50));
      t->async_wait([this, &acc, admin, t](beast::error_code) {
        if (acc.is_open()) do_accept(acc, admin);
      });
      return;
    }
    if (!accepting.load() || ctr->ws_open.load() >= opts.max_connections) {
      beast::error_code ignored;
      sock.close(ignored);
    } else {
      beast::error_code e2;
      sock.set_option(tcp::no_delay(true), e2);
      auto ep = sock.remote_endpoint(e2);
      std::string ip = e2 ? std::string("unknown") : ep.address().to_string();
      if (tls && !admin) {
        auto s = std::make_shared<http_session<beast::ssl_stream<beast::tcp_stream>>>(
            *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *tls),
            ip, admin);
        beast::get_lowest_layer(s->stream()).expires_after(std::chrono::seconds(15));
        s->stream().async_handshake(ssl::stream_base::server, [s](beast::error_code hec) {
          if (!hec) s->start();
        });
      } else {
        std::make_shared<http_session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(sock)),
                                                          ip, admin)
            ->start();
      }
    }
    do_accept(acc, admin);
  });
}

server::server(options opts, hooks h, std::shared_ptr<counters> c)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(h), std::move(c))) {}

server::~server() {
  stop();
}

std::string server::bind() {
  auto& I = *impl_;
  if (!I.opts.tls_cert_file.empty() || !I.opts.tls_key_file.empty()) {
    I.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    I.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    I.tls->use_certificate_chain_file(I.opts.tls_cert_file, ec);
    if (ec) return "TLS_CERT_FILE could not be loaded: " + ec.message();
    I.tls->use_private_key_file(I.opts.tls_key_file, ssl::context::pem, ec);
    if (ec) return "TLS_KEY_FILE could not be loaded: " + ec.message();
  }
  auto open = [&](tcp::acceptor& acc, const std::string& host, uint16_t port, uint16_t& bound,
                  const char* what) -> std::string {
    beast::error_code ec;
    auto addr = net::ip::make_address(host, ec);
    if (ec) return std::string(what) + " host is not an IP address: " + host;
    tcp::endpoint ep(addr, port);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return std::string(what) + " could not listen on " + host + ":" + std::to_string(port) +
             ": " + ec.message();
    bound = acc.local_endpoint().port();
    return {};
  };
  if (auto e = open(I.acceptor, I.opts.host, I.opts.port, I.bound_port, "HOST/PORT"); !e.empty())
    return e;
  if (I.opts.admin_enabled)
    if (auto e = open(I.admin_acceptor, I.opts.admin_host, I.opts.admin_port, I.bound_admin_port,
                      "ADMIN_HOST/ADMIN_PORT");
        !e.empty())
      return e;
  return {};
}

uint16_t server::port() const {
  return impl_->bound_port;
}
uint16_t server::admin_port() const {
  return impl_->bound_admin_port;
}

void server::run() {
  auto& I = *impl_;
  I.do_accept(I.acceptor, false);
  if (I.admin_acceptor.is_open()) I.do_accept(I.admin_acceptor, true);
  for (std::size_t i = 1; i < I.opts.io_threads; ++i) I.threads.emplace_back([&I] { I.ioc.run(); });
  I.ioc.run();
  for (auto& t : I.threads)
    if (t.joinable()) t.join();
  I.threads.clear();
}

void server::stop_accepting() {
  auto& I = *impl_;
  I.accepting.store(false);
  net::post(I.ioc, [&I] {
    beast::error_code ec;
    I.acceptor.close(ec);
    I.admin_acceptor.close(ec);
  });
}

void server::stop() {
  if (impl_) impl_->ioc.stop();
}

}  // namespace rc::gw
