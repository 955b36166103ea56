// Every reason the relay gives when it ends a websocket (RELAY_PROTOCOL §7.4), and every
// `relay.error` code it sends to a phone (§7.3): each named once, with its wire string.
// No CAF, no Beast: the gateway, the actors and the tests all use these.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rc::proto {

/// Why a websocket (or a whole session) was closed. The value's name is its wire string.
enum class close_reason : std::uint8_t {
  session_expired,     ///< stale credentials at auth (Close 1008), or swept/killed elsewhere
  stopped_by_desktop,  ///< `/pair/stop`
  replaced_by_new_pair_start,  ///< `/pair/start` replaced the session
  device_revoked,              ///< `/devices/revoke` (mobile only)
  idle_timeout,                ///< sweep closed an idle session
  retention_expired,           ///< sweep closed a session past SESSION_RETENTION
  desktop_reconnected,         ///< a new desktop auth replaced this desktop socket
  device_reconnected,          ///< the same device authenticated on a new socket
  slow_consumer,               ///< outbound queue full
  socket_rate_limited,         ///< too many inbound frames in the socket's window
  heartbeat_timeout,           ///< no inbound traffic for the heartbeat timeout
  message_too_large,           ///< inbound text over MAX_WS_MESSAGE_BYTES
  relay_over_capacity,         ///< admission cap at auth
  server_shutdown,             ///< SIGINT/SIGTERM drain (or an aborted session actor)
  removed_from_persistence,    ///< local session dropped because the store no longer has it
  unloaded,                    ///< local only (never on the wire): forgotten, held by a peer
};
inline constexpr std::size_t close_reason_count =
    static_cast<std::size_t>(close_reason::unloaded) + 1;

/// The wire string (`{"type":"disconnect","reason":"<this>"}`).
const char* to_string(close_reason r);
/// Inverse of to_string; nullopt for anything that is not exactly one of the reasons.
std::optional<close_reason> parse_close_reason(std::string_view s);
/// The socket frame `{"type":"disconnect","reason":"<r>"}`, byte for byte as the reference
/// relay writes it (member order type, reason; the wire strings need no escaping).
std::string disconnect_frame(close_reason r);
/// Every reason, in enum order (metrics rendering, tests).
const std::array<close_reason, close_reason_count>& all_close_reasons();

/// `relay.error` codes (mobile only). The value's name is its wire string.
enum class relay_error : std::uint8_t {
  desktop_offline,           ///< command or snapshot request while no desktop is connected
  invalid_payload,           ///< not JSON / not a JSON object
  invalid_snapshot_request,  ///< snapshot request shape
  invalid_session,           ///< sessionID mismatch (normally dropped silently before)
  snapshot_rate_limited,     ///< per-device snapshot budget
  invalid_command,           ///< command shape, allowlist or per-command rules
  unsupported_schema,        ///< schemaVersion ≠ 2
  replayed_command,          ///< seq not above the last accepted one on this connection
  command_rate_limited,      ///< per-device or per-session command budget
};
inline constexpr std::size_t relay_error_count =
    static_cast<std::size_t>(relay_error::command_rate_limited) + 1;

const char* to_string(relay_error e);
std::optional<relay_error> parse_relay_error(std::string_view s);

}  // namespace rc::proto
