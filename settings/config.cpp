#include "settings/config.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "persistence/redis_url.hpp"
#include "protocol/untrusted_json.hpp"
#include "protocol/url.hpp"
#include "settings/file_positions.hpp"

extern char** environ;

namespace rc::settings {

namespace {

/// The MAX_OPEN_CONNECTIONS default: 2 × MAX_ACTIVE_WEBSOCKET_CONNECTIONS + 1024, at most the
/// process's RLIMIT_NOFILE minus a reserve (max(64, limit/16)) for the store, bus and logs.
uint64_t default_open_connections(const relay_config& c) {
  uint64_t cap = 2 * c.max_active_websocket_connections + 1024;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    // Keep a reserve of descriptors for the store, the bus, logs and the listeners, so that the
    // cap, not EMFILE, is what refuses connections.
    uint64_t limit = rl.rlim_cur;
    uint64_t reserve = std::max<uint64_t>(64, limit / 16);
    cap = std::min(cap, limit > 2 * reserve ? limit - reserve : limit / 2);
  }
  return std::max<uint64_t>(cap, 1);
}

using setter = std::function<std::string(relay_config&, const std::string&)>;
using getter = std::function<nlohmann::json(const relay_config&)>;

/// One configuration key: how to set it from text and how to read it back (for --print-config).
struct key_entry {
  std::string name;
  setter set;
  getter get;
};

std::string parse_u64(const std::string& key, const std::string& v, uint64_t& out,
                      uint64_t max = UINT64_MAX) {
  if (v.empty() || v.size() > 20) return key + " must be an unsigned integer (got '" + v + "').";
  uint64_t r = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return key + " must be an unsigned integer (got '" + v + "').";
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (r > (UINT64_MAX - d) / 10) return key + " is out of range.";
    r = r * 10 + d;
  }
  if (r > max) return key + " must be at most " + std::to_string(max) + ".";
  out = r;
  return {};
}

std::string parse_bool(const std::string& key, const std::string& raw, bool& out) {
  std::string v;
  for (char c : raw)
    if (c != ' ' && c != '\t') v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "1" || v == "true" || v == "yes" || v == "on")
    out = true;
  else if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty())
    out = false;
  else
    return key + " must be a boolean (1/0, true/false, yes/no, on/off).";
  return {};
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

#define U64(KEY, FIELD)                                                                    \
  {                                                                                        \
    KEY, [](relay_config& c, const std::string& v) { return parse_u64(KEY, v, c.FIELD); }, \
        [](const relay_config& c) { return nlohmann::json(c.FIELD); }                      \
  }
#define STR(KEY, FIELD)                                               \
  {                                                                   \
    KEY,                                                              \
        [](relay_config& c, const std::string& v) {                   \
          c.FIELD = v;                                                \
          return std::string{};                                       \
        },                                                            \
        [](const relay_config& c) { return nlohmann::json(c.FIELD); } \
  }
#define TSTR(KEY, FIELD)                                              \
  {                                                                   \
    KEY,                                                              \
        [](relay_config& c, const std::string& v) {                   \
          c.FIELD = trim(v);                                          \
          return std::string{};                                       \
        },                                                            \
        [](const relay_config& c) { return nlohmann::json(c.FIELD); } \
  }
#define BOOL(KEY, FIELD)                                                                    \
  {                                                                                         \
    KEY, [](relay_config& c, const std::string& v) { return parse_bool(KEY, v, c.FIELD); }, \
        [](const relay_config& c) { return nlohmann::json(c.FIELD); }                       \
  }

