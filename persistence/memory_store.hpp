#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <string>

#include "persistence/state_store.hpp"

namespace rc::persistence {

/// In-process store (the default when REDIS_URL is unset). Same versioned-write semantics as
/// redis_store. Holds at most `max_sessions` records (a save of a new session beyond that
/// returns `full`) and at most `max_sessions` tombstones (oldest forgotten first).
class memory_store final : public state_store {
 public:
  explicit memory_store(std::size_t max_sessions = 100'000);

  load_all_result load_all() override;
  load_result load(std::string_view session_id) override;
  write_result save(const session_record& rec, record_version version) override;
  write_result remove(std::string_view session_id, record_version version) override;
  bool healthy() override { return true; }

  std::size_t size() const noexcept { return records_.size(); }
  std::size_t tombstones() const noexcept { return tombstones_.size(); }

 private:
  record_version stored_version(const std::string& id) const;
  void add_tombstone(const std::string& id, record_version version);

  std::size_t max_sessions_;
  std::map<std::string, versioned_record, std::less<>> records_;
  std::map<std::string, record_version, std::less<>> tombstones_;
  std::deque<std::string> tombstone_order_;  // insertion order, for bounded eviction
};

}  // namespace rc::persistence
