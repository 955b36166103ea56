#include "persistence/memory_store.hpp"

#include <algorithm>

namespace rc::persistence {

memory_store::memory_store(std::size_t max_sessions)
    : max_sessions_(std::max<std::size_t>(1, max_sessions)) {}

record_version memory_store::stored_version(std::string_view id) const {
  if (auto it = records_.find(id); it != records_.end()) return it->second.version;
  if (auto it = tombstones_.find(id); it != tombstones_.end()) return it->second.version;
  return 0;
}

void memory_store::drop_tombstone(std::string_view id) {
  if (auto it = tombstones_.find(id); it != tombstones_.end()) {
    tombstone_order_.erase(it->second.seq);
    tombstones_.erase(it);
  }
}

void memory_store::add_tombstone(const std::string& id, record_version version) {
  drop_tombstone(id);
  while (tombstones_.size() >= max_sessions_ && !tombstone_order_.empty()) {
    auto oldest = tombstone_order_.begin();
    tombstones_.erase(oldest->second);
    tombstone_order_.erase(oldest);
  }
  auto seq = next_seq_++;
  tombstones_.emplace(id, tombstone{version, seq});
  tombstone_order_.emplace(seq, id);
}

load_all_result memory_store::load_all() {
  load_all_result res;
  res.records.reserve(records_.size());
  for (const auto& [id, vr] : records_) {
    res.records.push_back(vr);
    res.max_version = std::max(res.max_version, vr.version);
  }
  return res;
}

load_result memory_store::load(std::string_view session_id) {
  load_result res;
  if (auto it = records_.find(session_id); it != records_.end()) {
    res.record = it->second.record;
    res.version = it->second.version;
    return res;
  }
  res.status = store_status::not_found;
  res.version = stored_version(session_id);
  return res;
}

write_result memory_store::save(const session_record& rec, record_version version) {
  if (rec.session_id.empty() || version == 0)
    return {store_status::invalid, "empty session id or version 0"};
  if (stored_version(rec.session_id) >= version) return {store_status::stale_version, {}};
  auto it = records_.find(rec.session_id);
  if (it == records_.end()) {
    if (records_.size() >= max_sessions_) return {store_status::full, "max_sessions reached"};
    drop_tombstone(rec.session_id);
    records_.emplace(rec.session_id, versioned_record{rec, version});
  } else {
    it->second = versioned_record{rec, version};
  }
  return {};
}

write_result memory_store::remove(std::string_view session_id, record_version version) {
  if (session_id.empty() || version == 0)
    return {store_status::invalid, "empty session id or version 0"};
  if (stored_version(session_id) >= version) return {store_status::stale_version, {}};
  std::string id{session_id};
  records_.erase(id);
  add_tombstone(id, version);
  return {};
}

}  // namespace rc::persistence
