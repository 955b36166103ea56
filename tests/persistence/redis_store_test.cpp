#define CAF_SUITE persistence_redis_store
#include "caf/test/unit_test.hpp"

#include <optional>

#include <hiredis/hiredis.h>

#include "persistence/redis_store.hpp"
#include "test_records.hpp"
#include "test_servers.hpp"

using namespace rc::persistence;
using rc::test::fresh_session;
using rc::test::full_session;
using rc::test::str;

namespace {

struct fixture {
  rc::test::redis_server server;
  std::string prefix = "test:relay";
  bool started = server.start();

  redis_store_options options(std::string_view url_text = {}) {
    redis_store_options opts;
    auto url = parse_redis_url(url_text.empty() ? server.url() : std::string{url_text});
    if (url.ok()) opts.url = *url.value;
    opts.key_prefix = prefix;
    opts.connect_timeout = std::chrono::milliseconds{300};
    opts.command_timeout = std::chrono::milliseconds{300};
    opts.reconnect_backoff = std::chrono::milliseconds{0};
    return opts;
  }

  /// Runs one raw command against the test server; the reply as a string (or "(nil)").
  std::optional<std::string> raw(std::vector<std::string> args) {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", server.port(), tv);
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      return std::nullopt;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    std::optional<std::string> out;
    if (r != nullptr) {
      if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
          r->type == REDIS_REPLY_ERROR)
        out = std::string{r->str, r->len};
      else if (r->type == REDIS_REPLY_INTEGER)
        out = std::to_string(r->integer);
      else if (r->type == REDIS_REPLY_NIL)
        out = "(nil)";
      else
        out = "(array:" + std::to_string(r->elements) + ")";
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(redis_store_tests, fixture)

CAF_TEST(every record kind round trips) {
  CAF_REQUIRE(started);
  redis_store store{options()};
  CAF_CHECK(store.healthy());
  auto full = full_session("s-full");
  auto fresh = fresh_session("s-fresh");
  auto absent = fresh_session("s-absent");  // device without grace tokens
  absent.devices["d"].current_session_token = "K";
  absent.devices["d"].name = "Pixel";
  CAF_CHECK_EQUAL(str(store.save(full, 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(fresh, 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(absent, 7).status), "ok");
  for (const auto* rec : {&full, &fresh, &absent}) {
    auto got = store.load(rec->session_id);
    CAF_CHECK_EQUAL(str(got.status), "ok");
    CAF_REQUIRE(got.record.has_value());
    CAF_CHECK(*got.record == *rec);
  }
  CAF_CHECK_EQUAL(store.load("s-absent").version, 7u);
  // Exact key layout of §4.2.
  CAF_CHECK_EQUAL(raw({"GET", "test:relay:session:v1:s-full"}).value_or(""), to_json(full));
  CAF_CHECK_EQUAL(raw({"GET", "test:relay:session:version:v1:s-absent"}).value_or(""), "7");
  CAF_CHECK_EQUAL(raw({"SISMEMBER", "test:relay:sessions:index:v1", "s-fresh"}).value_or(""), "1");
  CAF_CHECK_EQUAL(raw({"SCARD", "test:relay:sessions:index:v1"}).value_or(""), "3");
  CAF_CHECK_EQUAL(raw({"TYPE", "test:relay:sessions:index:v1"}).value_or(""), "set");
  // A record written by another implementation (absent retired tokens, absent used_at).
  raw({"SET", "test:relay:session:v1:ext",
       R"({"schema_version":1,"session_id":"ext","join_token":"J","join_token_expires_at_ms":1,)"
       R"("desktop_session_token":"T","relay_web_socket_url":"wss://h/ws","idle_timeout_seconds":1,)"
       R"("created_at_ms":1,"last_activity_at_ms":1,"devices":{"D":{"current_session_token":"K",)"
       R"("name":"n","joined_at_ms":1,"last_seen_at_ms":1}}})"});
  raw({"SET", "test:relay:session:version:v1:ext", "12"});
  raw({"SADD", "test:relay:sessions:index:v1", "ext"});
  auto ext = store.load("ext");
  CAF_REQUIRE(ext.record.has_value());
  CAF_CHECK(ext.record->devices.at("D").retired_session_tokens.empty());
  CAF_CHECK_EQUAL(ext.version, 12u);
}

CAF_TEST(versioned write conflicts) {
  CAF_REQUIRE(started);
  redis_store store{options()};
  auto v5 = fresh_session("s");
  v5.join_token = "v5";
  CAF_CHECK_EQUAL(str(store.save(v5, 5).status), "ok");
  auto v4 = v5;
  v4.join_token = "v4";
  CAF_CHECK_EQUAL(str(store.save(v4, 4).status), "stale_version");
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5");
  CAF_CHECK_EQUAL(raw({"GET", "test:relay:session:version:v1:s"}).value_or(""), "5");
  auto v5b = v5;
  v5b.join_token = "v5b";
  CAF_CHECK_EQUAL(str(store.save(v5b, 5).status), "stale_version");  // equal version refused
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5");
  CAF_CHECK_EQUAL(str(store.save(v5b, 6).status), "ok");
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5b");
  // Delete with a stale version is a no-op.
  CAF_CHECK_EQUAL(str(store.remove("s", 3).status), "stale_version");
  CAF_CHECK(store.load("s").record.has_value());
  CAF_CHECK_EQUAL(str(store.remove("s", 6).status), "stale_version");  // equal: refused
  // Delete leaves the version as a tombstone.
  CAF_CHECK_EQUAL(str(store.remove("s", 7).status), "ok");
  CAF_CHECK_EQUAL(raw({"EXISTS", "test:relay:session:v1:s"}).value_or(""), "0");
  CAF_CHECK_EQUAL(raw({"SISMEMBER", "test:relay:sessions:index:v1", "s"}).value_or(""), "0");
  CAF_CHECK_EQUAL(raw({"GET", "test:relay:session:version:v1:s"}).value_or(""), "7");
  CAF_CHECK_EQUAL(raw({"TTL", "test:relay:session:version:v1:s"}).value_or(""), "-1");
  auto gone = store.load("s");
  CAF_CHECK_EQUAL(str(gone.status), "not_found");
  CAF_CHECK_EQUAL(gone.version, 7u);
  // A lower version save after delete is rejected; a higher one resurrects.
  CAF_CHECK_EQUAL(str(store.save(v5, 5).status), "stale_version");
  CAF_CHECK_EQUAL(raw({"EXISTS", "test:relay:session:v1:s"}).value_or(""), "0");
  CAF_CHECK(store.load_all().records.empty());
  CAF_CHECK_EQUAL(str(store.save(v5, 8).status), "ok");
  CAF_CHECK_EQUAL(store.load("s").version, 8u);
}

CAF_TEST(tombstone ttl is optional) {
  CAF_REQUIRE(started);
  auto opts = options();
  opts.tombstone_ttl = std::chrono::hours{1};
  redis_store store{opts};
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.remove("s", 2).status), "ok");
  auto ttl = std::stol(raw({"TTL", "test:relay:session:version:v1:s"}).value_or("-9"));
  CAF_CHECK(ttl > 3500 && ttl <= 3600);
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 3).status), "ok");  // SET clears the TTL
  CAF_CHECK_EQUAL(raw({"TTL", "test:relay:session:version:v1:s"}).value_or(""), "-1");
}

