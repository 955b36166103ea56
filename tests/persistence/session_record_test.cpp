#define CAF_SUITE persistence_record
#include "caf/test/unit_test.hpp"

#include <nlohmann/json.hpp>

#include "persistence/session_record.hpp"
#include "test_records.hpp"

using namespace rc::persistence;
using rc::test::fresh_session;
using rc::test::full_session;

namespace {

// The record example of CONFIG_REFERENCE §4.2, verbatim.
constexpr const char* reference_example =
    R"({"schema_version":1,"session_id":"S","join_token":"J","join_token_expires_at_ms":1741760569000,
 "join_token_used_at_ms":null,"desktop_session_token":"T","relay_web_socket_url":"wss://h/ws",
 "idle_timeout_seconds":1800,"created_at_ms":1741760449000,"last_activity_at_ms":1741760450000,
 "devices":{"D":{"current_session_token":"K2","retired_session_tokens":[{"token":"K1","expires_at_ms":1741760480000}],
 "name":"iPhone","joined_at_ms":1741760450000,"last_seen_at_ms":1741760450000}}})";

std::string with(const std::string& key, const std::string& raw_value) {
  auto doc = nlohmann::json::parse(to_json(full_session()));
  doc[key] = nlohmann::json::parse(raw_value);
  return doc.dump();
}

std::string without(const std::string& key) {
  auto doc = nlohmann::json::parse(to_json(full_session()));
  doc.erase(key);
  return doc.dump();
}

}  // namespace

CAF_TEST(session with devices and grace tokens round trips) {
  auto rec = full_session();
  auto back = from_json(to_json(rec));
  CAF_REQUIRE(back.ok());
  CAF_CHECK(*back.value == rec);
  CAF_CHECK_EQUAL(back.value->devices.at("dev-phone").retired_session_tokens.size(), 2u);
  CAF_CHECK_EQUAL(back.value->devices.at("dev-phone").name, "iPhone \"Pro\" / Zoë 📱");
  CAF_CHECK_EQUAL(*back.value->join_token_used_at_ms, 1741760460000);
}

CAF_TEST(fresh session with null used_at round trips) {
  auto rec = fresh_session();
  auto text = to_json(rec);
  CAF_CHECK(text.find("\"join_token_used_at_ms\":null") != std::string::npos);
  CAF_CHECK(text.find("\"devices\":{}") != std::string::npos);
  auto back = from_json(text);
  CAF_REQUIRE(back.ok());
  CAF_CHECK(*back.value == rec);
  CAF_CHECK(!back.value->join_token_used_at_ms.has_value());
}

CAF_TEST(reference example parses) {
  auto rec = from_json(reference_example);
  CAF_REQUIRE(rec.ok());
  const auto& r = *rec.value;
  CAF_CHECK_EQUAL(r.session_id, "S");
  CAF_CHECK_EQUAL(r.join_token, "J");
  CAF_CHECK_EQUAL(r.join_token_expires_at_ms, 1741760569000);
  CAF_CHECK(!r.join_token_used_at_ms.has_value());
  CAF_CHECK_EQUAL(r.desktop_session_token, "T");
  CAF_CHECK_EQUAL(r.relay_web_socket_url, "wss://h/ws");
  CAF_CHECK_EQUAL(r.idle_timeout_seconds, 1800u);
  CAF_CHECK_EQUAL(r.created_at_ms, 1741760449000);
  CAF_CHECK_EQUAL(r.last_activity_at_ms, 1741760450000);
  CAF_REQUIRE_EQUAL(r.devices.size(), 1u);
  const auto& d = r.devices.at("D");
  CAF_CHECK_EQUAL(d.current_session_token, "K2");
  CAF_REQUIRE_EQUAL(d.retired_session_tokens.size(), 1u);
  CAF_CHECK_EQUAL(d.retired_session_tokens[0].token, "K1");
  CAF_CHECK_EQUAL(d.retired_session_tokens[0].expires_at_ms, 1741760480000);
  CAF_CHECK_EQUAL(d.name, "iPhone");
  CAF_CHECK_EQUAL(d.joined_at_ms, 1741760450000);
  CAF_CHECK_EQUAL(d.last_seen_at_ms, 1741760450000);
}

CAF_TEST(serialisation matches the reference layout byte for byte) {
  auto rec = from_json(reference_example);
  CAF_REQUIRE(rec.ok());
  std::string compact = reference_example;
  // The document wraps its example: drop each "\n " line break.
  for (auto pos = compact.find("\n "); pos != std::string::npos; pos = compact.find("\n "))
    compact.erase(pos, 2);
  CAF_CHECK_EQUAL(to_json(*rec.value), compact);
}

