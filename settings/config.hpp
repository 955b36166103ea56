// The relay's one typed configuration: defaults < config file < environment < command-line flags.
// Every key has the name of the reference environment variable (CONFIG_REFERENCE.md §2). Loaded
// and validated once at start; actors and gateway only ever read it (relay_context::cfg is const).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rc::settings {

struct relay_config {
  std::string host = "0.0.0.0";
  uint16_t port = 8787;
  std::string public_base_url;               ///< default http://localhost:<PORT>
  std::vector<std::string> allowed_origins;  ///< normalised
  uint64_t max_json_bytes = 65536;
  uint64_t max_pair_requests_per_minute = 60;
  uint64_t max_devices_per_session = 2;
  uint64_t session_retention_ms = 600000;
  uint64_t pair_approval_timeout_ms = 45000;
  uint64_t ws_auth_timeout_ms = 10000;
  uint64_t ws_heartbeat_interval_ms = 20000;
  uint64_t ws_heartbeat_timeout_ms = 60000;
  uint64_t token_rotation_grace_ms = 30000;
  uint64_t max_pending_join_waiters = 64;
  uint64_t max_ws_message_bytes = 65536;
  /// MAX_SOCKET_OUTBOUND_QUEUE: the reference's message bound (its default 256); ours is 4096
  /// because MAX_SOCKET_OUTBOUND_BYTES is what identifies a slow consumer (issue 10 item 6).
  uint64_t max_socket_outbound_queue = 4096;
  uint64_t max_active_websocket_connections = 10000;
  uint64_t max_remote_commands_per_minute = 240;
  uint64_t max_remote_session_commands_per_minute = 480;
  uint64_t max_snapshot_requests_per_minute = 60;
  uint64_t max_ws_messages_per_minute = 1200;
  uint64_t max_remote_command_text_bytes = 16384;
  bool trust_proxy = false;
  bool allow_legacy_query_token_auth = false;
  std::string redis_url;
  std::string redis_key_prefix = "codexchat:remote-control:relay";
  std::string nats_url;
  std::string nats_subject_prefix = "codexchat.remote.relay";
  std::string nats_hmac_secret;
  uint64_t nats_replay_window_ms = 120000;
  uint64_t nats_max_clock_skew_ms = 30000;
  // ---- our own keys (not in the reference) ----
  uint64_t sweep_interval_ms = 30000;  ///< SWEEP_INTERVAL_MS (reference: fixed 30 s)
  uint64_t max_sessions = 100000;      ///< MAX_SESSIONS: hard bound on sessions per node
  /// TRUSTED_SESSION_IDLE_MS: a session with trusted devices but no socket anywhere is deleted
  /// after this long without activity (0 = kept forever, the reference's behaviour).
  uint64_t trusted_session_idle_ms = 30ull * 86400000ull;
  /// MAX_SOCKET_OUTBOUND_BYTES: bytes queued to one socket and not yet written; beyond, the
  /// socket is a slow consumer. Effective max(value, 65536).
  uint64_t max_socket_outbound_bytes = 4ull * 1024 * 1024;
  uint64_t max_open_connections = 0;  ///< MAX_OPEN_CONNECTIONS; 0 = 2 × active cap + 1024
  /// MAX_PREAUTH_WEBSOCKETS: upgraded websockets not yet authenticated; beyond, upgrades get 503
  /// so that they never take the slots the HTTP API needs. 0 = max(1, MAX_OPEN_CONNECTIONS / 4).
  uint64_t max_preauth_websockets = 0;
  /// MAX_CONNECTIONS_PER_IP: open connections (HTTP and websocket together) of one peer address
  /// on the main listener, counted at accept; beyond, new connections are closed unread.
  /// 0 = unbounded. Not applied with TRUST_PROXY (every client then shares the proxy's address).
  uint64_t max_connections_per_ip = 256;
  /// WS_AUTH_FAILURES_PER_IP / WS_AUTH_FAILURE_WINDOW_MS: an address (the forwarded one with
  /// TRUST_PROXY, as for the pairing limit) whose websocket auths failed this many times with a
  /// wrong credential (malformed, unknown or stale token) within the window that began at its
  /// first failure gets its upgrades refused (429) until that window ends. 0 = off.
  uint64_t ws_auth_failures_per_ip = 20;
  uint64_t ws_auth_failure_window_ms = 60000;
  /// HTTP_REQUEST_TIMEOUT_MS: a connection must send a whole request header within this from
  /// accept (or, keep-alive, from its previous response: the idle deadline), and then its body
  /// within this again; otherwise it is closed (slowloris). Minimum 100.
  uint64_t http_request_timeout_ms = 10000;
  std::string admin_host = "127.0.0.1";  ///< ADMIN_HOST
  uint16_t admin_port = 8788;            ///< ADMIN_PORT (0 = disabled)
  std::string admin_token;               ///< ADMIN_TOKEN; unset → admin listener disabled
  std::string tls_cert_file;             ///< TLS_CERT_FILE
  std::string tls_key_file;              ///< TLS_KEY_FILE
  std::string static_dir;                ///< STATIC_DIR: serve the built PWA
  uint64_t io_threads = 1;               ///< IO_THREADS
  uint64_t actor_threads = 1;            ///< ACTOR_THREADS
  std::string log_level = "info";        ///< LOG_LEVEL: debug|info|warn|error
  std::string node_name;                 ///< NODE_NAME (cluster membership; default host:port)
  std::string
      state_path;  ///< STATE_PATH: SQLite state file (durable single node); not with REDIS_URL
  bool state_quarantine =
      false;  ///< STATE_QUARANTINE: move a corrupt STATE_PATH aside, start empty

