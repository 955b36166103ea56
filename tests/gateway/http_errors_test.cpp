// gateway/ errors that used to vanish (issue 10 item 9): a route that never answers its request
// gets a 500 that is logged and counted; the per-address connection count (MAX_CONNECTIONS_PER_IP)
// is bounded and released.
#define CAF_SUITE gateway_errors
#include "caf/test/unit_test.hpp"
#include "tests/gateway/fixture.hpp"

CAF_TEST(a dropped responder answers 500 and is logged and counted) {
  fixture f;
  std::vector<std::string> lines;
  f.answer = [](rc::gw::http_request&, std::shared_ptr<http_responder>) {};  // dropped
  f.share().log = [&lines](const std::string& l) { lines.push_back(l); };
  std::weak_ptr<void> session;
  auto client = f.serve(session);
  send_raw(client, request("GET", "/healthz?token=secret"));
  http::response<http::string_body> res;
  CAF_REQUIRE(read_response(f, client, res));
  CAF_CHECK_EQUAL(res.result_int(), 500u);
  CAF_CHECK_EQUAL(f.ctr->handler_errors.load(), 1u);
  CAF_REQUIRE_EQUAL(lines.size(), 1u);
  CAF_CHECK(lines[0].find("/healthz") != std::string::npos);
  CAF_CHECK(lines[0].find("secret") == std::string::npos);
}

CAF_TEST(per address counts stop at the limit and are released with the last handle) {
  ip_counts c;
  auto a = c.acquire("198.51.100.1", 2);
  auto b = c.acquire("198.51.100.1", 2);
  CAF_CHECK(a && b);
  CAF_CHECK(!c.acquire("198.51.100.1", 2));
  CAF_CHECK(c.acquire("198.51.100.2", 2));  // released at once: another address
  auto copy = a;                            // the websocket's copy of its HTTP unit
  a.reset();
  CAF_CHECK(!c.acquire("198.51.100.1", 2));
  copy.reset();
  CAF_CHECK(c.acquire("198.51.100.1", 2));
  b.reset();
  CAF_CHECK_EQUAL(c.addresses(), 0u);
  CAF_CHECK(c.acquire("198.51.100.1", 0));  // 0 = unbounded
}

CAF_TEST(a 204 or 304 answer with a body is sent without it instead of throwing) {
  for (int status : {204, 304}) {
    fixture f;
    f.answer = [status](rc::gw::http_request&, std::shared_ptr<http_responder> r) {
      r->respond(status, "{\"ok\":true}");
    };
    std::weak_ptr<void> session;
    auto client = f.serve(session);
    send_raw(client, request("GET", "/healthz"));
    http::response<http::string_body> res;
    CAF_REQUIRE(read_response(f, client, res));
    CAF_CHECK_EQUAL(res.result_int(), static_cast<unsigned>(status));
    CAF_CHECK(res.body().empty());
  }
}
