#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "persistence/state_store.hpp"

namespace rc::persistence {

/// Options of the embedded store (STATE_PATH, STATE_QUARANTINE).
struct sqlite_store_options {
  std::string path;  ///< database file; its directory must exist
  /// A corrupt file is renamed to `<path>.corrupt-<unix ms>` (with its -wal/-journal) and an empty
  /// store is started. Off: a corrupt file refuses to open. Never applies to unreadable files
  /// (permissions) or to another program's SQLite database.
  bool quarantine_corrupt = false;
  /// Records held (a save of a new session beyond it returns `full`); tombstones are bounded by
  /// the same number (oldest forgotten first), like memory_store.
  std::size_t max_sessions = 100'000;
};

class sqlite_store;

struct sqlite_open_result {
  std::unique_ptr<sqlite_store> store;  ///< null on failure
  std::string error;                    ///< one sentence naming the path
  std::string quarantined_to;           ///< set when a corrupt file was moved aside
};

/// Durable single-machine store: one SQLite file in WAL mode with synchronous=FULL (every
/// committed write is fsynced before save() returns, so it survives kill -9 and power loss).
/// Same versioned-write semantics as memory_store and redis_store (§4.3). The file is opened
/// with an exclusive lock held for the store's lifetime: a second process on the same file is
/// refused. The file is created with mode 0600 (it holds tokens). Blocking, not thread-safe.
class sqlite_store final : public state_store {
 public:
  /// Opens (creating if missing) and checks the file (SQLite quick_check, schema).
  static sqlite_open_result open(const sqlite_store_options& opts);
  ~sqlite_store() override;

  load_all_result load_all() override;
  load_result load(std::string_view session_id) override;
  write_result save(const session_record& rec, record_version version) override;
  write_result remove(std::string_view session_id, record_version version) override;
  bool healthy() override;

  std::size_t size() const noexcept;
  std::size_t tombstones() const noexcept;

 private:
  struct impl;
  explicit sqlite_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rc::persistence
