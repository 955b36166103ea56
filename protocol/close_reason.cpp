#include "protocol/close_reason.hpp"

namespace rc::proto {

namespace {

constexpr std::array<const char*, close_reason_count> close_names = {"session_expired",
                                                                     "stopped_by_desktop",
                                                                     "replaced_by_new_pair_start",
                                                                     "device_revoked",
                                                                     "idle_timeout",
                                                                     "retention_expired",
                                                                     "desktop_reconnected",
                                                                     "device_reconnected",
                                                                     "slow_consumer",
                                                                     "socket_rate_limited",
                                                                     "heartbeat_timeout",
                                                                     "message_too_large",
                                                                     "relay_over_capacity",
                                                                     "server_shutdown",
                                                                     "removed_from_persistence",
                                                                     "unloaded"};

constexpr std::array<const char*, relay_error_count> error_names = {
    "desktop_offline",    "invalid_payload",       "invalid_snapshot_request",
    "invalid_session",    "snapshot_rate_limited", "invalid_command",
    "unsupported_schema", "replayed_command",      "command_rate_limited"};

template <class Enum, std::size_t N>
std::optional<Enum> parse(const std::array<const char*, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<Enum>(i);
  return std::nullopt;
}

}  // namespace

const char* to_string(close_reason r) {
  auto i = static_cast<std::size_t>(r);
  return i < close_names.size() ? close_names[i] : "unknown";
}

std::optional<close_reason> parse_close_reason(std::string_view s) {
  return parse<close_reason>(close_names, s);
}

std::string disconnect_frame(close_reason r) {
  return std::string("{\"type\":\"disconnect\",\"reason\":\"") + to_string(r) + "\"}";
}

const std::array<close_reason, close_reason_count>& all_close_reasons() {
  static const auto all = [] {
    std::array<close_reason, close_reason_count> a{};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<close_reason>(i);
    return a;
  }();
  return all;
}

const char* to_string(relay_error e) {
  auto i = static_cast<std::size_t>(e);
  return i < error_names.size() ? error_names[i] : "unknown";
}

std::optional<relay_error> parse_relay_error(std::string_view s) {
  return parse<relay_error>(error_names, s);
}

}  // namespace rc::proto
