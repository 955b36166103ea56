// Small helpers shared by the libFuzzer targets: input views and an always-on check that
// aborts (so libFuzzer records a crash) when a parser breaks one of its documented properties.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace rc::fuzz {

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at the first NUL byte: two independent inputs from one fuzz case.
inline std::pair<std::string_view, std::string_view> split2(std::string_view s) {
  auto p = s.find('\0');
  if (p == std::string_view::npos) return {s, {}};
  return {s.substr(0, p), s.substr(p + 1)};
}

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

#define RC_FUZZ_CHECK(cond)               \
  do {                                    \
    if (!(cond)) ::rc::fuzz::fail(#cond); \
  } while (0)

}  // namespace rc::fuzz
