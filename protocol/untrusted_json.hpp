// Every parse of untrusted JSON in the relay goes through here (checked by
// tests/check_includes.py): bounded nesting before the parser runs, no exceptions, and member
// accessors that never throw whatever type a peer put there.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rc::proto {

/// Deepest array/object nesting accepted in untrusted JSON. Copying and re-serialising a parsed
/// value recurse once per level (a 32,000-level field fits in 64 KiB and overflows the stack);
/// real frames, records and envelopes nest less than 10 levels.
inline constexpr std::size_t max_json_depth = 64;

/// True when `text` nests arrays and objects at most `max_depth` deep (brackets inside JSON
/// strings do not count). Linear, no allocation; says nothing about whether `text` is JSON.
bool json_depth_within(std::string_view text, std::size_t max_depth = max_json_depth);

/// Parses untrusted text. Discarded (`is_discarded()`) when it is not JSON or nests deeper than
/// `max_depth`; never throws. `comments` accepts // and /* */ (operator config files only).
nlohmann::json parse_untrusted(std::string_view text, std::size_t max_depth = max_json_depth,
                               bool comments = false);

/// `j[key]` when `j` is an object holding a string there, else `fallback`. Never throws.
std::string string_member(const nlohmann::json& j, const char* key, std::string fallback = {});
/// `j[key]` when `j` is an object holding a boolean there, else `fallback`. Never throws.
bool bool_member(const nlohmann::json& j, const char* key, bool fallback);

}  // namespace rc::proto