const std::vector<key_entry>& table() {
  static const std::vector<key_entry> t = {
      STR("HOST", host),
      {"PORT",
       [](relay_config& c, const std::string& v) {
         uint64_t p;
         auto e = parse_u64("PORT", v, p, 65535);
         if (e.empty()) c.port = static_cast<uint16_t>(p);
         return e;
       },
       [](const relay_config& c) { return nlohmann::json(c.port); }},
      STR("PUBLIC_BASE_URL", public_base_url),
      {"ALLOWED_ORIGINS", nullptr,  // parsed after all layers (see load_config)
       [](const relay_config& c) { return nlohmann::json(c.allowed_origins); }},
      U64("MAX_JSON_BYTES", max_json_bytes),
      U64("MAX_PAIR_REQUESTS_PER_MINUTE", max_pair_requests_per_minute),
      U64("MAX_DEVICES_PER_SESSION", max_devices_per_session),
      U64("SESSION_RETENTION_MS", session_retention_ms),
      U64("PAIR_APPROVAL_TIMEOUT_MS", pair_approval_timeout_ms),
      U64("WS_AUTH_TIMEOUT_MS", ws_auth_timeout_ms),
      U64("WS_HEARTBEAT_INTERVAL_MS", ws_heartbeat_interval_ms),
      U64("WS_HEARTBEAT_TIMEOUT_MS", ws_heartbeat_timeout_ms),
      U64("TOKEN_ROTATION_GRACE_MS", token_rotation_grace_ms),
      U64("MAX_PENDING_JOIN_WAITERS", max_pending_join_waiters),
      U64("MAX_WS_MESSAGE_BYTES", max_ws_message_bytes),
      U64("MAX_SOCKET_OUTBOUND_QUEUE", max_socket_outbound_queue),
      U64("MAX_ACTIVE_WEBSOCKET_CONNECTIONS", max_active_websocket_connections),
      U64("MAX_REMOTE_COMMANDS_PER_MINUTE", max_remote_commands_per_minute),
      U64("MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE", max_remote_session_commands_per_minute),
      U64("MAX_SNAPSHOT_REQUESTS_PER_MINUTE", max_snapshot_requests_per_minute),
      U64("MAX_WS_MESSAGES_PER_MINUTE", max_ws_messages_per_minute),
      U64("MAX_REMOTE_COMMAND_TEXT_BYTES", max_remote_command_text_bytes),
      BOOL("TRUST_PROXY", trust_proxy),
      BOOL("ALLOW_LEGACY_QUERY_TOKEN_AUTH", allow_legacy_query_token_auth),
      TSTR("REDIS_URL", redis_url),
      TSTR("REDIS_KEY_PREFIX", redis_key_prefix),
      TSTR("NATS_URL", nats_url),
      TSTR("NATS_SUBJECT_PREFIX", nats_subject_prefix),
      TSTR("NATS_HMAC_SECRET", nats_hmac_secret),
      U64("NATS_REPLAY_WINDOW_MS", nats_replay_window_ms),
      U64("NATS_MAX_CLOCK_SKEW_MS", nats_max_clock_skew_ms),
      U64("SWEEP_INTERVAL_MS", sweep_interval_ms),
      U64("MAX_SESSIONS", max_sessions),
      U64("TRUSTED_SESSION_IDLE_MS", trusted_session_idle_ms),
      U64("MAX_SOCKET_OUTBOUND_BYTES", max_socket_outbound_bytes),
      U64("MAX_OPEN_CONNECTIONS", max_open_connections),
      U64("MAX_PREAUTH_WEBSOCKETS", max_preauth_websockets),
      U64("MAX_CONNECTIONS_PER_IP", max_connections_per_ip),
      U64("WS_AUTH_FAILURES_PER_IP", ws_auth_failures_per_ip),
      U64("WS_AUTH_FAILURE_WINDOW_MS", ws_auth_failure_window_ms),
      U64("HTTP_REQUEST_TIMEOUT_MS", http_request_timeout_ms),
      STR("ADMIN_HOST", admin_host),
      {"ADMIN_PORT",
       [](relay_config& c, const std::string& v) {
         uint64_t p;
         auto e = parse_u64("ADMIN_PORT", v, p, 65535);
         if (e.empty()) c.admin_port = static_cast<uint16_t>(p);
         return e;
       },
       [](const relay_config& c) { return nlohmann::json(c.admin_port); }},
      TSTR("ADMIN_TOKEN", admin_token),
      TSTR("TLS_CERT_FILE", tls_cert_file),
      TSTR("TLS_KEY_FILE", tls_key_file),
      TSTR("STATIC_DIR", static_dir),
      U64("IO_THREADS", io_threads),
      U64("ACTOR_THREADS", actor_threads),
      TSTR("LOG_LEVEL", log_level),
      TSTR("NODE_NAME", node_name),
      TSTR("STATE_PATH", state_path),
      BOOL("STATE_QUARANTINE", state_quarantine),
  };
  return t;
}

