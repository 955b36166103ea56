// Strict request bodies of the HTTP API (RELAY_PROTOCOL §3.2, §4): deny unknown fields,
// type-check every field. Framework-level rejections carry a plain-text body.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rc::proto {

enum class route { pair_start, pair_join, pair_refresh, pair_stop, devices_list, devices_revoke };

/// One parsed request; which fields are meaningful depends on the route.
struct api_request {
  route r = route::pair_start;
  std::optional<int64_t> schema_version;  ///< absent/null → nullopt
  std::string session_id;
  std::string join_token;
  std::string desktop_token;
  std::string join_expires_at;
  std::optional<std::string> relay_ws_url;
  std::optional<uint64_t> idle_timeout_seconds;
  std::optional<std::string> device_name;
  std::string device_id;
};

/// A framework rejection: status (400/413/415/422) and plain text body.
struct framework_error {
  int status;
  std::string text;
};

/// Content-Type check: `application/json` or `application/*+json` (parameters ignored).
bool is_json_content_type(std::string_view ct);

/// Parses and strictly validates a body for `r`. Returns nullopt + fills `err` on rejection.
std::optional<api_request> parse_api_request(route r, std::string_view body, framework_error& err);

/// `schemaVersion` must be absent, null or 2 where allowed (checked by the handler, §3.2).
inline bool schema_version_ok(const api_request& q) {
  return !q.schema_version || *q.schema_version == 2;
}

}  // namespace rc::proto
