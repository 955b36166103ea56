#include "protocol/tokens.hpp"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace rc::proto {

namespace {
constexpr char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool opaque_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}
}  // namespace

std::string base64url_encode(const unsigned char* data, std::size_t len) {
  std::string out;
  out.reserve((len * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
    out += b64url[(v >> 6) & 63];
    out += b64url[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += b64url[(v >> 18) & 63];
    out += b64url[(v >> 12) & 63];
    out += b64url[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Canonical encodings only: the unused low bits of the last character must be zero, so that
  // every byte string has exactly one accepted encoding (RFC 4648 §3.5).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string random_token(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
    std::fputs("{\"level\":\"fatal\",\"msg\":\"CSPRNG failure\"}\n", stderr);
    std::abort();
  }
  return base64url_encode(buf.data(), buf.size());
}

bool is_opaque(std::string_view s, std::size_t min_len, std::size_t max_len) {
  if (s.size() < min_len || s.size() > max_len) return false;
  for (char c : s)
    if (!opaque_char(c)) return false;
  return true;
}

bool is_compact_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!opaque_char(c) && c != ':') return false;
  return true;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char acc = 0;
  for (std::size_t i = 0; i < a.size(); ++i) acc = acc | static_cast<unsigned char>(a[i] ^ b[i]);
  return acc == 0;
}

std::string redact_id(std::string_view id) {
  if (id.size() < 10) return "***";
  std::string out(id.substr(0, 6));
  out += "...";
  out += id.substr(id.size() - 4);
  return out;
}

}  // namespace rc::proto
