#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "persistence/result.hpp"

namespace rc::persistence {

/// The only envelope schema this library reads or writes (CONFIG_REFERENCE §5.3).
inline constexpr int envelope_schema_version = 1;

/// Default bound for decode(): NATS' default max_payload.
inline constexpr std::size_t max_envelope_bytes = 1024 * 1024;

/// A message on the NATS bus (§5.3).
struct bus_envelope {
  int schema_version = envelope_schema_version;
  std::string session_id;
  std::string source_instance_id;
  std::string target;                           ///< desktop | mobile | control kind
  std::optional<std::string> target_device_id;  ///< only for targeted revokes
  std::string payload;                          ///< the exact WebSocket text
  std::int64_t issued_at_ms = 0;
  std::string nonce;      ///< [A-Za-z0-9_-]{8,512}
  std::string signature;  ///< base64url(HMAC-SHA256), no padding; empty = unsigned
};

/// The byte-exact compact JSON that is signed: keys schema_version, session_id,
/// source_instance_id, target, target_device_id (null when absent), payload, issued_at_ms,
/// nonce in this order; '"', '\' and control characters escaped (\b \f \n \r \t, others
/// \u00xx lower-case), '/' and non-ASCII verbatim. Fails on invalid UTF-8.
result<std::string> signing_string(const bus_envelope& env);

/// HMAC-SHA256 of signing_string(env) with the secret's bytes, base64url without padding.
/// Fails on an empty secret or invalid UTF-8.
result<std::string> sign(const bus_envelope& env, std::string_view secret);

/// True iff env.signature equals sign(env, secret) (constant-time compare). False for an
/// empty secret or signature.
bool verify(const bus_envelope& env, std::string_view secret);

/// Wire JSON: the signing-string object plus "signature" (omitted when empty).
result<std::string> encode(const bus_envelope& env);

/// Signs `env` with `secret` (when non-empty) and encodes it.
result<std::string> encode_signed(bus_envelope env, std::string_view secret);

/// Parses wire JSON. Fails on bad JSON, missing or mistyped fields, or more than max_bytes.
/// Any integer schema_version is accepted here (checked by accept_inbound).
result<bus_envelope> decode(std::string_view wire, std::size_t max_bytes = max_envelope_bytes);

/// base64url without padding.
std::string base64url_encode(std::string_view bytes);

/// `bytes` random bytes (OpenSSL RAND_bytes) as base64url: 10 bytes give the 14-character
/// instance ids and nonces of the reference.
result<std::string> random_id(std::size_t bytes = 10);

/// Why an inbound envelope was accepted or dropped.
enum class envelope_verdict {
  accepted,
  malformed,           ///< not JSON, wrong field types, or too large
  bad_schema_version,  ///< schema_version != 1
  bad_signature,       ///< missing or wrong signature while a secret is configured
  own_message,         ///< source_instance_id is our own id
  bad_source,          ///< empty or over-long source_instance_id
  bad_issued_at,       ///< issued_at_ms <= 0
  from_future,         ///< issued_at_ms > now + max clock skew
  too_old,             ///< now - issued_at_ms > replay window
  bad_nonce,           ///< nonce does not match [A-Za-z0-9_-]{8,512}
  replayed,            ///< source:nonce already seen
};

/// Stable lower-case name ("accepted", "bad_signature", ...).
const char* to_string(envelope_verdict v) noexcept;

struct replay_limits {
  std::int64_t window_ms = 120'000;         ///< NATS_REPLAY_WINDOW_MS
  std::int64_t max_clock_skew_ms = 30'000;  ///< NATS_MAX_CLOCK_SKEW_MS
  std::size_t max_entries = 100'000;        ///< hard bound of the nonce cache
};

/// Replay protection of §5.3: time checks, nonce syntax, and a bounded cache of seen
/// `source:nonce` keys kept until issued_at_ms + window + skew. When full, the entry that
/// expires first (the oldest) is evicted. Time is passed in, so tests need no clock.
/// Not thread-safe (own it from the receiving actor).
class replay_guard {
 public:
  explicit replay_guard(replay_limits limits = {});

  /// Runs the checks and, if they pass, remembers the key. Returns accepted or the reason.
  envelope_verdict check(std::string_view source_instance_id, std::string_view nonce,
                         std::int64_t issued_at_ms, std::int64_t now_ms);

  std::size_t size() const noexcept { return expiry_of_.size(); }
  std::uint64_t evictions() const noexcept { return evictions_; }
  const replay_limits& limits() const noexcept { return limits_; }

 private:
  void prune(std::int64_t now_ms);

  replay_limits limits_;
  std::unordered_map<std::string, std::int64_t> expiry_of_;  // key -> expires_at_ms
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;
  std::uint64_t evictions_ = 0;
};

/// True iff `nonce` matches ^[A-Za-z0-9_-]{8,512}$.
bool valid_nonce(std::string_view nonce) noexcept;

/// Longest accepted source_instance_id (the reference uses 14 characters).
inline constexpr std::size_t max_instance_id_length = 128;

struct inbound_result {
  envelope_verdict verdict = envelope_verdict::malformed;
  bus_envelope envelope;  ///< meaningful when verdict == accepted
};

/// All receiver checks of §5.3 in order: parse, schema_version, signature (when `secret` is
/// non-empty), own id, then (when `secret` is non-empty) the replay guard.
inbound_result accept_inbound(std::string_view wire, std::string_view secret,
                              std::string_view own_instance_id, replay_guard& guard,
                              std::int64_t now_ms);

}  // namespace rc::persistence
