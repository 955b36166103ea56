#include "desktop-bridge/diagnostics.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <ostream>
#include <regex>
#include <set>

#include "caf/config.hpp"
#include "desktop-bridge/state_file.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/untrusted_json.hpp"
#include "protocol/url.hpp"

#ifndef RC_BUILD_TYPE
#define RC_BUILD_TYPE "unknown"
#endif

using nlohmann::json;

namespace rc::bridge {

namespace {

constexpr const char* bridge_version = "0.1.0";
constexpr const char* redacted = "[REDACTED]";

/// The last `max` bytes of a file (bounded read); nullopt when it cannot be opened.
std::optional<std::string> read_tail(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg()));
  std::size_t from = size > max ? size - max : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string s(size - from, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  return s;
}

/// scheme://host[:port]/path only: no userinfo, query or fragment (tokens travel there).
std::string safe_url(const std::string& u) {
  auto cut = u.find_first_of("?#");
  std::string s = u.substr(0, cut);
  auto scheme = s.find("://");
  if (scheme != std::string::npos) {
    auto at = s.find('@', scheme + 3);
    auto slash = s.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash))
      s.erase(scheme + 3, at - scheme - 2);
  }
  return cut == std::string::npos ? s : s + " [query/fragment removed]";
}

const std::set<std::string> plain_keys = {
    "joinTokenIssuedAt", "joinTokenExpiresAt", "joinTokenUsedAt", "createdAt",
    "joinedAt",          "lastSeenAt",         "expiresAt"};
const std::set<std::string> id_keys = {"sessionID", "deviceID"};
const std::set<std::string> url_keys = {"joinBaseURL", "relayWebSocketURL"};

json redact_value(const json& v, const std::string& key, std::vector<std::string>& secrets) {
  if (v.is_object()) {
    json o = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      bool data_key = key == "pinned" || it.key().size() > 40 ||
                      !std::all_of(it.key().begin(), it.key().end(), [](char c) {
                        return std::isalpha(static_cast<unsigned char>(c));
                      });
      if (data_key) {
        secrets.push_back(it.key());
        o[rc::proto::redact_id(it.key())] = redact_value(it.value(), "", secrets);
      } else {
        o[it.key()] = redact_value(it.value(), it.key(), secrets);
      }
    }
    return o;
  }
  if (v.is_array()) {
    json a = json::array();
    for (const auto& x : v) a.push_back(redact_value(x, key, secrets));
    return a;
  }
  if (!v.is_string()) return v;  // numbers, booleans, null
  const auto& s = v.get_ref<const std::string&>();
  if (plain_keys.count(key)) return redact_text(s, {});
  if (id_keys.count(key)) return rc::proto::redact_id(s);
  if (url_keys.count(key)) return redact_text(safe_url(s), {});
  if (key == "deviceName") return redact_text(s, secrets);
  secrets.push_back(s);  // tokens, join URL, keys, pairing secrets, anything unknown
  return std::string(redacted) + " (" + std::to_string(s.size()) + " chars)";
}

json versions() {
  json v = {{"bridge", bridge_version},
            {"buildType", RC_BUILD_TYPE},
            {"compiler", __VERSION__},
            {"cplusplus", static_cast<long>(__cplusplus)},
            {"caf", CAF_VERSION},
            {"openssl", OpenSSL_version(OPENSSL_VERSION)},
            {"nlohmannJson", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                 std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                 std::to_string(NLOHMANN_JSON_VERSION_PATCH)}};
  utsname u{};
  if (::uname(&u) == 0) v["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  return v;
}

json environment(const std::vector<std::string>& secrets) {
  json env = json::object();
  for (const char* name :
       {"CODEXCHAT_REMOTE_CONTROL_JOIN_URL", "CODEXCHAT_REMOTE_CONTROL_RELAY_WS_URL",
        "REMOTE_CONTROL_NO_CLIPBOARD", "XDG_CONFIG_HOME", "TERM"}) {
    const char* v = std::getenv(name);
    env[name] = v ? json(redact_text(safe_url(v), secrets)) : json(nullptr);
  }
  return env;
}

/// Runs of 22+ base64url/base64 characters that look random (a digit, or both letter cases) —
/// tokens, keys, IDs — become [REDACTED]; snake_case words such as disconnect reasons stay.
std::string redact_opaque_runs(const std::string& s) {
  auto tokenish = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+' ||
           c == '=';
  };
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!tokenish(s[i])) {
      out += s[i++];
      continue;
    }
    std::size_t j = i;
    bool digit = false, upper = false, lower = false;
    for (; j < s.size() && tokenish(s[j]); ++j) {
      digit = digit || std::isdigit(static_cast<unsigned char>(s[j]));
      upper = upper || std::isupper(static_cast<unsigned char>(s[j]));
      lower = lower || std::islower(static_cast<unsigned char>(s[j]));
    }
    if (j - i >= 22 && (digit || (upper && lower)))
      out += redacted;
    else
      out.append(s, i, j - i);
    i = j;
  }
  return out;
}

}  // namespace

