// Helpers shared by the bench forwarders (rc-bare-forwarder, rc-floor-forwarder). Header-only.
#pragma once

#include <cstddef>
#include <random>
#include <string>

namespace forwarder {

// Random base64url-alphabet token of about `bytes` bytes of entropy (bench ids; not a CSPRNG).
inline std::string random_token(std::size_t bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  std::size_t chars = (bytes * 4 + 2) / 3;
  out.reserve(chars);
  for (std::size_t i = 0; i < chars; ++i) out.push_back(alphabet[rng() & 63]);
  return out;
}

}  // namespace forwarder
