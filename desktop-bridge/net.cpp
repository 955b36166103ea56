// The bridge's only Beast/Asio translation unit (no CAF here). One io thread runs everything,
// so all handlers are implicitly serialised.
#include "desktop-bridge/net.hpp"

#include <deque>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "protocol/url.hpp"

namespace rc::bridge::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct io_service::impl {
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  ssl::context push_tls{ssl::context::tls_client};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  std::thread thread;
  bool stopped = false;

  impl(const std::string& ca_file, const std::string& push_ca_file) {
    for (auto [ctx, file] : {std::pair{&tls, &ca_file}, std::pair{&push_tls, &push_ca_file}}) {
      ctx->set_verify_mode(ssl::verify_peer);
      if (!file->empty())
        ctx->load_verify_file(*file);
      else
        ctx->set_default_verify_paths();
    }
    thread = std::thread([this] { ioc.run(); });
  }
  void stop() {
    if (stopped) return;
    stopped = true;
    guard.reset();
    ioc.stop();
    if (thread.joinable()) thread.join();
  }
  ~impl() { stop(); }
};

namespace {

struct target {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string path;  // with query
};

bool parse_target(const std::string& s, target& t) {
  auto u = rc::proto::parse_url(s);
  if (!u) return false;
  if (u->scheme == "https" || u->scheme == "wss")
    t.tls = true;
  else if (u->scheme == "http" || u->scheme == "ws")
    t.tls = false;
  else
    return false;
  t.host = u->host;
  if (!t.host.empty() && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = std::to_string(u->effective_port());
  t.host_header = u->host + (u->port ? ":" + std::to_string(u->port) : std::string());
  t.path = u->path.empty() ? "/" : u->path;
  if (!u->query.empty()) t.path += "?" + u->query;
  return true;
}

// ---- HTTP --------------------------------------------------------------------------------------

template <class Stream>
struct http_op : std::enable_shared_from_this<http_op<Stream>> {
  Stream stream;
  tcp::resolver resolver;
  target t;
  http::request<http::string_body> req;
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  std::function<void(http_response)> cb;
  std::chrono::milliseconds timeout;

  template <class... Args>
  http_op(asio::io_context& ioc, Args&&... args)
      : stream(std::forward<Args>(args)...), resolver(ioc) {
    parser.body_limit(1024 * 1024);
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }

  void fail(const std::string& what, beast::error_code ec) {
    if (!cb) return;
    auto c = std::move(cb);
    cb = nullptr;
    http_response r;
    r.error = what + ": " + ec.message();
    c(std::move(r));
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void run() {
    auto self = this->shared_from_this();
    lowest().expires_after(timeout);
    resolver.async_resolve(t.host, t.port, [self](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) return self->fail("resolve", ec);
      self->lowest().async_connect(r, [self](beast::error_code ec2, const tcp::endpoint&) {
        if (ec2) return self->fail("connect", ec2);
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
          self->write();
        } else {
          if (!SSL_set_tlsext_host_name(self->stream.native_handle(), self->t.host.c_str()))
            return self->fail("sni", beast::error_code(static_cast<int>(::ERR_get_error()),
                                                        asio::error::get_ssl_category()));
          self->stream.set_verify_callback(ssl::host_name_verification(self->t.host));
          self->stream.async_handshake(ssl::stream_base::client, [self](beast::error_code ec3) {
            if (ec3) return self->fail("tls handshake", ec3);
            self->write();
          });
        }
      });
    });
  }

  void write() {
    auto self = this->shared_from_this();
    http::async_write(stream, req, [self](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("write", ec);
      http::async_read(self->stream, self->buf, self->parser, [self](beast::error_code ec2, std::size_t) {
        if (ec2) return self->fail("read", ec2);
        if (!self->cb) return;
        auto c = std::move(self->cb);
        self->cb = nullptr;
        http_response r;
        auto& res = self->parser.get();
        r.status = static_cast<int>(res.result_int());
        r.body = res.body();
        if (auto ra = res.find(http::field::retry_after); ra != res.end())
          r.retry_after = std::string(ra->value().substr(0, 64));
        c(std::move(r));
        beast::error_code ignored;
        self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    });
  }
};

// ---- WebSocket ---------------------------------------------------------------------------------

template <class Stream>
struct ws_session : ws_connection, std::enable_shared_from_this<ws_session<Stream>> {
  asio::io_context& ioc;
  websocket::stream<Stream> ws;
  tcp::resolver resolver;
  target t;
  ws_handlers h;
  beast::flat_buffer buf;
  std::deque<std::string> outq;
  bool open = false;
  bool closed = false;
  bool closing = false;

  template <class... Args>
  ws_session(asio::io_context& io, Args&&... args)
      : ioc(io), ws(std::forward<Args>(args)...), resolver(io) {}

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(ws); }

  void finish(int code, std::string reason) {
    if (closed) return;
    closed = true;
    open = false;
    outq.clear();
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
    if (h.on_close) h.on_close(code, std::move(reason));
    h = {};
  }

  void run() {
    auto self = this->shared_from_this();
    lowest().expires_after(std::chrono::seconds(15));
    resolver.async_resolve(t.host, t.port, [self](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) return self->finish(1006, "resolve: " + ec.message());
      self->lowest().async_connect(r, [self](beast::error_code ec2, const tcp::endpoint&) {
        if (ec2) return self->finish(1006, "connect: " + ec2.message());
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
          self->handshake();
        } else {
          auto& s = self->ws.next_layer();
          if (!SSL_set_tlsext_host_name(s.native_handle(), self->t.host.c_str()))
            return self->finish(1006, "tls: SNI failed");
          s.set_verify_callback(ssl::host_name_verification(self->t.host));
          s.async_handshake(ssl::stream_base::client, [self](beast::error_code ec3) {
            if (ec3) return self->finish(1006, "tls handshake: " + ec3.message());
            self->handshake();
          });
        }
      });
    });
  }

