// Small text helpers shared by the model units (model.cpp, model_session.cpp, model_commands.cpp).
#pragma once
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rc::bridge::detail {

using json = nlohmann::json;

inline std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::optional<std::string> opt_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

inline bool is_uint_string(const std::string& s) {
  if (s.empty() || s.size() > 19) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline bool has_prefix_word(const std::string& id, std::initializer_list<const char*> words) {
  auto l = lower(id);
  for (auto w : words)
    if (l.rfind(w, 0) == 0) return true;
  return false;
}

inline bool is_negative_option(const std::string& id) {
  return has_prefix_word(id, {"decline", "deny", "reject", "cancel", "no", "stop", "dismiss"});
}
inline bool is_affirmative_option(const std::string& id) {
  return has_prefix_word(id, {"accept", "allow", "approve", "yes", "confirm", "continue", "grant",
                              "proceed", "submit", "ok"});
}

}  // namespace rc::bridge::detail