CAF_TEST(load_all sees writes from two instances) {
  CAF_REQUIRE(started);
  redis_store a{options()};
  redis_store b{options()};
  CAF_CHECK_EQUAL(str(a.save(full_session("from-a"), 3).status), "ok");
  CAF_CHECK_EQUAL(str(b.save(fresh_session("from-b"), 9).status), "ok");
  CAF_CHECK_EQUAL(str(b.save(fresh_session("shared"), 2).status), "ok");
  CAF_CHECK_EQUAL(str(a.save(full_session("shared"), 4).status), "ok");
  CAF_CHECK_EQUAL(str(b.save(fresh_session("shared"), 3).status), "stale_version");  // b is behind
  // Garbage and foreign-schema records are skipped but their versions count.
  raw({"SET", "test:relay:session:v1:bad", "{not json"});
  raw({"SET", "test:relay:session:version:v1:bad", "11"});
  raw({"SADD", "test:relay:sessions:index:v1", "bad"});
  raw({"SET", "test:relay:session:v1:v2", R"({"schema_version":2,"session_id":"v2"})"});
  raw({"SADD", "test:relay:sessions:index:v1", "v2"});
  raw({"SADD", "test:relay:sessions:index:v1", "ghost"});  // indexed but no record
  // Another prefix is invisible.
  auto other = options();
  other.key_prefix = "other:prefix";
  redis_store c{other};
  CAF_CHECK_EQUAL(str(c.save(fresh_session("elsewhere"), 1).status), "ok");
  for (auto* store : {&a, &b}) {
    auto all = store->load_all();
    CAF_CHECK_EQUAL(str(all.status), "ok");
    CAF_CHECK(!all.truncated);
    CAF_REQUIRE_EQUAL(all.records.size(), 3u);
    std::map<std::string, versioned_record> by_id;
    for (auto& vr : all.records) by_id.emplace(vr.record.session_id, vr);
    CAF_CHECK(by_id.at("from-a").record == full_session("from-a"));
    CAF_CHECK_EQUAL(by_id.at("from-a").version, 3u);
    CAF_CHECK(by_id.at("from-b").record == fresh_session("from-b"));
    CAF_CHECK_EQUAL(by_id.at("from-b").version, 9u);
    CAF_CHECK(by_id.at("shared").record == full_session("shared"));
    CAF_CHECK_EQUAL(by_id.at("shared").version, 4u);
    CAF_CHECK_EQUAL(all.skipped.size(), 3u);
    CAF_CHECK_EQUAL(all.max_version, 11u);
  }
  auto mine = c.load_all();
  CAF_REQUIRE_EQUAL(mine.records.size(), 1u);
  CAF_CHECK_EQUAL(mine.records[0].record.session_id, "elsewhere");
}

