// persistence/redis_url: REDIS_URL parsing and redaction (a password never survives redaction).
#include <string>

#include "fuzz_util.hpp"
#include "persistence/redis_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto text = rc::fuzz::as_text(data, size);
  (void)rc::persistence::redact_url(text);
  auto u = rc::persistence::parse_redis_url(text);
  if (!u) {
    RC_FUZZ_CHECK(!u.error.empty());
    // The error never echoes the input (the fixed messages contain no '@', credentials do).
    if (text.size() >= 8 && text.find('@') != std::string_view::npos)
      RC_FUZZ_CHECK(u.error.find(text) == std::string::npos);
    return 0;
  }
  RC_FUZZ_CHECK(!u.value->host.empty());
  // The password never survives redaction, unless the same text is there without it anyway
  // (e.g. password "//**" inside "redis://***@", or "6379" inside ":6379").
  const auto& pw = u.value->password;
  auto without = *u.value;
  without.password.clear();
  // redact_url keeps the scheme as written ("Redis://") and everything from the last '@' on.
  auto sep = text.find("://");
  auto at = text.rfind('@');
  auto baseline = without.redacted() + rc::persistence::redact_url("redis://" + without.host) +
                  "\n" + std::string(text.substr(0, sep == std::string_view::npos ? 0 : sep + 3)) +
                  "\n" +
                  std::string(at == std::string_view::npos ? std::string_view{} : text.substr(at));
  bool coincidental = pw.empty() || baseline.find(pw) != std::string::npos ||
                      std::string("redis://***@").find(pw) != std::string::npos;
  if (pw.size() >= 4 && !coincidental && pw.find_first_of("*@:/") == std::string::npos) {
    RC_FUZZ_CHECK(u.value->redacted().find(pw) == std::string::npos);
    RC_FUZZ_CHECK(rc::persistence::redact_url(text).find(pw) == std::string::npos);
  }
  return 0;
}
