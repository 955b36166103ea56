#include "protocol/untrusted_json.hpp"

namespace rc::proto {

bool json_depth_within(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

nlohmann::json parse_untrusted(std::string_view text, std::size_t max_depth, bool comments) {
  if (!json_depth_within(text, max_depth)) return nlohmann::json::value_t::discarded;
  try {
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, false, comments);
  } catch (...) {  // allow_exceptions=false already; nothing may escape
    return nlohmann::json::value_t::discarded;
  }
}

std::string string_member(const nlohmann::json& j, const char* key, std::string fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

bool bool_member(const nlohmann::json& j, const char* key, bool fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

}  // namespace rc::proto
