// protocol/url: URL, origin and websocket-URL normalisation, percent coding.
#include <string>

#include "fuzz_util.hpp"
#include "protocol/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto text = rc::fuzz::as_text(data, size);
  if (auto u = rc::proto::parse_url(text)) {
    (void)u->effective_port();
    // The origin of a parsed URL parses again to the same origin.
    auto o = u->origin();
    auto again = rc::proto::parse_url(o);
    RC_FUZZ_CHECK(again && again->origin() == o);
  }
  if (auto o = rc::proto::normalize_origin(text)) {
    auto again = rc::proto::normalize_origin(*o);
    RC_FUZZ_CHECK(again && *again == *o);  // idempotent
  }
  if (auto ws = rc::proto::normalize_ws_url(text)) {
    auto again = rc::proto::normalize_ws_url(*ws);
    RC_FUZZ_CHECK(again && *again == *ws);  // idempotent
    (void)rc::proto::http_origin_from_ws(*ws);
  }
  (void)rc::proto::ws_url_from_base(text);
  (void)rc::proto::http_origin_from_ws(text);
  auto enc = rc::proto::percent_encode(text);
  auto dec = rc::proto::percent_decode(enc);
  RC_FUZZ_CHECK(dec && *dec == text);  // round trip
  (void)rc::proto::percent_decode(text);
  return 0;
}