std::string json_scalar(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) {
      if (!out.empty()) out += ',';
      out += e.is_string() ? e.get<std::string>() : e.dump();
    }
    return out;
  }
  return v.dump();
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& e : table()) k.push_back(e.name);
    return k;
  }();
  return keys;
}

std::string relay_config::default_ws_url() const {
  return proto::ws_url_from_base(public_base_url)
      .value_or("ws://localhost:" + std::to_string(port) + "/ws");
}

std::map<std::string, std::string> read_environment() {
  std::map<std::string, std::string> env;
  for (const auto& k : config_keys())
    if (const char* v = std::getenv(k.c_str())) env[k] = v;
  return env;
}

std::string usage() {
  std::string s =
      "usage: relay-node [--config FILE] [--set KEY=VALUE]... [--host H] [--port N] "
      "[--print-config]\n"
      "Precedence: defaults < config file (JSON object, comments allowed) < environment < flags.\n"
      "Keys:";
  for (const auto& k : config_keys()) s += " " + k;
  return s + "\n";
}

std::string config_problem::to_string() const {
  std::string s = message;
  if (!source.empty()) {
    s += " (from " + source;
    if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
    s += ")";
  }
  return s;
}

namespace {

/// Where a value came from (the layer that set it last).
struct origin_of_value {
  std::string source;
  int line = 0, column = 0;
};

/// One load: every layer applied in order, every problem collected.
struct loader {
  relay_config c;
  std::optional<std::string> allowed_origins;  ///< raw; parsed after all layers
  std::map<std::string, origin_of_value> where;
  std::set<std::string> unparsed;  ///< keys whose last value was refused (already reported)
  std::vector<config_problem> problems;

  void add(const std::string& key, std::string msg, const origin_of_value& w) {
    problems.push_back({key, std::move(msg), w.source, w.line, w.column});
  }
  /// A problem with the effective value of `key`, located where that value was set.
  void add(const std::string& key, std::string msg) {
    auto w = where.find(key);
    add(key, std::move(msg), w == where.end() ? origin_of_value{} : w->second);
  }
  bool usable(const char* key) const { return !unparsed.count(key); }

  void set(const std::string& key, const std::string& value, const origin_of_value& w) {
    for (const auto& entry : table()) {
      if (entry.name != key) continue;
      where[key] = w;
      unparsed.erase(key);
      if (!entry.set) {
        allowed_origins = value;
      } else if (auto e = entry.set(c, value); !e.empty()) {
        unparsed.insert(key);
        add(key, e, w);
      }
      return;
    }
    add(key, "unknown key '" + key + "'.", w);
  }

  void read_file(const std::string& file) {
    const origin_of_value cli{"command line"};
    std::ifstream in(file);
    if (!in) return add("--config", "config file '" + file + "' cannot be read.", cli);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    auto pos = scan_key_positions(text);
    if (pos.syntax_error) {
      // nlohmann's message without its "last read: ..." echo (the file may hold secrets).
      auto& m = pos.syntax_message;
      auto b = m.find("syntax error");
      std::string what =
          b == std::string::npos ? "syntax error" : m.substr(b, m.find("; last read") - b);
      return add("--config", "config file is not valid JSON: " + what + ".",
                 {file, pos.syntax_error->line, pos.syntax_error->column});
    }
    auto j = proto::parse_untrusted(text, proto::max_json_depth, /*comments=*/true);
    if (j.is_discarded() || !j.is_object())
      return add("--config", "config file '" + file + "' is not a JSON object.", {file, 1, 1});
    for (auto it = j.begin(); it != j.end(); ++it) {
      auto p = pos.keys[it.key()];
      origin_of_value w{file, p.line, p.column};
      if (it->is_null() || it->is_object()) {
        where[it.key()] = w;
        unparsed.insert(it.key());
        add(it.key(), it.key() + " must be a scalar (string, number, boolean or array).", w);
        continue;
      }
      set(it.key(), json_scalar(*it), w);
    }
  }

