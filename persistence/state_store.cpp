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

}  // namespace rc::persistence
