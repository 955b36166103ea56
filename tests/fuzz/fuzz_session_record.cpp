// persistence/session_record: §4.2 records as read back from Redis; what parses round-trips.
#include <string>

#include "fuzz_util.hpp"
#include "persistence/session_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto r = rc::persistence::from_json(rc::fuzz::as_text(data, size));
  if (!r) {
    RC_FUZZ_CHECK(!r.error.empty());
    return 0;
  }
  auto text = rc::persistence::to_json(*r.value);
  auto again = rc::persistence::from_json(text);
  RC_FUZZ_CHECK(again.ok());
  RC_FUZZ_CHECK(rc::persistence::to_json(*again.value) == text);
  return 0;
}