  std::vector<std::string> parse_origins(const proto::url* base) {
    std::vector<std::string> origins;
    if (!allowed_origins) {
      if (base) origins = {base->origin(), "http://localhost:4173", "http://127.0.0.1:4173"};
      return origins;
    }
    std::stringstream ss(*allowed_origins);
    std::string part;
    while (std::getline(ss, part, ',')) {
      part = trim(part);
      if (part.empty()) continue;
      if (part == "*")
        origins.push_back("*");
      else if (auto o = proto::normalize_origin(part))
        origins.push_back(*o);
      else
        add("ALLOWED_ORIGINS", "ALLOWED_ORIGINS entry '" + part + "' is not an http(s) origin.");
    }
    return origins;
  }

  /// CONFIG_REFERENCE §3, in its order. The reference stops at the first failure of this chain
  /// (EXT, pinned by tests/integration/config.test.mjs), so the chain does too; every other
  /// check below is collected.
  void reference_chain(const std::optional<proto::url>& base,
                       const std::vector<std::string>& origins) {
    if (c.host.empty()) return add("HOST", "HOST must not be empty.");
    if (!base)
      return add("PUBLIC_BASE_URL",
                 "PUBLIC_BASE_URL is invalid: '" + c.public_base_url + "' is not an absolute URL.");
    if (base->scheme != "http" && base->scheme != "https")
      return add("PUBLIC_BASE_URL", "PUBLIC_BASE_URL must use http or https.");
    struct {
      const char* name;
      uint64_t value;
    } positive[] = {
        {"MAX_JSON_BYTES", c.max_json_bytes},
        {"MAX_PAIR_REQUESTS_PER_MINUTE", c.max_pair_requests_per_minute},
        {"MAX_DEVICES_PER_SESSION", c.max_devices_per_session},
        {"SESSION_RETENTION_MS", c.session_retention_ms},
        {"PAIR_APPROVAL_TIMEOUT_MS", c.pair_approval_timeout_ms},
        {"WS_AUTH_TIMEOUT_MS", c.ws_auth_timeout_ms},
        {"WS_HEARTBEAT_INTERVAL_MS", c.ws_heartbeat_interval_ms},
        {"WS_HEARTBEAT_TIMEOUT_MS", c.ws_heartbeat_timeout_ms},
        {"MAX_PENDING_JOIN_WAITERS", c.max_pending_join_waiters},
        {"MAX_WS_MESSAGE_BYTES", c.max_ws_message_bytes},
        {"MAX_SOCKET_OUTBOUND_QUEUE", c.max_socket_outbound_queue},
        {"MAX_ACTIVE_WEBSOCKET_CONNECTIONS", c.max_active_websocket_connections},
        {"MAX_REMOTE_COMMANDS_PER_MINUTE", c.max_remote_commands_per_minute},
        {"MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE", c.max_remote_session_commands_per_minute},
        {"MAX_SNAPSHOT_REQUESTS_PER_MINUTE", c.max_snapshot_requests_per_minute},
        {"MAX_WS_MESSAGES_PER_MINUTE", c.max_ws_messages_per_minute},
        {"MAX_REMOTE_COMMAND_TEXT_BYTES", c.max_remote_command_text_bytes}};
    for (const auto& p : positive)
      if (p.value == 0) return add(p.name, std::string(p.name) + " must be greater than 0.");
    if (c.ws_heartbeat_timeout_ms < c.ws_heartbeat_interval_ms &&
        usable("WS_HEARTBEAT_INTERVAL_MS") && usable("WS_HEARTBEAT_TIMEOUT_MS"))
      return add(
          "WS_HEARTBEAT_TIMEOUT_MS",
          "WS_HEARTBEAT_TIMEOUT_MS must be greater than or equal to WS_HEARTBEAT_INTERVAL_MS.");
    if (origins.empty() && usable("ALLOWED_ORIGINS"))
      return add("ALLOWED_ORIGINS", "ALLOWED_ORIGINS must contain at least one origin.");
    if (c.nats_url.empty()) return;
    if (c.nats_hmac_secret.empty())
      return add("NATS_HMAC_SECRET", "NATS_HMAC_SECRET must be set when NATS_URL is configured.");
    if (c.nats_hmac_secret.size() < 32)
      return add("NATS_HMAC_SECRET", "NATS_HMAC_SECRET must be at least 32 characters.");
    if (c.nats_replay_window_ms == 0)
      return add("NATS_REPLAY_WINDOW_MS", "NATS_REPLAY_WINDOW_MS must be greater than 0.");
    if (c.nats_max_clock_skew_ms == 0)
      return add("NATS_MAX_CLOCK_SKEW_MS", "NATS_MAX_CLOCK_SKEW_MS must be greater than 0.");
  }

