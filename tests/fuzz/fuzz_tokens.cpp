// protocol/tokens: base64url, opaque/compact id syntax, constant-time compare, redaction.
#include <string>

#include "fuzz_util.hpp"
#include "protocol/tokens.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto text = rc::fuzz::as_text(data, size);
  auto enc = rc::proto::base64url_encode(data, size);
  auto dec = rc::proto::base64url_decode(enc);
  RC_FUZZ_CHECK(dec && *dec == text);  // round trip
  RC_FUZZ_CHECK(rc::proto::is_opaque(enc, 0, enc.size() + 1) || enc.empty());
  if (auto d = rc::proto::base64url_decode(text))
    RC_FUZZ_CHECK(rc::proto::base64url_encode(reinterpret_cast<const unsigned char*>(d->data()),
                                              d->size()) == text);
  bool opaque = rc::proto::is_opaque(text, rc::proto::min_token_len);
  if (opaque) RC_FUZZ_CHECK(text.size() >= rc::proto::min_token_len && text.size() <= 512);
  (void)rc::proto::is_compact_id(text);
  auto [a, b] = rc::fuzz::split2(text);
  RC_FUZZ_CHECK(rc::proto::constant_time_equal(a, b) == (a == b));
  auto red = rc::proto::redact_id(text);
  RC_FUZZ_CHECK(text.size() < 10 || red.size() <= 13);
  return 0;
}
