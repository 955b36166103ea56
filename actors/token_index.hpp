// Session tokens without actors: the broker's token → session index, and the per-session token
// bookkeeping (index operations, retired-token pruning, rotation at mobile auth, RELAY_PROTOCOL
// §6.3). Plain C++ (no CAF): unit-tested on its own in tests/unit/token_index_test.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "persistence/session_record.hpp"

namespace rc::actors {

/// One change of the broker's token index (session → broker).
struct index_op {
  enum kind_t { add_desktop, add_device, remove } kind = remove;
  std::string token;
  std::string session_id;
  std::string device_id;
  int64_t expires_at_ms = 0;  ///< 0 = no expiry (current token)
};

/// The broker's view: which session (and device) a token belongs to.
class token_index {
 public:
  struct device_entry {
    std::string session_id;
    std::string device_id;
    int64_t expires_at_ms = 0;  ///< 0 = current token
  };

  void apply(const std::vector<index_op>& ops);
  /// Indexes every token of a persisted record (retired ones only while unexpired at `now`).
  void adopt(const persistence::session_record& rec, int64_t now);
  /// Session of a desktop token.
  const std::string* desktop(const std::string& token) const;
  /// Entry of a device token that is current or not yet expired at `now`.
  const device_entry* device(const std::string& token, int64_t now) const;
  /// Forgets every token of `session_id` (the session ended abnormally).
  void drop_session(const std::string& session_id);
  /// Forgets retired device tokens that expired at `now`.
  void expire(int64_t now);
  std::size_t desktop_tokens() const { return desktop_.size(); }
  std::size_t device_tokens() const { return device_.size(); }

 private:
  std::unordered_map<std::string, std::string> desktop_;
  std::unordered_map<std::string, device_entry> device_;
};

/// The token side of one session record: index operations, pruning and rotation.
class session_tokens {
 public:
  /// Retired tokens kept per device (oldest dropped first).
  static constexpr std::size_t max_retired = 8;

  explicit session_tokens(persistence::session_record& rec) : rec_(rec) {}

  /// Desktop token check (constant time).
  bool desktop_ok(const std::string& token) const;
  /// Index operations adding (or removing) every token of the record.
  std::vector<index_op> all(bool add) const;
  /// Index operations adding (or removing) the tokens of one device.
  std::vector<index_op> device(const std::string& device_id, const persistence::device_record& d,
                               bool add) const;
  /// Drops retired tokens of `d` expired at `now` and the oldest beyond max_retired,
  /// appending their removal to `ops`.
  void prune(persistence::device_record& d, const std::string& device_id, int64_t now,
             std::vector<index_op>& ops) const;
  /// Prunes every device.
  std::vector<index_op> prune_all(int64_t now);
  /// True when `token` is the device's current token or an unexpired retired one (every
  /// comparison constant-time, and all of them are made).
  static bool device_accepts(const persistence::device_record& d, const std::string& token,
                             int64_t now);

  /// A rotation (§6.3.4): `next` becomes current; the old current token becomes a retired
  /// token valid for `grace_ms` (or dies at once when grace is 0). Returns the index operations
  /// to apply once the rotation is persisted; `before` holds the device record for a rollback.
  struct rotation {
    std::vector<index_op> ops;
    persistence::device_record before;
  };
  rotation rotate(persistence::device_record& d, const std::string& device_id,
                  const std::string& next, int64_t now, int64_t grace_ms) const;

 private:
  index_op op(index_op::kind_t kind, const std::string& token, const std::string& device_id,
              int64_t expires_at_ms = 0) const;

  persistence::session_record& rec_;
};

}  // namespace rc::actors
