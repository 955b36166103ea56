// Helpers and option parsing of the codex runtime.
#include "desktop-bridge/runtime_codex_util.hpp"

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

namespace {

bool parse_int(const std::string& v, long lo, long hi, int& out) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || !end || *end || errno || n < lo || n > hi) return false;
  out = static_cast<int>(n);
  return true;
}

}  // namespace

codex_options parse_codex_options(const std::vector<std::string>& args) {
  codex_options o;
  o.codex_bin = env_or("RC_CODEX_BIN", o.codex_bin);
  o.workspaces = util::split_list(env_or("RC_CODEX_CWD", ""), ':');
  if (auto v = env_or("RC_CODEX_APPROVAL_POLICY", ""); !v.empty()) o.approval_policy = v;
  if (auto v = env_or("RC_CODEX_SANDBOX", ""); !v.empty()) o.sandbox = v;
  if (auto v = env_or("RC_CODEX_MODEL", ""); !v.empty()) o.model = v;
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
  return o;
}

}  // namespace rc::bridge
