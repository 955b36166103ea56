// Wall-clock helpers and RFC 3339 formatting/parsing in the reference format.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rc::proto {

/// Unix epoch milliseconds (system clock).
int64_t now_ms();

/// Reference relay format: UTC with `+00:00`, fractional milliseconds only when non-zero.
std::string format_rfc3339_ms(int64_t epoch_ms);

/// Desktop envelope format: whole seconds with `Z`.
std::string format_rfc3339_seconds_z(int64_t epoch_ms);

/// Strict RFC 3339 date-time with mandatory offset (`Z` or `±HH:MM`); returns epoch ms.
std::optional<int64_t> parse_rfc3339(std::string_view s);

}  // namespace rc::proto
