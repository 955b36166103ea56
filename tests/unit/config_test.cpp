// node/config: defaults < file < environment < flags, strict values, reference validation order.
#define CAF_SUITE relay_config
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "caf/test/unit_test.hpp"
#include "node/config.hpp"

using rc::node::load_config;

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
  auto text = rc::node::describe(*r.config);
  CAF_CHECK(text.find("admin-secret") == std::string::npos);
  CAF_CHECK(text.find(std::string(40, 's')) == std::string::npos);
  CAF_CHECK(text.find("u:p@") == std::string::npos);
}
