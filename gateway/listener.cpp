// The listeners: accept loop (connection cap, EMFILE back-off), TLS context, bind, io threads.
// Each accepted connection becomes an http_session (plain or TLS). Beast only, no CAF.
#include "gateway/listener.hpp"

#include <thread>
#include <vector>

#include "gateway/beast.hpp"
#include "gateway/http_session.hpp"

namespace rc::gw {

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

}  // namespace

struct listener::impl {
  const settings::relay_config& cfg;
  log_sink log_line;
  std::shared_ptr<ws_bridge> bridge;
  http_shared shared;
  net::io_context ioc;
  std::unique_ptr<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  tcp::acceptor admin_acceptor{ioc};
  uint16_t bound_port = 0;
  uint16_t bound_admin_port = 0;
  std::atomic<bool> accepting{true};
  std::vector<std::thread> threads;

  impl(const settings::relay_config& c, std::shared_ptr<counters> ctr, http_handler on_http,
       log_sink log, std::shared_ptr<ws_bridge> b)
      : cfg(c),
        log_line(std::move(log)),
        bridge(std::move(b)),
        shared{c, std::move(ctr), std::move(on_http), bridge.get(), log_line} {}

  void log(const std::string& level, const std::string& msg, const std::string& extra = "") {
    if (log_line)
      log_line("{\"level\":\"" + level + "\",\"component\":\"gateway\",\"msg\":\"" +
               json_escape(msg) + "\"" + extra + "}");
  }

  void do_accept(tcp::acceptor& acc, bool admin);
};

void listener::impl::do_accept(tcp::acceptor& acc, bool admin) {
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
    // Every connection of the main listener (HTTP or websocket) counts against the cap; the
    // admin listener is not subject to it, so an operator can still reach a full node.
    if (!accepting.load() || (!admin && shared.open_connections() >= cfg.max_open_connections)) {
      beast::error_code ignored;
      sock.close(ignored);
    } else {
      beast::error_code e2;
      sock.set_option(tcp::no_delay(true), e2);
      auto ep = sock.remote_endpoint(e2);
      std::string ip = e2 ? std::string("unknown") : ep.address().to_string();
      // MAX_CONNECTIONS_PER_IP, counted here where the connection count lives: one unit per
      // connection, held by its HTTP session and then by the websocket it becomes.
      std::shared_ptr<void> slot;
      if (!admin && !cfg.trust_proxy) {
        slot = shared.per_ip.acquire(ip, cfg.max_connections_per_ip);
        if (!slot) {
          shared.ctr->per_ip_refused.fetch_add(1, std::memory_order_relaxed);
          beast::error_code ignored;
          sock.close(ignored);
          return do_accept(acc, admin);
        }
      }
      if (tls && !admin) {
        auto s = std::make_shared<http_session<beast::ssl_stream<beast::tcp_stream>>>(
            shared, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *tls),
            ip, admin);
        s->hold_ip_slot(std::move(slot));
        beast::get_lowest_layer(s->stream()).expires_after(std::chrono::seconds(15));
        s->stream().async_handshake(ssl::stream_base::server, [this, s](beast::error_code hec) {
          if (!hec) return s->start();
          // Counted; logged once and then every 1000th (scanners fail handshakes all day).
          auto n = shared.ctr->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed) + 1;
          if (n == 1 || n % 1000 == 0)
            log("warn", "TLS handshake failed",
                ",\"error\":\"" + json_escape(hec.message()) +
                    "\",\"failures\":" + std::to_string(n));
        });
      } else {
        auto s = std::make_shared<http_session<beast::tcp_stream>>(
            shared, beast::tcp_stream(std::move(sock)), ip, admin);
        s->hold_ip_slot(std::move(slot));
        s->start();
      }
    }
    do_accept(acc, admin);
  });
}

listener::listener(const settings::relay_config& cfg, std::shared_ptr<counters> ctr,
                   http_handler on_http, log_sink log, std::shared_ptr<ws_bridge> bridge)
    : impl_(std::make_unique<impl>(cfg, std::move(ctr), std::move(on_http), std::move(log),
                                   std::move(bridge))) {}

listener::~listener() {
  stop();
}

std::string listener::bind() {
  auto& I = *impl_;
  if (!I.cfg.tls_cert_file.empty() || !I.cfg.tls_key_file.empty()) {
    I.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    I.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    I.tls->use_certificate_chain_file(I.cfg.tls_cert_file, ec);
    if (ec) return "TLS_CERT_FILE could not be loaded: " + ec.message();
    I.tls->use_private_key_file(I.cfg.tls_key_file, ssl::context::pem, ec);
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
  if (auto e = open(I.acceptor, I.cfg.host, I.cfg.port, I.bound_port, "HOST/PORT"); !e.empty())
    return e;
  if (!I.cfg.admin_token.empty())  // ADMIN_PORT 0 = an ephemeral port
    if (auto e = open(I.admin_acceptor, I.cfg.admin_host, I.cfg.admin_port, I.bound_admin_port,
                      "ADMIN_HOST/ADMIN_PORT");
        !e.empty())
      return e;
  return {};
}

uint16_t listener::port() const {
  return impl_->bound_port;
}
uint16_t listener::admin_port() const {
  return impl_->bound_admin_port;
}

void listener::run() {
  auto& I = *impl_;
  I.do_accept(I.acceptor, false);
  if (I.admin_acceptor.is_open()) I.do_accept(I.admin_acceptor, true);
  for (std::size_t i = 1; i < I.cfg.io_threads; ++i) I.threads.emplace_back([&I] { I.ioc.run(); });
  I.ioc.run();
  for (auto& t : I.threads)
    if (t.joinable()) t.join();
  I.threads.clear();
}

void listener::stop_accepting() {
  auto& I = *impl_;
  I.accepting.store(false);
  net::post(I.ioc, [&I] {
    beast::error_code ec;
    I.acceptor.close(ec);
    I.admin_acceptor.close(ec);
  });
}

uint64_t listener::draining_sockets() const {
  auto& S = impl_->shared;
  return S.ctr->ws_open.load() + S.http_busy.load();
}

void listener::stop() {
  if (impl_) impl_->ioc.stop();
}

}  // namespace rc::gw
