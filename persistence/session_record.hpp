#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/result.hpp"

namespace rc::persistence {

/// The only record schema this library reads or writes (CONFIG_REFERENCE §4.2).
inline constexpr int record_schema_version = 1;

/// Records larger than this are rejected by from_json (bounds memory on load).
inline constexpr std::size_t max_record_bytes = 1024 * 1024;

/// A rotated-out device token that stays valid until `expires_at_ms` (grace window).
struct retired_token {
  std::string token;
  std::int64_t expires_at_ms = 0;
};

/// One trusted device of a session.
struct device_record {
  std::string current_session_token;
  std::vector<retired_token> retired_session_tokens;  ///< may be absent in JSON (= empty)
  std::string name;
  std::int64_t joined_at_ms = 0;
  std::int64_t last_seen_at_ms = 0;
};

/// Persisted metadata of one pairing session. All times are Unix epoch milliseconds.
/// Tokens are stored in clear text (reference format): never log a record.
struct session_record {
  std::string session_id;
  std::string join_token;
  std::int64_t join_token_expires_at_ms = 0;
  std::optional<std::int64_t> join_token_used_at_ms;  ///< null until the join token is used
  std::string desktop_session_token;
  std::string relay_web_socket_url;
  std::uint64_t idle_timeout_seconds = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t last_activity_at_ms = 0;
  std::map<std::string, device_record> devices;  ///< device id -> device
};

bool operator==(const retired_token& a, const retired_token& b);
bool operator==(const device_record& a, const device_record& b);
bool operator==(const session_record& a, const session_record& b);
inline bool operator!=(const retired_token& a, const retired_token& b) {
  return !(a == b);
}
inline bool operator!=(const device_record& a, const device_record& b) {
  return !(a == b);
}
inline bool operator!=(const session_record& a, const session_record& b) {
  return !(a == b);
}

/// Three-way merge for a compare-and-set conflict: `base` is the stored copy a writer started
/// from, `mine` its new copy, `theirs` what another writer stored meanwhile. A field changed in
/// `mine` (differs from `base`) wins, otherwise `theirs` is kept. Devices: added on either
/// side kept; removed on either side removed (revoke wins); changed in both: `mine`.
/// last_activity_at_ms is the maximum. The session id is `theirs`'s.
session_record merge3(const session_record& base, const session_record& mine,
                      const session_record& theirs);

/// Serialises `rec` as the compact §4.2 JSON document (schema_version 1, snake_case keys, the
/// documented key order). Never throws; invalid UTF-8 in strings is replaced by U+FFFD.
std::string to_json(const session_record& rec);

/// Parses a §4.2 record. Fails (never throws) on unparsable JSON, a schema_version other than
/// 1, missing or mistyped fields, negative times, an empty session id or input larger than
/// max_record_bytes. Unknown keys are ignored; `join_token_used_at_ms` may be null or absent;
/// `retired_session_tokens` may be absent.
result<session_record> from_json(std::string_view json);

}  // namespace rc::persistence