  void handshake() {
    auto self = this->shared_from_this();
    lowest().expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = std::chrono::seconds(15);
    to.idle_timeout = std::chrono::seconds(75);
    to.keep_alive_pings = true;
    ws.set_option(to);
    ws.read_message_max(8 * 1024 * 1024);
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
      r.set(http::field::user_agent, "rc-desktop-bridge/1");
    }));
    ws.async_handshake(t.host_header, t.path, [self](beast::error_code ec) {
      if (ec) return self->finish(1006, "handshake: " + ec.message());
      if (self->closing) return self->finish(1000, "closed");
      self->open = true;
      if (self->h.on_open) self->h.on_open();
      self->read();
      self->flush();
    });
  }

  void read() {
    auto self = this->shared_from_this();
    ws.async_read(buf, [self](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == websocket::error::closed) {
          auto r = self->ws.reason();
          return self->finish(static_cast<int>(r.code), std::string(r.reason.data(), r.reason.size()));
        }
        return self->finish(1006, ec.message());
      }
      std::string text = beast::buffers_to_string(self->buf.data());
      self->buf.consume(self->buf.size());
      if (self->h.on_text) self->h.on_text(std::move(text));
      if (!self->closed) self->read();
    });
  }

  void flush() {
    if (!open || closed || outq.empty()) return;
    auto self = this->shared_from_this();
    ws.text(true);
    ws.async_write(asio::buffer(outq.front()), [self](beast::error_code ec, std::size_t) {
      if (ec) return self->finish(1006, "write: " + ec.message());
      self->outq.pop_front();
      self->flush();
    });
  }

  void send(std::string text) override {
    auto self = this->shared_from_this();
    asio::post(ioc, [self, text = std::move(text)]() mutable {
      if (self->closed) return;
      bool idle = self->outq.empty();
      if (self->outq.size() >= 1024) return self->finish(1006, "outbound queue full");
      self->outq.push_back(std::move(text));
      if (idle) self->flush();
    });
  }

  void close() override {
    auto self = this->shared_from_this();
    asio::post(ioc, [self] {
      if (self->closed) return;
      self->closing = true;
      if (!self->open) {
        beast::error_code ignored;
        self->lowest().socket().cancel(ignored);
        return self->finish(1000, "closed");
      }
      self->ws.async_close(websocket::close_code::normal, [self](beast::error_code) {
        self->finish(1000, "closed");
      });
    });
  }
};

}  // namespace

io_service::io_service(std::string ca_file, std::string push_ca_file)
    : p_(std::make_unique<impl>(ca_file, push_ca_file)) {}
io_service::~io_service() = default;

void io_service::stop() { p_->stop(); }

void io_service::http_post(const std::string& url, std::string body, int timeout_ms,
                           std::function<void(http_response)> cb) {
  target t;
  if (!parse_target(url, t)) {
    http_response r;
    r.error = "invalid url";
    cb(std::move(r));
    return;
  }
  auto setup = [&](auto op) {
    op->t = t;
    op->cb = std::move(cb);
    op->timeout = std::chrono::milliseconds(timeout_ms);
    op->req = http::request<http::string_body>(http::verb::post, t.path, 11);
    op->req.set(http::field::host, t.host_header);
    op->req.set(http::field::user_agent, "rc-desktop-bridge/1");
    op->req.set(http::field::content_type, "application/json");
    op->req.body() = std::move(body);
    op->req.prepare_payload();
    asio::post(p_->ioc, [op] { op->run(); });
  };
  if (t.tls)
    setup(std::make_shared<http_op<beast::ssl_stream<beast::tcp_stream>>>(p_->ioc, p_->ioc, p_->tls));
  else
    setup(std::make_shared<http_op<beast::tcp_stream>>(p_->ioc, p_->ioc));
}

void io_service::push_post(http_request req, std::function<void(http_response)> cb) {
  target t;
  if (!parse_target(req.url, t) || !t.tls) {
    http_response r;
    r.error = "not an https url";
    cb(std::move(r));
    return;
  }
  auto op = std::make_shared<http_op<beast::ssl_stream<beast::tcp_stream>>>(p_->ioc, p_->ioc,
                                                                           p_->push_tls);
  op->t = t;
  op->cb = std::move(cb);
  op->timeout = std::chrono::milliseconds(req.timeout_ms);
  op->req = http::request<http::string_body>(http::verb::post, t.path, 11);
  op->req.set(http::field::host, t.host_header);
  op->req.set(http::field::user_agent, "rc-desktop-bridge/1");
  op->req.set(http::field::content_type, req.content_type);
  for (auto& [k, v] : req.headers) op->req.set(k, v);
  op->req.body() = std::move(req.body);
  op->req.prepare_payload();
  asio::post(p_->ioc, [op] { op->run(); });
}

std::shared_ptr<ws_connection> io_service::ws_connect(const std::string& url, ws_handlers h) {
  target t;
  if (!parse_target(url, t)) {
    if (h.on_close) h.on_close(1006, "invalid url");
    return nullptr;
  }
  auto setup = [&](auto s) -> std::shared_ptr<ws_connection> {
    s->t = t;
    s->h = std::move(h);
    asio::post(p_->ioc, [s] { s->run(); });
    return s;
  };
  if (t.tls)
    return setup(std::make_shared<ws_session<beast::ssl_stream<beast::tcp_stream>>>(p_->ioc, p_->ioc, p_->tls));
  return setup(std::make_shared<ws_session<beast::tcp_stream>>(p_->ioc, p_->ioc));
}

}  // namespace rc::bridge::net
