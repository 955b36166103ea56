// Small text/ID helpers shared by the child-process runtimes (codex, claude). Header-only, no
// state.
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rc::bridge::util {

inline std::string env_or(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : dflt;
}

/// Cuts at a UTF-8 character boundary.
inline std::string cut_utf8(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

/// The last `max_bytes` (at a UTF-8 boundary), prefixed with "..." when cut.
inline std::string tail_utf8(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t i = s.size() - max_bytes;
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  return "..." + s.substr(i);
}

/// Whitespace (newlines, tabs) folded to single-line, trimmed, cut with "..." past `max_bytes`.
inline std::string one_line(const std::string& s, std::size_t max_bytes) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  out.erase(0, first);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max_bytes) return cut_utf8(out, max_bytes) + "...";
  return out;
}

inline std::string str_of(const nlohmann::json& j, const char* key, const std::string& dflt = {}) {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

inline std::string upper(std::string s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

inline std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

/// The relay's compact-id rule `^[A-Za-z0-9_:-]{1,128}$`.
inline bool compact_id(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == ':' || c == '-'))
      return false;
  return true;
}

/// A canonical UUID `8-4-4-4-12` of hex digits (either case).
inline bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (c == '-')) return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
      return false;
  }
  return true;
}

/// Stable UUID-shaped ID from a string (two FNV-1a 64 hashes), e.g. a project ID from a path.
inline std::string stable_uuid(const std::string& s) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : s) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL;
    b ^= b >> 29;
  }
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-%04X-%04X-%012llX", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

inline std::string basename_of(const std::string& path) {
  auto p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto i = p.rfind('/');
  return i == std::string::npos ? p : (i + 1 < p.size() ? p.substr(i + 1) : p);
}

inline std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// The items of a `sep`-separated list (e.g. RC_CODEX_CWD=A:B), empty items kept.
inline std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; !s.empty();) {
    auto i = s.find(sep, pos);
    out.push_back(s.substr(pos, i == std::string::npos ? std::string::npos : i - pos));
    if (i == std::string::npos) break;
    pos = i + 1;
  }
  return out;
}

/// Workspace directories (`flag` DIR, repeatable): each made absolute and symlink-free
/// (realpath; agents record sessions by absolute cwd), de-duplicated, empty items skipped, at
/// most `max`. Returns "" or the configuration error (a missing path or a non-directory).
inline std::string resolve_workspaces(std::vector<std::string>& ws, const std::string& flag,
                                      std::size_t max = 16) {
  std::vector<std::string> out;
  for (auto& w : ws) {
    if (w.empty()) continue;
    char* real = ::realpath(w.c_str(), nullptr);
    if (!real) return flag + " " + w + ": " + std::strerror(errno);
    std::string r(real);
    std::free(real);
    struct stat st {};
    if (::stat(r.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return flag + " " + w + ": not a directory";
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  if (out.size() > max) return "at most " + std::to_string(max) + " workspaces (" + flag + ")";
  ws = std::move(out);
  return {};
}

/// Erases every entry of `pending` (a map request ID → request) for which `pred(request)` holds,
/// calling `on_erase(request ID)` for each (e.g. to announce it resolved). Returns how many.
template <class Map, class Pred, class F>
std::size_t erase_pending_if(Map& pending, Pred&& pred, F&& on_erase) {
  std::size_t n = 0;
  for (auto it = pending.begin(); it != pending.end();) {
    if (pred(it->second)) {
      on_erase(it->first);
      it = pending.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace rc::bridge::util
