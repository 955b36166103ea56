#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "persistence/redis_url.hpp"
#include "persistence/state_store.hpp"

namespace rc::persistence {

/// Default of REDIS_KEY_PREFIX.
inline constexpr std::string_view default_redis_key_prefix = "codexchat:remote-control:relay";

/// Keys of CONFIG_REFERENCE §4.2 for a prefix `P`.
std::string redis_index_key(std::string_view prefix);  ///< P:sessions:index:v1
std::string redis_record_key(std::string_view prefix, std::string_view session_id);
///< P:session:v1:<id>
std::string redis_version_key(std::string_view prefix, std::string_view session_id);
///< P:session:version:v1:<id>
std::string redis_epoch_key(std::string_view prefix);  ///< P:epoch:v1

struct redis_store_options {
  redis_url url;
  std::string key_prefix{default_redis_key_prefix};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
  /// After a failed connect, calls fail fast with `unavailable` for this long.
  std::chrono::milliseconds reconnect_backoff{250};
  /// load_all stops after this many sessions; save of a new session beyond it returns `full`.
  std::size_t max_sessions = 100'000;
  /// TTL given to a tombstone version key by remove(); 0 keeps it forever like the reference.
  /// A later save clears the TTL (SET).
  std::chrono::milliseconds tombstone_ttl{0};
};

/// Redis-backed store (hiredis sync API). Connects lazily on the first call; after any
/// connection error or timeout the context is dropped and the next call reconnects (subject
/// to reconnect_backoff). save and remove are atomic Lua scripts (EVALSHA, falling back to
/// EVAL on NOSCRIPT) implementing the §4.3 version guard. Blocking, not thread-safe.
class redis_store final : public state_store {
 public:
  explicit redis_store(redis_store_options opts);
  ~redis_store() override;

  load_all_result load_all() override;
  load_result load(std::string_view session_id) override;
  write_result save(const session_record& rec, record_version version) override;
  /// save() that also requires the stored version to equal `expected` (0: none stored), in the
  /// same script: the compare-and-set on what the caller read (stale_version otherwise).
  write_result save_expecting(const session_record& rec, record_version version,
                              std::optional<record_version> expected);
  write_result remove(std::string_view session_id, record_version version) override;
  bool healthy() override;
  /// SET P:epoch:v1 NX, then GET (two round trips; works on every Redis version).
  epoch_result epoch(const std::string& create_as) override;

  /// True while a connection is open (no I/O).
  bool connected() const noexcept;

  /// Last connection or command error (redacted; never contains the password).
  const std::string& last_error() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rc::persistence