  /// Our own keys and the values the reference accepted silently: all collected.
  void own_checks() {
    for (auto [name, value] :
         {std::pair<const char*, uint64_t>{"SWEEP_INTERVAL_MS", c.sweep_interval_ms},
          {"MAX_SESSIONS", c.max_sessions},
          {"WS_AUTH_FAILURE_WINDOW_MS", c.ws_auth_failure_window_ms},
          {"IO_THREADS", c.io_threads},
          {"ACTOR_THREADS", c.actor_threads}})
      if (value == 0) add(name, std::string(name) + " must be greater than 0.");
    for (auto [name, value] :
         {std::pair<const char*, uint64_t>{"MAX_WS_MESSAGE_BYTES", c.max_ws_message_bytes},
          {"MAX_JSON_BYTES", c.max_json_bytes}})
      if (value > 16 * 1024 * 1024) add(name, std::string(name) + " must be at most 16777216.");
    for (auto [name, value] : {std::pair<const char*, uint64_t>{"IO_THREADS", c.io_threads},
                               {"ACTOR_THREADS", c.actor_threads}})
      if (value > 64) add(name, std::string(name) + " must be at most 64.");
    if (c.tls_cert_file.empty() != c.tls_key_file.empty())
      add(c.tls_cert_file.empty() ? "TLS_CERT_FILE" : "TLS_KEY_FILE",
          "TLS_CERT_FILE and TLS_KEY_FILE must be set together.");
    if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
        c.log_level != "error")
      add("LOG_LEVEL", "LOG_LEVEL must be one of debug, info, warn, error.");
    if (!c.admin_token.empty() && c.admin_token.size() < 16)
      add("ADMIN_TOKEN", "ADMIN_TOKEN must be at least 16 characters.");
    // URLs may carry credentials: the messages never echo them.
    if (!c.redis_url.empty())
      if (auto r = persistence::parse_redis_url(c.redis_url); !r)
        add("REDIS_URL", "REDIS_URL is invalid: " + r.error);
    if (!c.nats_url.empty())
      if (auto e = nats_url_problem(c.nats_url); !e.empty())
        add("NATS_URL", "NATS_URL is invalid: " + e);
    state_checks();
  }

  /// STATE_PATH (embedded SQLite store) and REDIS_URL are two stores: one at a time.
  void state_checks() {
    if (!c.state_path.empty() && !c.redis_url.empty())
      add("STATE_PATH",
          "STATE_PATH and REDIS_URL are mutually exclusive (one state store: a local SQLite file "
          "or Redis); unset one of them.");
    if (!c.state_path.empty() && c.state_path.back() == '/')
      add("STATE_PATH", "STATE_PATH must name a file, not a directory.");
    if (c.state_quarantine && c.state_path.empty())
      add("STATE_QUARANTINE", "STATE_QUARANTINE needs STATE_PATH.");
  }