std::string redact_text(std::string_view text, const std::vector<std::string>& secrets) {
  std::string s(text);
  for (const auto& sec : secrets) {
    if (sec.size() < 8) continue;
    for (auto p = s.find(sec); p != std::string::npos;
         p = s.find(sec, p + std::char_traits<char>::length(redacted)))
      s.replace(p, sec.size(), redacted);
  }
  static const std::regex params(R"re(((?:jt|ps|dk|sid|token|key|secret|password)=)[^&\s"']+)re",
                                 std::regex::icase);
  static const std::regex fields(
      R"re(("[A-Za-z_]*(?:token|secret|password|identity|key|ps|jt)"\s*:\s*")[^"]*")re",
      std::regex::icase);
  static const std::regex bearer(R"re((bearer\s+)\S+)re", std::regex::icase);
  s = std::regex_replace(s, params, "$1[REDACTED]");
  s = std::regex_replace(s, fields, "$1[REDACTED]\"");
  s = std::regex_replace(s, bearer, "$1[REDACTED]");
  return redact_opaque_runs(s);
}

json redact_state(const json& state, std::vector<std::string>& secrets) {
  return redact_value(state, "", secrets);
}

json build_diagnostics(const diagnostics_options& o) {
  std::vector<std::string> secrets;
  json bundle = {{"bundle", "remote-control desktop-bridge diagnostics"},
                 {"bundleVersion", 1},
                 {"createdAt", rc::proto::format_rfc3339_ms(rc::proto::now_ms())},
                 {"redaction",
                  "tokens, join links, pairing secrets and keys removed; IDs shortened; "
                  "review before sharing"},
                 {"versions", versions()}};
  json state = {{"path", o.state_file.empty() ? json(nullptr) : json(o.state_file)}};
  if (!o.state_file.empty()) {
    struct stat st {};
    bool exists = ::stat(o.state_file.c_str(), &st) == 0;
    state["exists"] = exists;
    if (exists) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      state["mode"] = mode;
      state["modeOk"] = (st.st_mode & 077) == 0;
      auto text = read_tail(o.state_file, diagnostics_max_read);
      json j = text ? rc::proto::parse_untrusted(*text, 1024) : json(json::value_t::discarded);
      if (j.is_discarded()) {
        state["content"] = "unreadable or not JSON (the bridge would purge it on start)";
      } else {
        state["content"] = redact_state(j, secrets);
      }
    }
  }
  bundle["config"] = {{"stateFile", state}, {"defaultStateFile", default_state_path()}};
  bundle["config"]["environment"] = environment(secrets);
  json log = {{"path", o.log_file.empty() ? json(nullptr) : json(o.log_file)}};
  if (o.log_file.empty()) {
    log["note"] = "no --log given (the bridge writes to its terminal only)";
  } else if (auto text = read_tail(o.log_file, diagnostics_max_read)) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text->size()) {
      auto nl = text->find('\n', start);
      auto end = nl == std::string::npos ? text->size() : nl;
      lines.push_back(text->substr(start, std::min(end - start, diagnostics_max_line)));
      start = end + 1;
    }
    std::size_t n = std::min(o.log_lines, diagnostics_max_log_lines);
    std::size_t from = lines.size() > n ? lines.size() - n : 0;
    json out = json::array();
    for (std::size_t i = from; i < lines.size(); ++i) out.push_back(redact_text(lines[i], secrets));
    log["lines"] = out;
    log["omittedEarlierLines"] = from;
  } else {
    log["note"] = "cannot read the log file";
  }
  bundle["log"] = log;
  return bundle;
}

int run_diagnostics(int argc, char** argv, std::ostream& out, std::ostream& err) {
  diagnostics_options o;
  o.state_file = default_state_path();
  std::string out_path = "remote-control-diagnostics.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      out << "Usage: desktop-bridge diagnostics [--state-file PATH] [--log FILE] [--lines N] "
             "[--out PATH|-]\n"
             "Writes a redacted bundle (versions, config, state summary, last log lines; no "
             "tokens).\n";
      return 0;
    } else if (a == "--state-file" && has) {
      o.state_file = argv[++i];
    } else if (a == "--log" && has) {
      o.log_file = argv[++i];
    } else if (a == "--out" && has) {
      out_path = argv[++i];
    } else if (a == "--lines" && has) {
      char* end = nullptr;
      long n = std::strtol(argv[++i], &end, 10);
      if (!end || *end || n < 1 || n > static_cast<long>(diagnostics_max_log_lines)) {
        err << "desktop-bridge diagnostics: --lines expects 1.." << diagnostics_max_log_lines
            << "\n";
        return 2;
      }
      o.log_lines = static_cast<std::size_t>(n);
    } else {
      err << "desktop-bridge diagnostics: unknown or incomplete option " << a << " (see --help)\n";
      return 2;
    }
  }
  std::string text =
      build_diagnostics(o).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (out_path == "-") {
    out << text;
    return 0;
  }
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    err << "desktop-bridge diagnostics: cannot write " << out_path << "\n";
    return 1;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    err << "desktop-bridge diagnostics: write failed for " << out_path << "\n";
    return 1;
  }
  out << "Wrote " << out_path
      << " (redacted: no tokens or join links; review it before sharing).\n";
  return 0;
}

}  // namespace rc::bridge
