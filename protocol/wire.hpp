// The relay wire schema in one place: message names, builders, and the strict validators of
// RELAY_PROTOCOL §7-§9. Pure functions, no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/close_reason.hpp"
#include "protocol/untrusted_json.hpp"

namespace rc::proto {

using json = nlohmann::json;

// ---- relay → client messages -------------------------------------------------------------
std::string msg_disconnect(close_reason reason);
std::string msg_relay_error(relay_error code, std::string_view message);
std::string msg_auth_ok_desktop(const std::string& sid, std::size_t connected_devices);
std::string msg_auth_ok_mobile(const std::string& sid, const std::string& device_id,
                               const std::string& next_token, std::size_t connected_devices,
                               bool desktop_connected);
std::string msg_device_count(const std::string& sid, std::size_t n);
std::string msg_desktop_status(const std::string& sid, bool connected);
std::string msg_pair_result(const std::string& sid, const std::string& request_id, bool approved);
std::string msg_pair_request(const std::string& sid, const std::string& request_id,
                             const std::optional<std::string>& device_name,
                             const std::string& requester_ip, int64_t requested_at_ms,
                             int64_t expires_at_ms);

// ---- relay.error codes and fixed messages (§7.3) ----------------------------------------------
namespace err {
inline constexpr const char* desktop_offline_msg =
    "Mac is offline. Reconnect desktop and try again.";
inline constexpr const char* unsupported_schema_msg = "Only schemaVersion 2 is supported.";
inline constexpr const char* replayed_msg = "Command sequence was replayed or out of order.";
inline constexpr const char* device_rate_msg =
    "Too many remote commands from this device. Retry shortly.";
inline constexpr const char* session_rate_msg =
    "Remote command throughput for this session is temporarily saturated.";
inline constexpr const char* snapshot_rate_msg =
    "Too many snapshot requests from this device. Retry shortly.";
}  // namespace err

/// Outcome of validating one piece of a mobile frame. `ok()` when code is empty.
struct verdict {
  std::string code;  ///< to_string(error) when failed
  std::string message;
  relay_error error = relay_error::invalid_payload;  ///< meaningful only when !ok()
  bool ok() const { return code.empty(); }
  static verdict fail(relay_error c, std::string m) { return {to_string(c), std::move(m), c}; }
};

/// What a mobile frame is, after the common checks of §9.1/§9.3 step 1-2.
enum class mobile_kind { snapshot_request, command, other };

/// Parsed mobile frame. `value` is the parsed object (discarded when parse failed).
struct mobile_frame {
  bool parsed = false;            ///< valid JSON
  bool is_object = false;         ///< JSON object
  bool session_mismatch = false;  ///< string sessionID ≠ authenticated session → drop silently
  bool gated = false;             ///< payload.type == "command" or type == "relay.snapshot_request"
  mobile_kind kind = mobile_kind::other;
  json value;
};

/// Parses a mobile text frame for routing decisions. A frame nested deeper than max_json_depth
/// is not parsed (`parsed` stays false: answered like invalid JSON).
mobile_frame classify_mobile(std::string_view text, const std::string& session_id);

/// §9.3 step 3: snapshot request shape (everything except the rate budget).
verdict validate_snapshot_request(const json& v);

/// §9.3 step 4, envelope part (before sequence and budgets). On success `seq_out` is set.
verdict validate_command_envelope(const json& v, uint64_t& seq_out);

/// §9.3 per-command rules (after sequence and budgets).
verdict validate_command_rules(const json& v, std::size_t max_text_bytes);

/// §9.3 step 5: overwrite relayConnectionID/relayDeviceID and serialise compactly.
std::string inject_metadata(json& v, const std::string& connection_id,
                            const std::string& device_id);

/// UTF-8 length-in-scalar-values truncation (device names: 64 scalars, trimmed).
std::optional<std::string> sanitize_device_name(const std::optional<std::string>& raw);

/// ASCII-whitespace and Unicode-space-insensitive "blank" check.
bool is_blank(std::string_view s);

/// Sequence tracker (APP_SCHEMA §8.3).
class sequence_tracker {
 public:
  enum class result { accepted, stale, gap };
  struct outcome {
    result r;
    uint64_t expected;
    uint64_t received;
  };
  outcome ingest(uint64_t s) {
    if (!has_) {
      has_ = true;
      last_ = s;
      return {result::accepted, s, s};
    }
    if (s == last_ + 1) {
      last_ = s;
      return {result::accepted, s, s};
    }
    if (s <= last_) return {result::stale, last_ + 1, s};
    return {result::gap, last_ + 1, s};
  }
  /// Accepts forward jumps (recommended for commands: the relay guarantees monotonicity).
  void force(uint64_t s) {
    has_ = true;
    last_ = s;
  }
  std::optional<uint64_t> last() const {
    return has_ ? std::optional<uint64_t>(last_) : std::nullopt;
  }
  void reset() { has_ = false; }

 private:
  bool has_ = false;
  uint64_t last_ = 0;
};

}  // namespace rc::proto
