// Pure bridge logic (no CAF, no I/O): join lease, session descriptor, the desktop-side mirror of
// the runtime's state, snapshot bounding (APP_SCHEMA §3.1), delta events (§4), command
// processing with the ack cache (§5.2, §6) and inbound sequence trackers (§8.3).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "desktop-bridge/runtime.hpp"
#include "protocol/tokens.hpp"
#include "protocol/wire.hpp"

namespace rc::bridge {

using json = nlohmann::json;

// ---- security primitives (§12) ------------------------------------------------------------------

struct join_lease {
  rc::proto::secret token;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  std::optional<int64_t> used_ms;

  static join_lease make(int64_t now_ms, int64_t ttl_s = 120);
  bool expired(int64_t now_ms) const { return now_ms >= expires_ms; }
  bool usable(int64_t now_ms) const { return !used_ms && !expired(now_ms); }
  void mark_used(int64_t now_ms) { used_ms = now_ms; }
  /// Local single-use check (constant time); marks used on success.
  bool consume(const std::string& presented, int64_t now_ms);
};

/// `<base>#sid=..&jt=..&relay=..` (§9): base query/fragment removed, empty path → `/`.
std::string build_join_url(const std::string& join_base, const std::string& session_id,
                           const std::string& join_token, const std::string& relay_ws_url);

/// HTTP endpoint of a relay route from the WebSocket URL (`ws→http`, path replaced).
std::string relay_http_url(const std::string& relay_ws_url, const std::string& path);

/// Strips a `token` query item from a relay URL (§11).
std::string strip_token_query(const std::string& url);

struct trusted_device {
  std::string device_id;
  std::string name;
  bool connected = false;
  std::string joined_at, last_seen_at;
};

struct session_descriptor {
  std::string session_id;
  join_lease lease;
  std::string join_url;
  std::string relay_ws_url;
  rc::proto::secret desktop_token;
  int64_t created_ms = 0;
  int64_t idle_timeout_s = 1800;

  static session_descriptor make(const std::string& join_base, const std::string& relay_ws_url,
                                 int64_t now_ms, int64_t ttl_s = 120);
  /// New lease + join URL; session ID and desktop token unchanged.
  void rotate_join_token(const std::string& join_base, int64_t now_ms, int64_t ttl_s = 120);
  std::string join_base;  ///< PWA base the join URL was built from

  json to_json() const;  ///< the persisted record (contains secrets: file mode 0600 only)
  static std::optional<session_descriptor> from_json(const json& j);
};

/// §11 invalidation rule for an HTTP failure.
bool http_invalidates_session(int status, const std::string& body);
/// §11 terminal disconnect reasons.
bool disconnect_invalidates_session(const std::string& reason);

// ---- runtime mirror ---------------------------------------------------------------------------

struct snapshot_limits {
  std::size_t max_sync_threads = 12;
  std::size_t selected_window = 160;
  std::size_t other_window = 24;
  std::size_t max_messages = 120;
  std::size_t text_budget = 40000;
  std::size_t per_message = 2000;
};

/// UTF-8 safe cut of `s` to at most `max_bytes` bytes.
std::string utf8_cut(const std::string& s, std::size_t max_bytes);

class model {
 public:
  static constexpr std::size_t max_messages_per_thread = 2000;

  void apply(const runtime_event& ev);

  // queries
  bool connected() const { return connected_; }
  /// The runtime pages back through stored history (snapshot `capabilities.loadEarlier`).
  bool loads_earlier() const { return loads_earlier_; }
  bool has_project(const std::string& id) const;
  const thread_info* find_thread(const std::string& id) const;
  bool thread_running(const std::string& id) const { return running_.count(id) > 0; }
  bool thread_has_pending_request(const std::string& id) const;
  const runtime_request_info* find_request(uint64_t id) const;
  const std::optional<std::string>& selected_thread() const { return sel_thread_; }
  const std::optional<std::string>& selected_project() const { return sel_project_; }
  const std::vector<message_info>* messages(const std::string& thread_id) const;
  std::size_t thread_count() const { return threads_.size(); }