CAF_TEST(load_all is bounded and full is reported) {
  CAF_REQUIRE(started);
  auto opts = options();
  opts.max_sessions = 3;
  redis_store store{opts};
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(str(store.save(fresh_session("s" + std::to_string(i)), 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s3"), 1).status), "full");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s0"), 2).status), "ok");  // update is fine
  for (int i = 3; i < 1200; ++i)  // written behind the store's back
    raw({"SADD", "test:relay:sessions:index:v1", "x" + std::to_string(i)});
  auto all = store.load_all();
  CAF_CHECK_EQUAL(str(all.status), "ok");
  CAF_CHECK(all.truncated);
  CAF_CHECK_EQUAL(all.records.size() + all.skipped.size(), 3u);
}

CAF_TEST(scripts are reloaded after SCRIPT FLUSH) {
  CAF_REQUIRE(started);
  redis_store store{options()};
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "ok");
  CAF_CHECK_EQUAL(raw({"SCRIPT", "FLUSH"}).value_or(""), "OK");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 2).status), "ok");
  CAF_CHECK_EQUAL(raw({"SCRIPT", "FLUSH"}).value_or(""), "OK");
  CAF_CHECK_EQUAL(str(store.remove("s", 3).status), "ok");
  CAF_CHECK_EQUAL(raw({"GET", "test:relay:session:version:v1:s"}).value_or(""), "3");
}

