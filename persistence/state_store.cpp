#include "persistence/state_store.hpp"

namespace rc::persistence {

const char* to_string(store_status s) noexcept {
  switch (s) {
    case store_status::ok:
      return "ok";
    case store_status::not_found:
      return "not_found";
    case store_status::stale_version:
      return "stale_version";
    case store_status::unavailable:
      return "unavailable";
    case store_status::full:
      return "full";
    case store_status::invalid:
      return "invalid";
  }
  return "unknown";
}

result<session_record> parse_stored_record(std::string_view json, std::string_view session_id) {
  auto parsed = from_json(json);
  if (parsed && parsed.value->session_id != session_id)
    return result<session_record>::failure("session_id does not match its key");
  return parsed;
}

}  // namespace rc::persistence