CAF_TEST(absent retired tokens and absent used_at are accepted) {
  std::string text = R"({"schema_version":1,"session_id":"S","join_token":"J",)"
                     R"("join_token_expires_at_ms":1,"desktop_session_token":"T",)"
                     R"("relay_web_socket_url":"wss://h/ws","idle_timeout_seconds":0,)"
                     R"("created_at_ms":0,"last_activity_at_ms":0,"future_key":[1,2],)"
                     R"("devices":{"D":{"current_session_token":"K","name":"n",)"
                     R"("joined_at_ms":5,"last_seen_at_ms":6}}})";
  auto rec = from_json(text);
  CAF_REQUIRE(rec.ok());
  CAF_CHECK(!rec.value->join_token_used_at_ms.has_value());
  CAF_CHECK(rec.value->devices.at("D").retired_session_tokens.empty());
  // Written back, the empty list is explicit and the record round trips.
  auto again = from_json(to_json(*rec.value));
  CAF_REQUIRE(again.ok());
  CAF_CHECK(*again.value == *rec.value);
}

CAF_TEST(bad records are rejected as values) {
  CAF_CHECK(!from_json("").ok());
  CAF_CHECK(!from_json("{").ok());
  CAF_CHECK(!from_json("[]").ok());
  CAF_CHECK(!from_json("null").ok());
  CAF_CHECK(!from_json(with("schema_version", "2")).ok());
  CAF_CHECK(!from_json(with("schema_version", "0")).ok());
  CAF_CHECK(!from_json(with("schema_version", "\"1\"")).ok());
  CAF_CHECK(!from_json(without("schema_version")).ok());
  CAF_CHECK(!from_json(without("session_id")).ok());
  CAF_CHECK(!from_json(without("devices")).ok());
  CAF_CHECK(!from_json(without("idle_timeout_seconds")).ok());
  CAF_CHECK(!from_json(with("session_id", "\"\"")).ok());
  CAF_CHECK(!from_json(with("session_id", "42")).ok());
  CAF_CHECK(!from_json(with("created_at_ms", "-1")).ok());
  CAF_CHECK(!from_json(with("created_at_ms", "1.5")).ok());
  CAF_CHECK(!from_json(with("created_at_ms", "18446744073709551615")).ok());
  CAF_CHECK(!from_json(with("join_token_used_at_ms", "\"x\"")).ok());
  CAF_CHECK(!from_json(with("idle_timeout_seconds", "-5")).ok());
  CAF_CHECK(!from_json(with("devices", "[]")).ok());
  CAF_CHECK(!from_json(with("devices", R"({"D":1})")).ok());
  CAF_CHECK(
      !from_json(
           with(
               "devices",
               R"({"":{"current_session_token":"K","name":"n","joined_at_ms":5,"last_seen_at_ms":6}})"))
           .ok());
  CAF_CHECK(
      !from_json(
           with(
               "devices",
               R"({"D":{"current_session_token":"K","name":"n","joined_at_ms":5,"last_seen_at_ms":6,"retired_session_tokens":[{"token":"x"}]}})"))
           .ok());
  CAF_CHECK(
      !from_json(
           with(
               "devices",
               R"({"D":{"current_session_token":"K","name":"n","joined_at_ms":5,"last_seen_at_ms":6,"retired_session_tokens":{}}})"))
           .ok());
  CAF_CHECK(
      !from_json(with("devices", R"({"D":{"name":"n","joined_at_ms":5,"last_seen_at_ms":6}})"))
           .ok());
  auto err = from_json(with("schema_version", "2"));
  CAF_CHECK_EQUAL(err.error, "unsupported schema_version");
  // Invalid UTF-8 is a parse error, not an exception.
  CAF_CHECK(!from_json(std::string{"{\"schema_version\":1,\"session_id\":\"\xff\"}"}).ok());
}

CAF_TEST(oversized input is rejected) {
  std::string big(max_record_bytes + 1, ' ');
  auto res = from_json(big);
  CAF_CHECK(!res.ok());
  CAF_CHECK_EQUAL(res.error, "record too large");
}

CAF_TEST(invalid utf8 in a field does not throw on serialisation) {
  auto rec = fresh_session();
  rec.devices["d"].name = std::string{"bad\xff"};
  auto text = to_json(rec);
  auto back = from_json(text);
  CAF_REQUIRE(back.ok());
  CAF_CHECK_EQUAL(back.value->devices.at("d").name, "bad\xEF\xBF\xBD");
}

