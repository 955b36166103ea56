#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/session_record.hpp"

namespace rc::persistence {

/// Outcome of a store operation.
enum class store_status {
  ok,             ///< done (load: the record exists)
  not_found,      ///< load: no record (the version may still be a tombstone)
  stale_version,  ///< write skipped: the stored version is equal or higher (compare-and-set)
  unavailable,    ///< the backend could not be reached or answered with an error
  full,           ///< write of a new session refused: max_sessions reached
  invalid,        ///< bad argument (empty session id, version 0) or a stored record is unreadable
};

/// Stable lower-case name of a status ("ok", "stale_version", ...).
const char* to_string(store_status s) noexcept;

/// Parses a stored record body and checks that it belongs to `session_id` (its key).
result<session_record> parse_stored_record(std::string_view json, std::string_view session_id);

/// Write versions start at 1; 0 means "no version stored".
using record_version = std::uint64_t;

struct versioned_record {
  session_record record;
  record_version version = 0;
};

/// A persisted session that load_all could not use (bad JSON, other schema_version, missing
/// record body). Its version still counts for the caller's write counter.
struct skipped_record {
  std::string session_id;  ///< not a secret, but truncate it when logging
  record_version version = 0;
  std::string reason;
};

struct load_all_result {
  store_status status = store_status::ok;  ///< ok or unavailable
  std::vector<versioned_record> records;
  std::vector<skipped_record> skipped;
  record_version max_version = 0;  ///< highest version seen (records and skipped)
  bool truncated = false;          ///< stopped at max_sessions
  std::string error;               ///< set when status != ok; never contains credentials
};

struct load_result {
  store_status status = store_status::ok;  ///< ok, not_found, unavailable or invalid
  std::optional<session_record> record;
  record_version version = 0;  ///< stored version, also for tombstones (record deleted)
  std::string error;
};

struct write_result {
  store_status status = store_status::ok;  ///< ok, stale_version, unavailable, full, invalid
  std::string error;
  bool ok() const noexcept { return status == store_status::ok; }
};

/// The store's epoch marker (issue 12): a value set once, when missing, by whoever asks first.
/// A marker that changed, or that was missing, means the store lost its data since it was last
/// read (Redis restarted without persistence): the nodes then write back what they hold.
struct epoch_result {
  store_status status = store_status::ok;  ///< ok or unavailable
  std::string value;                       ///< empty: this store keeps no marker
  bool created = false;                    ///< this call set it (it was missing)
};

/// Session metadata store with versioned writes (CONFIG_REFERENCE §4.3):
/// a write with version `v` happens iff no version is stored or the stored version is < v
/// (strict: an equal version is refused, so two writers can never both own version v);
/// delete keeps the version as a tombstone.
///
/// Implementations block (Redis round trips) and are not thread-safe: own one instance from
/// a single thread, e.g. a detached actor. No function throws.
class state_store {
 public:
  virtual ~state_store() = default;
  state_store() = default;
  state_store(const state_store&) = delete;
  state_store& operator=(const state_store&) = delete;

  /// Loads every persisted session (startup and forced reload).
  virtual load_all_result load_all() = 0;

  /// Loads one session.
  virtual load_result load(std::string_view session_id) = 0;

  /// Saves `rec` (keyed by rec.session_id) with write version `version` (>= 1).
  virtual write_result save(const session_record& rec, record_version version) = 0;

  /// Deletes a session, leaving `version` behind as a tombstone.
  virtual write_result remove(std::string_view session_id, record_version version) = 0;

  /// True if the backend answers now (Redis: PING, reconnecting if needed).
  virtual bool healthy() = 0;

  /// Reads the epoch marker, setting it to `create_as` when missing. Stores that cannot lose
  /// their data behind the node's back (memory, one node's SQLite file) keep none.
  virtual epoch_result epoch(const std::string& create_as) {
    (void)create_as;
    return {};
  }
};

}  // namespace rc::persistence
