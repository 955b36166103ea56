// settings/config: defaults < file < environment < flags, strict values, reference validation
// order.
#define CAF_SUITE relay_config
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "caf/test/unit_test.hpp"
#include "settings/config.hpp"

using rc::settings::load_config;

namespace {

struct argv_builder {
  std::vector<std::string> args;
  std::vector<char*> ptrs;
  explicit argv_builder(std::vector<std::string> a) : args(std::move(a)) {
    args.insert(args.begin(), "relay-node");
    for (auto& s : args) ptrs.push_back(s.data());
  }
  int argc() { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
};

std::string write_file(const std::string& body) {
  char name[] = "/tmp/rc-config-XXXXXX";
  int fd = mkstemp(name);
  CAF_REQUIRE(fd >= 0);
  std::FILE* f = fdopen(fd, "w");
  std::fputs(body.c_str(), f);
  std::fclose(f);
  return name;
}

}  // namespace

CAF_TEST(defaults match the reference) {
  argv_builder a({});
  auto r = load_config(a.argc(), a.argv(), {});
  CAF_REQUIRE(r.config.has_value());
  CAF_CHECK_EQUAL(r.config->port, 8787u);
  CAF_CHECK_EQUAL(r.config->host, "0.0.0.0");
  CAF_CHECK_EQUAL(r.config->max_devices_per_session, 2u);
  CAF_CHECK_EQUAL(r.config->token_rotation_grace_ms, 30000u);
  CAF_CHECK_EQUAL(r.config->public_base_url, "http://localhost:8787");
  CAF_CHECK_EQUAL(r.config->allowed_origins.size(), 3u);
  CAF_CHECK_EQUAL(r.config->default_ws_url(), "ws://localhost:8787/ws");
}

CAF_TEST(precedence is defaults then file then environment then flags) {
  auto file = write_file(R"({ // comments are allowed
    "PORT": 9001, "MAX_DEVICES_PER_SESSION": 5, "LOG_LEVEL": "warn", "TRUST_PROXY": true })");
  argv_builder a({"--config", file, "--port", "9003"});
  auto r = load_config(a.argc(), a.argv(), {{"PORT", "9002"}, {"MAX_DEVICES_PER_SESSION", "6"}});
  std::remove(file.c_str());
  CAF_REQUIRE(r.config.has_value());
  CAF_CHECK_EQUAL(r.config->port, 9003u);                  // flag wins
  CAF_CHECK_EQUAL(r.config->max_devices_per_session, 6u);  // env beats file
  CAF_CHECK_EQUAL(r.config->log_level, "warn");            // file beats default
  CAF_CHECK_EQUAL(r.config->trust_proxy, true);
  argv_builder b({"--set", "MAX_DEVICES_PER_SESSION=7"});
  auto r2 = load_config(b.argc(), b.argv(), {{"MAX_DEVICES_PER_SESSION", "6"}});
  CAF_REQUIRE(r2.config.has_value());
  CAF_CHECK_EQUAL(r2.config->max_devices_per_session, 7u);
}

CAF_TEST(bad values are refused naming the key and the source) {
  struct {
    std::map<std::string, std::string> env;
    std::string needle;
  } cases[] = {{{{"PORT", "abc"}}, "PORT"},
               {{{"MAX_JSON_BYTES", "0"}}, "MAX_JSON_BYTES must be greater than 0"},
               {{{"PUBLIC_BASE_URL", "not-a-url"}}, "PUBLIC_BASE_URL"},
               {{{"ALLOWED_ORIGINS", " , "}}, "ALLOWED_ORIGINS"},
               {{{"NATS_URL", "nats://127.0.0.1:4222"}}, "NATS_HMAC_SECRET"},
               {{{"NATS_URL", "nats://x"}, {"NATS_HMAC_SECRET", "short"}}, "at least 32"},
               {{{"TLS_CERT_FILE", "/x.pem"}}, "TLS_KEY_FILE"},
               {{{"ADMIN_TOKEN", "short"}}, "ADMIN_TOKEN"},
               {{{"WS_HEARTBEAT_INTERVAL_MS", "5000"}, {"WS_HEARTBEAT_TIMEOUT_MS", "1000"}},
                "WS_HEARTBEAT_TIMEOUT_MS"},
               {{{"TRUST_PROXY", "maybe"}}, "TRUST_PROXY"}};
  for (auto& c : cases) {
    argv_builder a({});
    auto r = load_config(a.argc(), a.argv(), c.env);
    CAF_CHECK(!r.config.has_value());
    CAF_CHECK(r.error.rfind("invalid configuration: ", 0) == 0);
    if (r.error.find(c.needle) == std::string::npos)
      CAF_FAIL("'" << r.error << "' lacks '" << c.needle << "'");
  }
  auto file = write_file(R"({"NO_SUCH_KEY": 1})");
  argv_builder a({"--config", file});
  auto r = load_config(a.argc(), a.argv(), {});
  std::remove(file.c_str());
  CAF_CHECK(!r.config.has_value());
  CAF_CHECK(r.error.find("NO_SUCH_KEY") != std::string::npos);
  argv_builder b({"--bogus"});
  CAF_CHECK(!load_config(b.argc(), b.argv(), {}).config.has_value());
}

