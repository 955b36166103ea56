#pragma once

#include <optional>
#include <string>
#include <utility>

namespace rc::persistence {

/// A value or an error message. Used instead of exceptions by every public function of this
/// library. Error messages never contain credentials, tokens or payloads.
template <class T>
struct result {
  std::optional<T> value;
  std::string error;

  static result success(T v) {
    result r;
    r.value = std::move(v);
    return r;
  }
  static result failure(std::string e) {
    result r;
    r.error = std::move(e);
    return r;
  }
  bool ok() const noexcept { return value.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
};

/// Success or an error message, for operations without a value.
struct outcome {
  bool failed = false;
  std::string error;

  static outcome success() { return {}; }
  static outcome failure(std::string e) { return {true, std::move(e)}; }
  bool ok() const noexcept { return !failed; }
  explicit operator bool() const noexcept { return ok(); }
};

}  // namespace rc::persistence
