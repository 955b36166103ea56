// protocol/time: strict RFC 3339 parsing; what parses formats and parses back to the same instant.
#include <string>

#include "fuzz_util.hpp"
#include "protocol/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto text = rc::fuzz::as_text(data, size);
  auto ms = rc::proto::parse_rfc3339(text);
  if (!ms) return 0;
  auto back = rc::proto::parse_rfc3339(rc::proto::format_rfc3339_ms(*ms));
  RC_FUZZ_CHECK(back && *back == *ms);
  auto secs = rc::proto::parse_rfc3339(rc::proto::format_rfc3339_seconds_z(*ms));
  RC_FUZZ_CHECK(secs && *secs <= *ms && *ms - *secs < 1000);
  return 0;
}