CAF_TEST(secrets are redacted in the printed config) {
  argv_builder a({});
  auto r = load_config(a.argc(), a.argv(),
                       {{"ADMIN_TOKEN", "admin-secret-0123456789"},
                        {"NATS_URL", "nats://u:p@127.0.0.1:4222"},
                        {"NATS_HMAC_SECRET", std::string(40, 's')}});
  CAF_REQUIRE(r.config.has_value());
  auto text = rc::settings::describe(*r.config);
  CAF_CHECK(text.find("admin-secret") == std::string::npos);
  CAF_CHECK(text.find(std::string(40, 's')) == std::string::npos);
  CAF_CHECK(text.find("u:p@") == std::string::npos);
}

// ---- every problem, with its key and position ------------------------------------------------

namespace {

using rc::settings::config_problem;

/// The problem about `key`, or a failed check.
const config_problem* find_problem(const rc::settings::load_result& r, const std::string& key) {
  for (const auto& p : r.problems)
    if (p.key == key) return &p;
  CAF_FAIL("no problem about " << key << " in:\n" << r.error);
  return nullptr;
}

rc::settings::load_result load_env(const std::map<std::string, std::string>& env) {
  argv_builder a({});
  return load_config(a.argc(), a.argv(), env);
}

rc::settings::load_result load_file(const std::string& body) {
  auto file = write_file(body);
  argv_builder a({"--config", file});
  auto r = load_config(a.argc(), a.argv(), {});
  std::remove(file.c_str());
  return r;
}

}  // namespace

CAF_TEST(every problem is reported together one line each) {
  auto r = load_env({{"PORT", "abc"},
                     {"TRUST_PROXY", "maybe"},
                     {"LOG_LEVEL", "loud"},
                     {"REDIS_URL", "http://127.0.0.1:6379"},
                     {"NATS_URL", "nats://"},
                     {"NATS_HMAC_SECRET", std::string(40, 'k')},
                     {"ALLOWED_ORIGINS", "http://ok.example, not an origin"}});
  CAF_REQUIRE(!r.config.has_value());
  CAF_CHECK_EQUAL(r.problems.size(), 6u);
  for (auto key : {"PORT", "TRUST_PROXY", "LOG_LEVEL", "REDIS_URL", "NATS_URL", "ALLOWED_ORIGINS"})
    CAF_CHECK_EQUAL(find_problem(r, key)->source, "environment");
  std::size_t lines = 0, pos = 0;
  while (pos < r.error.size()) {
    CAF_CHECK(r.error.compare(pos, 23, "invalid configuration: ") == 0);
    ++lines;
    auto nl = r.error.find('\n', pos);
    pos = nl == std::string::npos ? r.error.size() : nl + 1;
  }
  CAF_CHECK_EQUAL(lines, 6u);
}