  /// Effective values.
  uint64_t outbound_queue() const {
    return max_socket_outbound_queue < 8 ? 8 : max_socket_outbound_queue;
  }
  uint64_t outbound_bytes() const { return std::max<uint64_t>(max_socket_outbound_bytes, 65536); }
  /// The pre-auth websocket budget (unbounded only when no connection cap is known, as in a
  /// config that was not loaded).
  uint64_t preauth_websockets() const {
    if (max_preauth_websockets) return max_preauth_websockets;
    return max_open_connections ? std::max<uint64_t>(1, max_open_connections / 4) : UINT64_MAX;
  }
  std::chrono::milliseconds ws_auth_failure_window() const {
    return std::chrono::milliseconds(ws_auth_failure_window_ms);
  }
  std::chrono::milliseconds http_request_timeout() const {
    return std::chrono::milliseconds(std::max<uint64_t>(http_request_timeout_ms, 100));
  }
  std::string default_ws_url() const;
};

/// One thing wrong with the configuration. Loading collects all of them before it fails.
struct config_problem {
  std::string key;      ///< the config key (or the command-line argument) it is about
  std::string message;  ///< one sentence naming the key
  std::string source;   ///< "environment", "command line", the config file's name; empty = derived
  int line = 0;         ///< 1-based line in the config file (0 = not from a file)
  int column = 0;       ///< 1-based column in the config file
  /// `<message> (from <source>[:<line>:<column>])`.
  std::string to_string() const;
};

/// Result of loading: a config, or every problem found (and `error`: one line per problem,
/// each starting with "invalid configuration: ").
struct load_result {
  std::optional<relay_config> config;
  std::vector<config_problem> problems;
  std::string error;
  bool help = false;
  bool print_config = false;
  std::string config_file;
};

/// argv and an environment lookup (injectable for tests).
load_result load_config(int argc, char** argv, const std::map<std::string, std::string>& env);

/// Environment as a map (only the keys we know, to keep secrets of other programs out).
std::map<std::string, std::string> read_environment();

/// Names of all accepted keys (for --help and the README).
const std::vector<std::string>& config_keys();

/// JSON dump of the effective configuration with secrets redacted.
std::string describe(const relay_config& c);

std::string usage();

}  // namespace rc::settings