CAF_TEST(merge3 keeps the changes of both writers) {
  auto base = fresh_session("S");
  base.last_activity_at_ms = 10;
  base.devices["D1"] = device_record{"t1", {}, "one", 10, 10};
  base.devices["D2"] = device_record{"t2", {}, "two", 10, 10};
  // Mine: desktop token changed, D1 rotated, D2 revoked, D3 joined.
  auto mine = base;
  mine.desktop_session_token = "desk-mine";
  mine.devices["D1"].current_session_token = "t1b";
  mine.devices["D1"].retired_session_tokens = {{"t1", 99}};
  mine.devices.erase("D2");
  mine.devices["D3"] = device_record{"t3", {}, "three", 20, 20};
  mine.last_activity_at_ms = 50;
  // Theirs: join token used, D1 seen later, D4 joined.
  auto theirs = base;
  theirs.join_token_used_at_ms = 30;
  theirs.devices["D1"].last_seen_at_ms = 40;
  theirs.devices["D4"] = device_record{"t4", {}, "four", 30, 30};
  theirs.last_activity_at_ms = 60;
  auto m = merge3(base, mine, theirs);
  CAF_CHECK_EQUAL(m.desktop_session_token, "desk-mine");
  CAF_CHECK(m.join_token_used_at_ms == std::optional<std::int64_t>{30});
  CAF_CHECK_EQUAL(m.last_activity_at_ms, 60);
  CAF_REQUIRE_EQUAL(m.devices.size(), 3u);  // D1, D3, D4 (D2 revoked)
  CAF_CHECK_EQUAL(m.devices["D1"].current_session_token, "t1b");
  CAF_CHECK_EQUAL(m.devices["D1"].retired_session_tokens.size(), 1u);
  CAF_CHECK_EQUAL(m.devices["D1"].last_seen_at_ms, 40);
  CAF_CHECK_EQUAL(m.devices.count("D2"), 0u);
  CAF_CHECK_EQUAL(m.devices["D3"].current_session_token, "t3");
  CAF_CHECK_EQUAL(m.devices["D4"].current_session_token, "t4");
  // Theirs revoked D1 while mine rotated it: the revoke wins.
  auto theirs2 = base;
  theirs2.devices.erase("D1");
  CAF_CHECK_EQUAL(merge3(base, mine, theirs2).devices.count("D1"), 0u);
  // Unchanged mine: the result is theirs.
  CAF_CHECK(merge3(base, base, theirs) == theirs);
}

CAF_TEST(merge3 does not take pruned grace tokens for a rotation) {
  auto base = fresh_session("S");
  base.devices["D"] = device_record{"t2", {{"t1", 99}}, "phone", 10, 10};
  auto mine = base;  // pruned the expired grace token t1, nothing else
  mine.devices["D"].retired_session_tokens.clear();
  auto theirs = base;  // rotated on another node: t3 current, t2 in grace
  theirs.devices["D"].current_session_token = "t3";
  theirs.devices["D"].retired_session_tokens = {{"t2", 200}};
  auto m = merge3(base, mine, theirs);
  CAF_CHECK_EQUAL(m.devices["D"].current_session_token, "t3");
  CAF_CHECK_EQUAL(m.devices["D"].retired_session_tokens.size(), 1u);
}

CAF_TEST(merge3 moves the join token with its redemption) {
  // Base: token J1 unused. Theirs redeemed J1 (a join on another node); mine refreshed to J2
  // (unused). The fresh token must stay unused: the redemption was of J1.
  auto base = fresh_session("S");
  base.join_token = "J1";
  base.join_token_expires_at_ms = 100;
  auto theirs = base;
  theirs.join_token_used_at_ms = 50;
  auto mine = base;
  mine.join_token = "J2";
  mine.join_token_expires_at_ms = 200;
  auto m = merge3(base, mine, theirs);
  CAF_CHECK_EQUAL(m.join_token, "J2");
  CAF_CHECK_EQUAL(m.join_token_expires_at_ms, 200);
  CAF_CHECK(!m.join_token_used_at_ms);
  // The other way round: their refresh wins over my redemption of the old token.
  auto r = merge3(base, theirs, mine);
  CAF_CHECK_EQUAL(r.join_token, "J2");
  CAF_CHECK(!r.join_token_used_at_ms);
  // Same token on both sides: either redemption counts.
  CAF_CHECK(merge3(base, base, theirs).join_token_used_at_ms == std::optional<std::int64_t>{50});
  CAF_CHECK(merge3(base, theirs, base).join_token_used_at_ms == std::optional<std::int64_t>{50});
}