CAF_TEST(config file problems carry line and column) {
  auto r = load_file(
      "{\n"
      "  // a comment\n"
      "  \"PORT\": 9000,\n"
      "  \"NO_SUCH_KEY\": 1,\n"
      "    \"MAX_JSON_BYTES\": \"abc\",\n"
      "  \"HOST\": {\"nested\": true}, \"we\\\"ird\": 2\n"
      "}\n");
  CAF_REQUIRE(!r.config.has_value());
  CAF_CHECK_EQUAL(r.problems.size(), 4u);
  auto unknown = find_problem(r, "NO_SUCH_KEY");
  CAF_CHECK_EQUAL(unknown->line, 4);
  CAF_CHECK_EQUAL(unknown->column, 3);
  auto bad = find_problem(r, "MAX_JSON_BYTES");
  CAF_CHECK_EQUAL(bad->line, 5);
  CAF_CHECK_EQUAL(bad->column, 5);
  CAF_CHECK(bad->message.find("unsigned integer") != std::string::npos);
  auto scalar = find_problem(r, "HOST");
  CAF_CHECK_EQUAL(scalar->line, 6);
  CAF_CHECK_EQUAL(scalar->column, 3);
  auto escaped = find_problem(r, "we\"ird");  // key with an escaped quote
  CAF_CHECK_EQUAL(escaped->line, 6);
  CAF_CHECK_EQUAL(escaped->column, 29);
  CAF_CHECK(r.error.find(":5:5)") != std::string::npos);
}

CAF_TEST(config file syntax errors carry line and column and never echo the file) {
  auto r = load_file("{\n  \"PORT\": 9000,\n  \"ADMIN_TOKEN\" \"secret-value-xyz\"\n}\n");
  CAF_REQUIRE(!r.config.has_value());
  CAF_REQUIRE_EQUAL(r.problems.size(), 1u);
  auto& p = r.problems[0];
  CAF_CHECK_EQUAL(p.key, "--config");
  CAF_CHECK_EQUAL(p.line, 3);
  CAF_CHECK_GREATER(p.column, 14);
  CAF_CHECK(p.message.find("not valid JSON") != std::string::npos);
  CAF_CHECK(r.error.find("secret-value") == std::string::npos);
  auto arr = load_file("[1, 2]");
  CAF_CHECK(find_problem(arr, "--config")->message.find("not a JSON object") != std::string::npos);
  argv_builder missing({"--config", "/nonexistent/rc-config.json"});
  auto m = load_config(missing.argc(), missing.argv(), {});
  CAF_CHECK(find_problem(m, "--config")->message.find("cannot be read") != std::string::npos);
}

CAF_TEST(command line problems are all collected) {
  argv_builder a({"--bogus", "--set", "NOEQUALS", "--set", "MAX_JSON_BYTES=x", "--port"});
  auto r = load_config(a.argc(), a.argv(), {});
  CAF_REQUIRE(!r.config.has_value());
  CAF_CHECK_EQUAL(r.problems.size(), 4u);
  find_problem(r, "--bogus");
  find_problem(r, "--set");
  find_problem(r, "--port");
  CAF_CHECK_EQUAL(find_problem(r, "MAX_JSON_BYTES")->source, "command line");
}

CAF_TEST(urls that were accepted silently are refused without echoing credentials) {
  for (const char* bad : {"http://127.0.0.1:6379", "redis://", "rediss://h:6380", "not a url"}) {
    auto r = load_env({{"REDIS_URL", bad}});
    CAF_CHECK(!r.config.has_value());
    CAF_CHECK(find_problem(r, "REDIS_URL")->message.rfind("REDIS_URL is invalid", 0) == 0);
  }
  auto secret = load_env({{"REDIS_URL", "redis://:hunter2@host:notaport"}});
  CAF_CHECK(!secret.config.has_value());
  CAF_CHECK(secret.error.find("hunter2") == std::string::npos);
  const std::string hmac(40, 'k');
  for (const char* bad : {"http://127.0.0.1:4222", "nats://", "nats://h:4222/path",
                          "nats://h:99999", "nats://a:4222,,nats://b:4222"}) {
    auto r = load_env({{"NATS_URL", bad}, {"NATS_HMAC_SECRET", hmac}});
    CAF_CHECK(!r.config.has_value());
    if (r.config)
      CAF_FAIL("NATS_URL '" << bad << "' was accepted");
    else
      CAF_CHECK(find_problem(r, "NATS_URL")->message.rfind("NATS_URL is invalid", 0) == 0);
  }
  auto nsecret = load_env({{"NATS_URL", "nats://u:pa55word@h:4222/x"}, {"NATS_HMAC_SECRET", hmac}});
  CAF_CHECK(!nsecret.config.has_value());
  CAF_CHECK(nsecret.error.find("pa55word") == std::string::npos);
  for (const char* good : {"nats://127.0.0.1:4222", "nats://a:4222, nats://b:4223", "tls://u:p@h:1",
                           "127.0.0.1:4222"}) {
    auto r = load_env({{"NATS_URL", good}, {"NATS_HMAC_SECRET", hmac}});
    if (!r.config) CAF_FAIL("NATS_URL '" << good << "' refused: " << r.error);
  }
  CAF_CHECK(load_env({{"REDIS_URL", "redis://:pw@127.0.0.1:6390/2"}}).config.has_value());
}

