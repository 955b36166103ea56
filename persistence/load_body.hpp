#pragma once

// Internal to the store implementations (not a public header).

#include <string_view>
#include <utility>

#include "persistence/state_store.hpp"

namespace rc::persistence {

/// Completes a load() whose stored body is `json`: status ok with the record, or invalid.
inline load_result& fill_loaded(load_result& res, std::string_view json,
                                std::string_view session_id) {
  auto parsed = parse_stored_record(json, session_id);
  if (!parsed) {
    res.status = store_status::invalid;
    res.error = parsed.error;
  } else {
    res.record = std::move(parsed.value);
  }
  return res;
}

}  // namespace rc::persistence