  // mutations done by commands
  void select_thread(const std::string& id);
  void select_project(const std::string& id);
  void add_message(message_info m);
  void set_running(const std::string& thread_id, bool running);

  /// Ordered sync-thread set (§3.1).
  std::vector<std::string> sync_threads(const snapshot_limits& lim = {}) const;
  /// Snapshot body (§3, bounded per §3.1). Runtime requests only when `include_requests`.
  json snapshot(bool include_requests, const snapshot_limits& lim = {}) const;
  /// Delta events (§4) since the last call; updates the baselines.
  std::vector<json> collect_events(bool include_requests, const snapshot_limits& lim = {});
  /// Forget event baselines (e.g. after auth_ok: first observation records a baseline).
  void reset_baselines();
  /// Record baselines without emitting.
  void record_baselines(const snapshot_limits& lim = {}) { collect_events(false, lim); }

  static json request_json(const runtime_request_info& r);

 private:
  bool connected_ = false;
  bool loads_earlier_ = false;
  std::vector<project_info> projects_;
  std::vector<thread_info> threads_;  // list order
  std::unordered_map<std::string, std::vector<message_info>> messages_;
  std::map<uint64_t, runtime_request_info> requests_;
  std::set<std::string> running_;
  std::optional<std::string> sel_project_, sel_thread_;

  // event baselines
  std::unordered_map<std::string, std::set<std::string>> seen_msgs_;
  std::unordered_map<std::string, bool> seen_running_;
  std::set<uint64_t> seen_requests_;
  bool requests_baselined_ = false;
};

// ---- inbound commands -------------------------------------------------------------------------

/// LRU-free bounded cache: last N acks by command identity (insertion order eviction).
class ack_cache {
 public:
  explicit ack_cache(std::size_t cap = 256) : cap_(cap) {}
  const json* find(const std::string& identity) const;
  void put(const std::string& identity, json ack);
  std::size_t size() const { return map_.size(); }

 private:
  std::size_t cap_;
  std::deque<std::string> order_;
  std::unordered_map<std::string, json> map_;
};

/// One sequence tracker per relayConnectionID (≤ 24, oldest evicted), "" = global tracker.
class tracker_set {
 public:
  explicit tracker_set(std::size_t cap = 24) : cap_(cap) {}
  rc::proto::sequence_tracker& get(const std::string& connection_id);
  void clear() {
    order_.clear();
    map_.clear();
  }
  std::size_t size() const { return map_.size(); }
  bool contains(const std::string& id) const { return map_.count(id) > 0; }

 private:
  std::size_t cap_;
  std::deque<std::string> order_;
  std::unordered_map<std::string, rc::proto::sequence_tracker> map_;
};

/// Canonical identity of a command (sorted keys, trimmed commandID); nullopt for blank IDs.
std::optional<std::string> command_identity(const json& command);

/// Interprets a phone's runtimeRequestResponse for a request (§5.2). nullopt → invalid.
std::optional<runtime_response> interpret_response(const runtime_request_info& req,
                                                   const json& resp);

/// Result of processing one inbound command envelope.
struct command_outcome {
  std::vector<json>
      before_ack;           ///< event bodies to send before the ack (runtime_request.responded)
  std::optional<json> ack;  ///< command_ack body (none when dropped)
  bool accepted = false;
  bool applied = false;  ///< true when the command was executed now (not a replay)
  bool replay = false;   ///< cached ack re-sent
  std::string name, command_id, reason;
};

class command_processor {
 public:
  explicit command_processor(std::size_t ack_cap = 256) : acks_(ack_cap) {}
  /// Processes a command body (payload.payload) carried by an envelope with `seq`.
  /// `stale` → only replays cached acks (never applies).
  command_outcome process(const json& command, uint64_t seq, bool stale, model& m, runtime* rt,
                          bool approvals_enabled);
  ack_cache& acks() { return acks_; }

 private:
  ack_cache acks_;
};

}  // namespace rc::bridge
