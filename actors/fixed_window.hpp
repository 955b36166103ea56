// Fixed-window budget (RELAY_PROTOCOL §10), shared by both limiter actors. Plain C++, no CAF.
#pragma once
#include <cstdint>

namespace rc::actors {

/// One bucket: new buckets start at count 0; the window starts at the first consume.
struct fixed_window {
  uint64_t count = 0;
  int64_t window_end = 0;
  /// Consumes one unit at `now` (ms); true when allowed.
  bool consume(int64_t now, uint64_t limit, int64_t window_ms = 60000) {
    if (window_end == 0) window_end = now + window_ms;
    if (now >= window_end) {
      count = 1;
      window_end = now + window_ms;
      return true;
    }
    ++count;
    return count <= limit;
  }
  bool expired(int64_t now) const { return now >= window_end; }
};

}  // namespace rc::actors
