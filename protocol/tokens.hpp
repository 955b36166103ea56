// High-entropy opaque tokens, strict format checks, constant-time comparison, log redaction.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rc::proto {

/// Entropy (bytes) of each identifier, per RELAY_PROTOCOL §2.
inline constexpr std::size_t session_id_bytes = 16;
inline constexpr std::size_t token_bytes = 32;
inline constexpr std::size_t device_id_bytes = 12;
inline constexpr std::size_t request_id_bytes = 10;
inline constexpr std::size_t connection_id_bytes = 10;

/// Minimum lengths accepted on input (RELAY_PROTOCOL §2); the maximum is always 512.
inline constexpr std::size_t min_session_id_len = 16;
inline constexpr std::size_t min_token_len = 22;
inline constexpr std::size_t min_device_id_len = 8;
inline constexpr std::size_t max_opaque_len = 512;

/// base64url without padding.
std::string base64url_encode(const unsigned char* data, std::size_t len);
std::optional<std::string> base64url_decode(std::string_view in);

/// CSPRNG bytes → base64url. Aborts the process if the CSPRNG fails (no weak fallback).
std::string random_token(std::size_t bytes);

/// `^[A-Za-z0-9_-]{min,512}$`
bool is_opaque(std::string_view s, std::size_t min_len, std::size_t max_len = max_opaque_len);

/// `^[A-Za-z0-9_:-]{1,128}$` (commandID, threadID, projectID, optionID).
bool is_compact_id(std::string_view s);

/// Equal lengths compared in constant time; different lengths are unequal.
bool constant_time_equal(std::string_view a, std::string_view b);

/// Session ids in logs: `first6...last4` when ≥ 10 chars, else `***`.
std::string redact_id(std::string_view id);

/// A secret that can never be printed by accident: it has no stream operator and
/// `redacted()` is the only textual form meant for logs.
class secret {
 public:
  secret() = default;
  explicit secret(std::string v) : value_(std::move(v)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::string redacted() const { return "[REDACTED]"; }
  bool operator==(const secret& other) const { return constant_time_equal(value_, other.value_); }

 private:
  std::string value_;
};

}  // namespace rc::proto