CAF_TEST(STATE_PATH selects the sqlite store and excludes REDIS_URL) {
  auto ok = load_env({{"STATE_PATH", " /var/lib/rc/relay.db "}, {"STATE_QUARANTINE", "1"}});
  CAF_REQUIRE(ok.config.has_value());
  CAF_CHECK_EQUAL(ok.config->state_path, "/var/lib/rc/relay.db");
  CAF_CHECK(ok.config->state_quarantine);
  auto both = load_env({{"STATE_PATH", "/tmp/x.db"}, {"REDIS_URL", "redis://127.0.0.1:6379"}});
  CAF_CHECK(!both.config.has_value());
  CAF_CHECK(find_problem(both, "STATE_PATH")->message.find("mutually exclusive") !=
            std::string::npos);
  CAF_CHECK(!load_env({{"STATE_PATH", "/var/lib/rc/"}}).config.has_value());
  CAF_CHECK(!load_env({{"STATE_QUARANTINE", "true"}}).config.has_value());
  CAF_CHECK(!load_env({{"STATE_PATH", "/tmp/x.db"}, {"STATE_QUARANTINE", "maybe"}}).config);
  CAF_CHECK(load_env({}).config->state_path.empty());
}

CAF_TEST(invalid ALLOWED_ORIGINS entries are refused while empty entries and star are fine) {
  auto r = load_env({{"ALLOWED_ORIGINS", "http://localhost:4173, null ,ftp://x.example"}});
  CAF_REQUIRE(!r.config.has_value());
  CAF_CHECK_EQUAL(r.problems.size(), 2u);
  CAF_CHECK(r.error.find("'null'") != std::string::npos);
  CAF_CHECK(r.error.find("'ftp://x.example'") != std::string::npos);
  auto ok = load_env({{"ALLOWED_ORIGINS", " https://app.example:443/ ,, *"}});
  CAF_REQUIRE(ok.config.has_value());
  CAF_CHECK_EQUAL(ok.config->allowed_origins.size(), 2u);
  CAF_CHECK_EQUAL(ok.config->allowed_origins[0], "https://app.example");
}

CAF_TEST(the reference chain stops at its first failure and other problems still show) {
  auto r =
      load_env({{"PUBLIC_BASE_URL", "not-a-url"}, {"MAX_JSON_BYTES", "0"}, {"LOG_LEVEL", "x"}});
  CAF_REQUIRE(!r.config.has_value());
  CAF_CHECK_EQUAL(r.problems.size(), 2u);
  find_problem(r, "PUBLIC_BASE_URL");
  find_problem(r, "LOG_LEVEL");
  CAF_CHECK(r.error.find("MAX_JSON_BYTES") == std::string::npos);
  auto limits = load_env({{"MAX_WS_MESSAGE_BYTES", "16777217"},
                          {"IO_THREADS", "65"},
                          {"ACTOR_THREADS", "0"},
                          {"TLS_KEY_FILE", "/k.pem"},
                          {"ADMIN_TOKEN", "x"}});
  CAF_CHECK_EQUAL(limits.problems.size(), 5u);
  for (auto key :
       {"MAX_WS_MESSAGE_BYTES", "IO_THREADS", "ACTOR_THREADS", "TLS_CERT_FILE", "ADMIN_TOKEN"})
    find_problem(limits, key);
}

CAF_TEST(the example config files load without problems) {
  for (const char* name : {"single-node.json", "behind-proxy.json", "tls.json",
                           "cluster/node-a.json", "cluster/node-b.json", "cluster/node-c.json"}) {
    argv_builder a({"--config", std::string(RC_SOURCE_DIR) + "/config/" + name});
    auto r = load_config(a.argc(), a.argv(), {});
    if (!r.config) CAF_FAIL(name << ": " << r.error);
  }
}
