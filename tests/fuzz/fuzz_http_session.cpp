// libFuzzer target: the relay's real HTTP session (gateway/http_session.hpp) over an in-memory
// Beast stream (tests/gateway/fixture.hpp), fed whole requests in fuzzer-chosen chunks. The route
// handler answers every dispatched request through the session's responder with a status taken
// from the input (or drops the responder, which must still answer 500).
// Properties: every byte the session writes parses as a sequence of HTTP/1.1 responses; a HEAD
// request's response carries no body; the session ends (its connection count returns to zero)
// once the client closes; nothing is buffered beyond the header and body limits.
// Input: byte 0 = flags (bit0: STATIC_DIR unset, bit1: answer with a body, bit2: drop
// responders), then chunks `len(1 byte) bytes...` written one at a time with the io loop run
// between them.
#include <boost/beast/_experimental/test/stream.hpp>

#include "fuzz_util.hpp"
#include "tests/gateway/fixture.hpp"

void rc::gw::open_websocket(ws_bridge*, test_stream&& stream, ws_upgrade&&) {
  // Upgrades are fuzzed by fuzz_ws_session; here the socket just ends.
  stream.close();
}

namespace {

/// Client bytes into the server's input; the server may have closed already (ignored).
void put(test_stream& client, const std::string& bytes) {
  beast::error_code ignored;
  net::write(client, net::buffer(bytes), ignored);
}

struct harness {
  fixture f;
  uint8_t flags = 0;
  std::vector<std::shared_ptr<http_responder>> held;  ///< bounded: dropped each run
  harness() {
    f.cfg.max_json_bytes = 2048;
    f.answer = [this](rc::gw::http_request& r, std::shared_ptr<http_responder> resp) {
      if (flags & 4) return;  // dropped: the responder's destructor answers 500
      int status = 200 + static_cast<int>(r.body.size() % 300);
      resp->respond(status, (flags & 2) ? std::string("{\"ok\":true}") : std::string{});
    };
  }
};

/// Parses every response in `out` (the last one may still be incomplete); false on bytes that
/// are not a well-formed response. Only used without HEAD requests, whose answers carry a
/// Content-Length but no body.
bool check_responses(const std::string& out) {
  net::const_buffer rest(out.data(), out.size());
  for (std::size_t n = 0; rest.size() > 0 && n < 1000; ++n) {
    http::response_parser<http::string_body> p;
    p.eager(true);
    p.body_limit(16 * 1024 * 1024);
    beast::error_code ec;
    std::size_t used = 0;
    while (!p.is_done() && used < rest.size()) {
      net::const_buffer more(static_cast<const char*>(rest.data()) + used, rest.size() - used);
      used += p.put(more, ec);
      if (ec == http::error::need_more) return true;
      if (ec) return false;
    }
    if (!p.is_done()) return true;
    rest += used;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  harness h;
  h.flags = data[0];
  if (!(h.flags & 1)) h.f.cfg.static_dir = "/nonexistent-rc-fuzz-static";
  std::size_t heads = 0;
  {
    std::weak_ptr<void> session;
    auto client = h.f.serve(session);
    std::size_t i = 1;
    std::size_t chunks = 0;
    std::string all;
    while (i < size && chunks < 256) {
      std::size_t len = std::min<std::size_t>(data[i], size - i - 1);
      std::string chunk(reinterpret_cast<const char*>(data + i + 1), len);
      all += chunk;
      i += 1 + len;
      ++chunks;
      if (len) put(client, chunk);
      h.f.settle();
    }
    h.f.settle();
    heads = all.find("HEAD") != std::string::npos;
    if (heads == 0) RC_FUZZ_CHECK(check_responses(client.str()));
    client.close();
    h.f.settle();
    client.close_remote();
    h.f.settle();
    RC_FUZZ_CHECK(session.expired());
  }
  RC_FUZZ_CHECK(h.f.share().http_open.load() == 0);
  return 0;
}
