#pragma once

#include <cstddef>
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
  struct tombstone {
    record_version version = 0;
    std::uint64_t seq = 0;
  };

  record_version stored_version(std::string_view id) const;
  void drop_tombstone(std::string_view id);
  void add_tombstone(const std::string& id, record_version version);

  std::size_t max_sessions_;
  std::uint64_t next_seq_ = 0;
  std::map<std::string, versioned_record, std::less<>> records_;
  std::map<std::string, tombstone, std::less<>> tombstones_;
  std::map<std::uint64_t, std::string> tombstone_order_;  // seq -> id, oldest first
};

}  // namespace rc::persistence
