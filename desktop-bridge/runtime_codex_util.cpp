// Helpers and option parsing of the codex runtime.
#include "desktop-bridge/runtime_codex_util.hpp"
#include "protocol/untrusted_json.hpp"

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "desktop-bridge/runtime_codex.hpp"

namespace rc::bridge {
namespace codex {

const json& member(const json& j, const char* key) {
  static const json null_value;
  if (!j.is_object()) return null_value;
  auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

std::string bridge_thread_id(const std::string& cid) {
  return compact_id(cid) ? upper(cid) : stable_uuid("codex-thread:" + cid);
}

}  // namespace codex

using codex::env_or;
using codex::json;
using codex::member;
using codex::one_line;

namespace {

bool parse_int(const std::string& v, long lo, long hi, int& out) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || !end || *end || errno || n < lo || n > hi) return false;
  out = static_cast<int>(n);
  return true;
}

bool tool_name_ok(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

std::string load_codex_dynamic_tools(const std::string& path, json& out) {
  constexpr std::size_t kMaxBytes = 256 * 1024, kMaxTools = 32, kMaxDescription = 1024;
  const auto too_big = "larger than " + std::to_string(kMaxBytes / 1024) + " KiB";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<std::size_t>(st.st_size) > kMaxBytes) return too_big;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::strerror(errno);
  std::string data(kMaxBytes + 1, '\0');
  data.resize(std::fread(data.data(), 1, data.size(), f));
  std::fclose(f);
  if (data.size() > kMaxBytes) return too_big;  // grew since stat()
  auto j = rc::proto::parse_untrusted(data);
  if (j.is_discarded()) return "not valid JSON";
  if (!j.is_array()) return "must be a JSON array of tool specs";
  if (j.empty()) return "no tools in the array";
  if (j.size() > kMaxTools) return "at most " + std::to_string(kMaxTools) + " tools";
  json tools = json::array();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& t = j[i];
    auto where = "tool " + std::to_string(i);
    if (!t.is_object()) return where + ": must be an object";
    for (auto it = t.begin(); it != t.end(); ++it)
      if (it.key() != "name" && it.key() != "description" && it.key() != "inputSchema" &&
          it.key() != "type")
        return where + ": unexpected field \"" + one_line(it.key(), 64) + "\"";
    if (t.contains("type") && t["type"] != "function") return where + ": type must be \"function\"";
    const auto& name = member(t, "name");
    if (!name.is_string() || !tool_name_ok(name.get<std::string>()))
      return where + ": name must be 1-64 characters of A-Z a-z 0-9 _ -";
    const auto& n = name.get_ref<const std::string&>();
    if (std::find(names.begin(), names.end(), n) != names.end())
      return where + ": duplicate name " + n;
    names.push_back(n);
    const auto& d = member(t, "description");
    if (!d.is_string() || d.get_ref<const std::string&>().empty() ||
        d.get_ref<const std::string&>().size() > kMaxDescription)
      return where + " (" + n + "): description must be a non-empty string of at most " +
             std::to_string(kMaxDescription) + " bytes";
    const auto& s = member(t, "inputSchema");
    if (!s.is_object() || member(s, "type") != "object")
      return where + " (" + n +
             "): inputSchema must be a JSON Schema object with \"type\": \"object\"";
    tools.push_back({{"type", "function"}, {"name", n}, {"description", d}, {"inputSchema", s}});
  }
  out = std::move(tools);
  return {};
}

codex_options parse_codex_options(const std::vector<std::string>& args) {
  codex_options o;
  o.codex_bin = env_or("RC_CODEX_BIN", o.codex_bin);
  o.workspaces = util::split_list(env_or("RC_CODEX_CWD", ""), ':');
  if (auto v = env_or("RC_CODEX_APPROVAL_POLICY", ""); !v.empty()) o.approval_policy = v;
  if (auto v = env_or("RC_CODEX_SANDBOX", ""); !v.empty()) o.sandbox = v;
  if (auto v = env_or("RC_CODEX_MODEL", ""); !v.empty()) o.model = v;
  o.dynamic_tools_file = env_or("RC_CODEX_DYNAMIC_TOOLS", "");
  o.debug = env_or("RC_CODEX_DEBUG", "") == "1";
  std::size_t i = 0;
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') o.codex_bin = args[i++];
  bool cwd_flag = false;
  for (; i < args.size() && o.config_error.empty(); ++i) {
    const auto& a = args[i];
    std::string v;
    auto value = [&] {
      if (i + 1 >= args.size()) {
        o.config_error = a + " needs a value";
        return false;
      }
      v = args[++i];
      return true;
    };
    auto number = [&](long lo, long hi, int& out) {
      if (value() && !parse_int(v, lo, hi, out))
        o.config_error = a + " must be " + std::to_string(lo) + ".." + std::to_string(hi);
    };
    if (a == "--codex-cwd") {
      if (!value()) break;
      if (!cwd_flag) o.workspaces.clear();  // flags replace RC_CODEX_CWD
      cwd_flag = true;
      o.workspaces.push_back(v);
    } else if (a == "--codex-approval-policy") {
      if (value()) o.approval_policy = v;
    } else if (a == "--codex-sandbox") {
      if (value()) o.sandbox = v;
    } else if (a == "--codex-model") {
      if (value()) o.model = v;
    } else if (a == "--codex-dynamic-tools") {
      if (value()) o.dynamic_tools_file = v;
    } else if (a == "--codex-list-limit") {
      number(0, 100, o.list_limit);
    } else if (a == "--codex-history-turns") {
      number(1, 50, o.history_page_turns);
    } else if (a == "--codex-restart-max") {
      number(0, 100, o.restart_max);
    } else if (a == "--codex-restart-window") {
      number(10, 86400, o.restart_window_s);
    } else if (a == "--codex-debug") {
      o.debug = true;
    } else if (a == "--listen") {
      o.config_error = "--listen is not supported (the bridge speaks stdio)";
    } else {
      o.app_server_args.push_back(a);
    }
  }
  if (o.config_error.empty())
    o.config_error = util::resolve_workspaces(o.workspaces, "--codex-cwd");
  if (o.config_error.empty() && !o.dynamic_tools_file.empty()) {
    auto e = load_codex_dynamic_tools(o.dynamic_tools_file, o.dynamic_tools);
    if (!e.empty()) o.config_error = "--codex-dynamic-tools " + o.dynamic_tools_file + ": " + e;
  }
  return o;
}

}  // namespace rc::bridge