CAF_TEST(unavailable while redis is down and recovers after restart) {
  CAF_REQUIRE(started);
  redis_store store{options()};
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "ok");
  CAF_CHECK(store.connected());
  server.kill();  // SIGKILL mid-test
  auto down = store.save(fresh_session("s"), 2);
  CAF_CHECK_EQUAL(str(down.status), "unavailable");
  CAF_CHECK(!down.error.empty());
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 2).status), "unavailable");
  CAF_CHECK_EQUAL(str(store.load("s").status), "unavailable");
  CAF_CHECK_EQUAL(str(store.remove("s", 2).status), "unavailable");
  CAF_CHECK_EQUAL(str(store.load_all().status), "unavailable");
  CAF_CHECK(!store.healthy());
  CAF_CHECK(!store.connected());
  CAF_REQUIRE(server.start());  // same port, empty (no persistence)
  CAF_CHECK(store.healthy());
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 3).status), "ok");
  CAF_CHECK_EQUAL(store.load("s").version, 3u);
}

CAF_TEST(command timeout on a frozen server) {
  CAF_REQUIRE(started);
  redis_store store{options()};
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "ok");
  server.process()->stop();  // SIGSTOP: the socket stays open, nothing answers
  auto t0 = std::chrono::steady_clock::now();
  auto res = store.save(fresh_session("s"), 2);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_CHECK_EQUAL(str(res.status), "unavailable");
  CAF_CHECK(took < std::chrono::seconds{3});
  server.process()->resume();
  CAF_CHECK(rc::test::wait_until([&] { return store.healthy(); }));
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 3).status), "ok");
}

CAF_TEST(unreachable at start) {
  CAF_REQUIRE(started);
  auto opts = options();
  opts.url.port = rc::test::free_port();
  opts.reconnect_backoff = std::chrono::seconds{30};
  redis_store store{opts};
  auto all = store.load_all();
  CAF_CHECK_EQUAL(str(all.status), "unavailable");
  CAF_CHECK(all.records.empty());
  // Within the backoff the store fails fast without connecting.
  auto t0 = std::chrono::steady_clock::now();
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "unavailable");
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds{50});
  CAF_CHECK(store.last_error().find("backoff") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(password protected redis and credential hygiene) {
  rc::test::redis_server server{"hunter2-secret"};
  CAF_REQUIRE(server.start());
  auto good = parse_redis_url(server.url());
  CAF_REQUIRE(good.ok());
  redis_store_options opts;
  opts.url = *good.value;
  opts.reconnect_backoff = std::chrono::milliseconds{0};
  redis_store store{opts};
  CAF_CHECK(store.healthy());
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 1).status), "ok");
  auto all = store.load_all();
  CAF_CHECK_EQUAL(all.records.size(), 1u);
  // Default prefix.
  CAF_CHECK_EQUAL(redis_record_key(default_redis_key_prefix, "s"),
                  "codexchat:remote-control:relay:session:v1:s");
  CAF_CHECK_EQUAL(redis_version_key(default_redis_key_prefix, "s"),
                  "codexchat:remote-control:relay:session:version:v1:s");
  CAF_CHECK_EQUAL(redis_index_key(default_redis_key_prefix),
                  "codexchat:remote-control:relay:sessions:index:v1");
  // Wrong password: unavailable, and the error never contains either password.
  auto bad = parse_redis_url("redis://:wrong-pass@127.0.0.1:" + std::to_string(server.port()));
  CAF_REQUIRE(bad.ok());
  opts.url = *bad.value;
  redis_store denied{opts};
  auto res = denied.save(fresh_session("s"), 2);
  CAF_CHECK_EQUAL(str(res.status), "unavailable");
  CAF_CHECK(!denied.healthy());
  CAF_CHECK(res.error.find("wrong-pass") == std::string::npos);
  CAF_CHECK(res.error.find("hunter2") == std::string::npos);
  CAF_CHECK(denied.last_error().find("wrong-pass") == std::string::npos);
  CAF_CHECK(denied.last_error().find("***@") != std::string::npos);
  CAF_MESSAGE("redacted error: " << denied.last_error());
}
