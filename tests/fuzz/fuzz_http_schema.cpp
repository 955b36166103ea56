// protocol/http_schema: strict request bodies of the six API routes; first byte picks the route.
#include <string>

#include "fuzz_util.hpp"
#include "protocol/http_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto r = static_cast<rc::proto::route>(data[0] % 6);
  auto body = rc::fuzz::as_text(data + 1, size - 1);
  rc::proto::framework_error err{0, {}};
  auto q = rc::proto::parse_api_request(r, body, err);
  if (q) {
    RC_FUZZ_CHECK(q->r == r);
    (void)rc::proto::schema_version_ok(*q);
  } else {
    RC_FUZZ_CHECK(err.status >= 400 && err.status < 500 && !err.text.empty());
  }
  (void)rc::proto::is_json_content_type(body);
  return 0;
}