  /// nats.c takes a comma-separated server list; each entry
  /// `[nats|tls://][user[:pass]@]host[:port]`.
  static std::string nats_url_problem(const std::string& list) {
    std::stringstream ss(list);
    std::string part;
    int n = 0;
    while (std::getline(ss, part, ',')) {
      ++n;
      part = trim(part);
      auto scheme_end = part.find("://");
      if (scheme_end == std::string::npos) part = "nats://" + part;
      auto u = proto::parse_url(part);
      std::string which = "entry " + std::to_string(n);
      if (!u) return which + " is not a URL with a host.";
      if (u->scheme != "nats" && u->scheme != "tls") return which + " must use nats:// or tls://.";
      if (!(u->path.empty() || u->path == "/") || !u->query.empty() || !u->fragment.empty())
        return which + " must not have a path, query or fragment.";
    }
    return n == 0 ? "no server given." : "";
  }
};

}  // namespace

load_result load_config(int argc, char** argv, const std::map<std::string, std::string>& env) {
  load_result res;
  loader L;
  const origin_of_value cli{"command line"};
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      res.help = true;
      return res;
    } else if (a == "--print-config") {
      res.print_config = true;
    } else if (a == "--config" || a.rfind("--config=", 0) == 0) {
      auto v = a == "--config" ? next() : std::optional<std::string>(a.substr(9));
      if (!v)
        L.add("--config", "--config needs a file name.", cli);
      else
        res.config_file = *v;
    } else if (a == "--set") {
      auto v = next();
      auto eq = v ? v->find('=') : std::string::npos;
      if (!v || eq == std::string::npos)
        L.add("--set", "--set needs KEY=VALUE.", cli);
      else
        flags.emplace_back(v->substr(0, eq), v->substr(eq + 1));
    } else if (a == "--port" || a == "--host") {
      auto v = next();
      if (!v)
        L.add(a, a + " needs a value.", cli);
      else
        flags.emplace_back(a == "--port" ? "PORT" : "HOST", *v);
    } else {
      L.add(a, "unknown argument '" + a + "' (see --help).", cli);
    }
  }
  if (!res.config_file.empty()) L.read_file(res.config_file);
  for (const auto& [k, v] : env) L.set(k, v, {"environment"});
  for (const auto& [k, v] : flags) L.set(k, v, cli);

  auto& c = L.c;
  if (c.public_base_url.empty()) c.public_base_url = "http://localhost:" + std::to_string(c.port);
  auto base = proto::parse_url(c.public_base_url);
  auto origins = L.parse_origins(base ? &*base : nullptr);
  L.reference_chain(base, origins);
  L.own_checks();
  if (!L.problems.empty()) {
    for (const auto& p : L.problems) {
      if (!res.error.empty()) res.error += '\n';
      res.error += "invalid configuration: " + p.to_string();
    }
    res.problems = std::move(L.problems);
    return res;
  }
  c.allowed_origins = origins;
  if (c.max_open_connections == 0) c.max_open_connections = default_open_connections(c);
  if (c.max_preauth_websockets == 0) c.max_preauth_websockets = c.preauth_websockets();
  if (c.node_name.empty()) c.node_name = c.host + ":" + std::to_string(c.port);
  res.config = c;
  return res;
}

std::string describe(const relay_config& c) {
  // Secrets and URLs that may carry credentials are only reported as set or unset.
  static const char* hidden[] = {"ADMIN_TOKEN", "NATS_HMAC_SECRET", "REDIS_URL", "NATS_URL"};
  nlohmann::json j = nlohmann::json::object();
  for (const auto& e : table()) {
    auto v = e.get(c);
    for (auto h : hidden)
      if (e.name == h && v.is_string() && !v.get<std::string>().empty()) v = "[REDACTED]";
    j[e.name] = std::move(v);
  }
  return j.dump(2);
}

}  // namespace rc::settings
