#define CAF_SUITE persistence_redis_url
#include "caf/test/unit_test.hpp"

#include "persistence/redis_url.hpp"

using namespace rc::persistence;

CAF_TEST(plain host and port) {
  auto u = parse_redis_url("redis://127.0.0.1:6390");
  CAF_REQUIRE(u.ok());
  CAF_CHECK_EQUAL(u.value->host, "127.0.0.1");
  CAF_CHECK_EQUAL(u.value->port, 6390u);
  CAF_CHECK_EQUAL(u.value->db, 0);
  CAF_CHECK(u.value->password.empty());
  CAF_CHECK_EQUAL(u.value->redacted(), "redis://127.0.0.1:6390/0");
}

CAF_TEST(defaults and database) {
  auto u = parse_redis_url("REDIS://cache.internal/3");
  CAF_REQUIRE(u.ok());
  CAF_CHECK_EQUAL(u.value->host, "cache.internal");
  CAF_CHECK_EQUAL(u.value->port, 6379u);
  CAF_CHECK_EQUAL(u.value->db, 3);
  auto v = parse_redis_url("redis://h:1/");
  CAF_REQUIRE(v.ok());
  CAF_CHECK_EQUAL(v.value->db, 0);
}

CAF_TEST(password and user) {
  auto u = parse_redis_url("redis://:s3cr%40t@10.0.0.5:6380/2");
  CAF_REQUIRE(u.ok());
  CAF_CHECK_EQUAL(u.value->password, "s3cr@t");
  CAF_CHECK(u.value->username.empty());
  CAF_CHECK_EQUAL(u.value->host, "10.0.0.5");
  CAF_CHECK_EQUAL(u.value->port, 6380u);
  CAF_CHECK_EQUAL(u.value->db, 2);
  CAF_CHECK_EQUAL(u.value->redacted(), "redis://***@10.0.0.5:6380/2");
  auto w = parse_redis_url("redis://relay:pa/ss@h:1");
  CAF_REQUIRE(w.ok());
  CAF_CHECK_EQUAL(w.value->username, "relay");
  CAF_CHECK_EQUAL(w.value->password, "pa/ss");
  CAF_CHECK_EQUAL(w.value->host, "h");
}

CAF_TEST(ipv6 host) {
  auto u = parse_redis_url("redis://[::1]:7000/1");
  CAF_REQUIRE(u.ok());
  CAF_CHECK_EQUAL(u.value->host, "::1");
  CAF_CHECK_EQUAL(u.value->port, 7000u);
  CAF_CHECK_EQUAL(u.value->redacted(), "redis://[::1]:7000/1");
}

CAF_TEST(invalid urls are rejected without echoing secrets) {
  for (const char* bad :
       {"", "redis://", "http://h:1", "rediss://h:1", "redis://h:0", "redis://h:65536",
        "redis://h:abc", "redis://h:", "redis://h/x", "redis://h/-1", "redis://[::1",
        "redis://h?db=1", "redis://:p%zz@h", "redis://:hunter2@:5"}) {
    auto r = parse_redis_url(bad);
    CAF_CHECK(!r.ok());
    CAF_CHECK(!r.error.empty());
    CAF_CHECK(r.error.find("hunter2") == std::string::npos);
  }
}

CAF_TEST(redaction hides credentials) {
  CAF_CHECK_EQUAL(redact_url("redis://:hunter2@h:1/0"), "redis://***@h:1/0");
  CAF_CHECK_EQUAL(redact_url("redis://user:hunter2@h:1"), "redis://***@h:1");
  CAF_CHECK_EQUAL(redact_url("nats://user:hunter2@nats:4222"), "nats://***@nats:4222");
  CAF_CHECK_EQUAL(redact_url("nats://tok@nats:4222"), "nats://***@nats:4222");
  CAF_CHECK_EQUAL(redact_url("redis://:pa/ss@h:1"), "redis://***@h:1");
  CAF_CHECK_EQUAL(redact_url("redis://:p@ss@h:1"), "redis://***@h:1");
  CAF_CHECK_EQUAL(redact_url("redis://h:1/0"), "redis://h:1/0");
  CAF_CHECK_EQUAL(redact_url("garbage:hunter2@x"), "***@x");
  CAF_CHECK_EQUAL(redact_url(""), "");
}
