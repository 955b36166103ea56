// Where each top-level key of a JSON config file is (line and column), since nlohmann's DOM
// parse keeps no positions. Also the position of a syntax error.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rc::settings {

struct text_position {
  int line = 0;    ///< 1-based
  int column = 0;  ///< 1-based, in bytes
};

/// 1-based line and column of byte `offset` of `text`.
text_position position_of(std::string_view text, std::size_t offset);

struct key_positions {
  std::map<std::string, text_position> keys;  ///< top-level keys (last occurrence wins)
  std::optional<text_position> syntax_error;  ///< set when the text is not valid JSON
  std::string syntax_message;                 ///< nlohmann's message for it
};

/// Scans `text` (comments allowed) with nlohmann's SAX interface over a position-counting
/// iterator and records where each top-level key starts.
key_positions scan_key_positions(std::string_view text);

}  // namespace rc::settings
