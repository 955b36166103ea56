// Pure functions of protocol/ and conn_handler's top-level scanner (no actors).
// SCENARIOS 59-66 (validators), 91 (constant-time equality).
#define CAF_SUITE relay_protocol
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include <random>

#include "protocol/url.hpp"
#include "relay_fixture.hpp"

using namespace rc_test;
using rc::proto::validate_command_envelope;
using rc::proto::validate_command_rules;
using rc::proto::validate_snapshot_request;

namespace {

const std::string sid = "SESSION-0123456789abcdef";

json snapshot(json last_seq) {
  json j{{"type", "relay.snapshot_request"}, {"sessionID", sid}, {"reason", "reconnect"}};
  if (!last_seq.is_discarded()) j["lastSeq"] = std::move(last_seq);
  return j;
}

/// Envelope + rules verdict, like the device actor (seq checks aside).
proto::verdict full_check(const json& v) {
  uint64_t seq = 0;
  auto e = validate_command_envelope(v, seq);
  if (!e.ok()) return e;
  return validate_command_rules(v, 16384);
}

json runtime_respond(json response) {
  auto c = relay_fixture::command(sid, 1, "runtime_request.respond");
  auto& body = c["payload"]["payload"];
  body["runtimeRequestID"] = "42";
  body["runtimeRequestKind"] = "approval";
  body["runtimeRequestResponse"] = std::move(response);
  return c;
}

}  // namespace

// ---- tokens -----------------------------------------------------------------------------------

CAF_TEST(constant time equal) {
  // SCENARIOS 91: equal → true; one char different → false; different length → false.
  CAF_CHECK(proto::constant_time_equal("abcdefghij", "abcdefghij"));
  CAF_CHECK(!proto::constant_time_equal("abcdefghij", "abcdefghiJ"));
  CAF_CHECK(!proto::constant_time_equal("Xbcdefghij", "abcdefghij"));
  CAF_CHECK(!proto::constant_time_equal("abcdefghij", "abcdefghi"));
  CAF_CHECK(!proto::constant_time_equal("", "a"));
  CAF_CHECK(proto::constant_time_equal("", ""));
  std::string a(300, 'x'), b = a;
  b[299] = 'y';
  CAF_CHECK(!proto::constant_time_equal(a, b));
}

CAF_TEST(base64url round trip and rejects) {
  CAF_CHECK_EQUAL(proto::base64url_encode(reinterpret_cast<const unsigned char*>("f"), 1), "Zg");
  CAF_CHECK_EQUAL(proto::base64url_encode(reinterpret_cast<const unsigned char*>("fo"), 2), "Zm8");
  CAF_CHECK_EQUAL(proto::base64url_encode(reinterpret_cast<const unsigned char*>("foo"), 3),
                  "Zm9v");
  const unsigned char hi[] = {0xfb, 0xff, 0xbf};
  CAF_CHECK_EQUAL(proto::base64url_encode(hi, 3), "-_-_");  // URL alphabet, no padding
  std::mt19937 rng(42);
  for (std::size_t len = 0; len < 40; ++len) {
    std::string raw(len, '\0');
    for (auto& c : raw) c = static_cast<char>(rng() & 0xff);
    auto enc = proto::base64url_encode(reinterpret_cast<const unsigned char*>(raw.data()), len);
    CAF_CHECK(enc.find('=') == std::string::npos);
    auto dec = proto::base64url_decode(enc);
    CAF_REQUIRE(dec.has_value());
    CAF_CHECK_EQUAL(*dec, raw);
  }
  CAF_CHECK(!proto::base64url_decode("Zm9v=").has_value());  // padding is not base64url
  CAF_CHECK(!proto::base64url_decode("Zm+v").has_value());   // standard alphabet rejected
  CAF_CHECK(!proto::base64url_decode("Z").has_value());      // impossible length
  CAF_CHECK(
      !proto::base64url_decode("Zm9").has_value());  // non-zero unused bits ("Zm8" is canonical)
  CAF_CHECK(proto::base64url_decode("Zm8") == std::optional<std::string>("fo"));
}

CAF_TEST(random tokens are opaque with the documented lengths) {
  auto t = proto::random_token(proto::token_bytes);
  CAF_CHECK_EQUAL(t.size(), 43u);
  CAF_CHECK(proto::is_opaque(t, proto::min_token_len));
  CAF_CHECK_EQUAL(proto::random_token(proto::session_id_bytes).size(), 22u);
  CAF_CHECK_EQUAL(proto::random_token(proto::device_id_bytes).size(), 16u);
  CAF_CHECK_EQUAL(proto::random_token(proto::request_id_bytes).size(), 14u);
  CAF_CHECK_NOT_EQUAL(t, proto::random_token(proto::token_bytes));
  CAF_CHECK(!proto::is_opaque("short", proto::min_token_len));
  CAF_CHECK(!proto::is_opaque(std::string(22, 'a') + "=", proto::min_token_len));
  CAF_CHECK(!proto::is_opaque(std::string(513, 'a'), proto::min_token_len));
  CAF_CHECK(proto::is_opaque(std::string(512, 'a'), proto::min_token_len));
  CAF_CHECK(proto::is_compact_id("cmd:1-a_b"));
  CAF_CHECK(!proto::is_compact_id(""));
  CAF_CHECK(!proto::is_compact_id("a b"));
  CAF_CHECK(!proto::is_compact_id(std::string(129, 'a')));
  CAF_CHECK_EQUAL(proto::redact_id("abcdefghijklmnop"), "abcdef...mnop");
  CAF_CHECK_EQUAL(proto::redact_id("short"), "***");
}

// ---- time -------------------------------------------------------------------------------------

CAF_TEST(rfc3339 round trip) {
  CAF_CHECK_EQUAL(proto::format_rfc3339_ms(t0_ms), "2026-01-01T00:00:00+00:00");
  CAF_CHECK_EQUAL(proto::format_rfc3339_ms(t0_ms + 123), "2026-01-01T00:00:00.123+00:00");
  CAF_CHECK_EQUAL(proto::format_rfc3339_seconds_z(t0_ms + 999), "2026-01-01T00:00:00Z");
  for (int64_t ms : {int64_t{0}, t0_ms, t0_ms + 1, t0_ms + 999,
                     int64_t{951782400000} /*2000-02-29*/, int64_t{4102444799999}}) {
    auto s = proto::format_rfc3339_ms(ms);
    auto back = proto::parse_rfc3339(s);
    CAF_REQUIRE(back.has_value());
    CAF_CHECK_EQUAL(*back, ms);
  }
  CAF_CHECK_EQUAL(proto::parse_rfc3339("2026-01-01T00:00:00Z").value_or(-1), t0_ms);
  CAF_CHECK_EQUAL(proto::parse_rfc3339("2026-01-01T01:30:00+01:30").value_or(-1), t0_ms);
  CAF_CHECK_EQUAL(proto::parse_rfc3339("2025-12-31T23:00:00-01:00").value_or(-1), t0_ms);
  CAF_CHECK_EQUAL(proto::parse_rfc3339("2026-01-01T00:00:00.5Z").value_or(-1), t0_ms + 500);
  CAF_CHECK_EQUAL(proto::parse_rfc3339("2026-01-01T00:00:00.123456789Z").value_or(-1), t0_ms + 123);
  CAF_CHECK(!proto::parse_rfc3339("2026-01-01T00:00:00").has_value());  // offset mandatory
  CAF_CHECK(!proto::parse_rfc3339("2026-01-01").has_value());
  // Instants outside year 0000..9999 in UTC cannot be written back (fuzz_time found these).
  CAF_CHECK(!proto::parse_rfc3339("0000-01-01T00:00:00+05:30").has_value());
  CAF_CHECK(!proto::parse_rfc3339("9999-12-31T23:59:59-00:01").has_value());
  CAF_CHECK(proto::parse_rfc3339("0000-01-01T00:00:00Z").has_value());
  CAF_CHECK(proto::parse_rfc3339("9999-12-31T23:59:59.999Z").has_value());
  CAF_CHECK(!proto::parse_rfc3339("2026-02-30T00:00:00Z").has_value());
  CAF_CHECK(!proto::parse_rfc3339("2025-02-29T00:00:00Z").has_value());  // not a leap year
  CAF_CHECK(!proto::parse_rfc3339("2026-13-01T00:00:00Z").has_value());
  CAF_CHECK(!proto::parse_rfc3339("2026-01-01T24:00:00Z").has_value());
  CAF_CHECK(!proto::parse_rfc3339("2026-01-01T00:00:00.Z").has_value());
  CAF_CHECK(!proto::parse_rfc3339("2026-01-01T00:00:00Zjunk").has_value());
  CAF_CHECK(!proto::parse_rfc3339("not a date at all!!!").has_value());
}

// ---- URLs -------------------------------------------------------------------------------------

CAF_TEST(url normalisation) {
  CAF_CHECK_EQUAL(proto::normalize_origin("HTTP://LocalHost:4173").value_or("-"),
                  "http://localhost:4173");
  CAF_CHECK_EQUAL(proto::normalize_origin("https://example.com:443/path?x").value_or("-"),
                  "https://example.com");
  CAF_CHECK_EQUAL(proto::normalize_origin("http://example.com:80").value_or("-"),
                  "http://example.com");
  CAF_CHECK(!proto::normalize_origin("null").has_value());
  CAF_CHECK(!proto::normalize_origin("ws://example.com").has_value());
  CAF_CHECK(!proto::normalize_origin("http://exa mple.com").has_value());
  CAF_CHECK(!proto::normalize_origin("http://example.com:99999").has_value());
  CAF_CHECK_EQUAL(proto::normalize_ws_url("wss://relay.example").value_or("-"),
                  "wss://relay.example/ws");
  CAF_CHECK_EQUAL(proto::normalize_ws_url("wss://relay.example/").value_or("-"),
                  "wss://relay.example/ws");
  CAF_CHECK_EQUAL(proto::normalize_ws_url("WSS://Relay.Example:443/custom?x=1#f").value_or("-"),
                  "wss://relay.example/custom");
  CAF_CHECK_EQUAL(proto::normalize_ws_url("ws://127.0.0.1:8787").value_or("-"),
                  "ws://127.0.0.1:8787/ws");
  CAF_CHECK(!proto::normalize_ws_url("https://relay.example/ws").has_value());
  CAF_CHECK_EQUAL(proto::ws_url_from_base("https://relay.example/app?q").value_or("-"),
                  "wss://relay.example/ws");
  CAF_CHECK_EQUAL(proto::ws_url_from_base("http://localhost:8787").value_or("-"),
                  "ws://localhost:8787/ws");
  CAF_CHECK_EQUAL(proto::http_origin_from_ws("wss://relay.example/ws").value_or("-"),
                  "https://relay.example");
  CAF_CHECK_EQUAL(proto::percent_encode("a b/é"), "a%20b%2F%C3%A9");
  CAF_CHECK_EQUAL(proto::percent_decode("a%20b%2F%C3%A9").value_or("-"), "a b/é");
  CAF_CHECK(!proto::percent_decode("%4").has_value());
}

// ---- HTTP schema ------------------------------------------------------------------------------

CAF_TEST(api request schema is strict) {
  proto::framework_error fe{0, ""};
  auto ok = proto::parse_api_request(proto::route::pair_join,
                                     R"({"sessionID":"s","joinToken":"j","deviceName":null})", fe);
  CAF_REQUIRE(ok.has_value());
  CAF_CHECK(!ok->device_name.has_value());
  CAF_CHECK(!proto::parse_api_request(
      proto::route::pair_join, R"({"sessionID":"s","joinToken":"j","schemaVersion":2})", fe));
  CAF_CHECK_EQUAL(fe.status, 422);  // join has no schemaVersion field (§4.2)
  CAF_CHECK(!proto::parse_api_request(proto::route::pair_start, R"({"sessionID":1})", fe));
  CAF_CHECK_EQUAL(fe.status, 422);
  CAF_CHECK(!proto::parse_api_request(proto::route::pair_start, "{not json", fe));
  CAF_CHECK_EQUAL(fe.status, 400);
  CAF_CHECK(!proto::parse_api_request(proto::route::pair_stop, "[]", fe));
  CAF_CHECK_EQUAL(fe.status, 422);
  auto v1 = proto::parse_api_request(
      proto::route::pair_stop, R"({"schemaVersion":1,"sessionID":"s","desktopSessionToken":"d"})",
      fe);
  CAF_REQUIRE(v1.has_value());
  CAF_CHECK(!proto::schema_version_ok(*v1));
  CAF_CHECK(proto::is_json_content_type("Application/JSON; charset=utf-8"));
  CAF_CHECK(proto::is_json_content_type("application/merge-patch+json"));
  CAF_CHECK(!proto::is_json_content_type("text/plain"));
}

// ---- mobile validators (SCENARIOS 58-66) ------------------------------------------------------

CAF_TEST(snapshot lastSeq rules) {
  CAF_CHECK(validate_snapshot_request(snapshot(json(json::value_t::discarded))).ok());
  CAF_CHECK(validate_snapshot_request(snapshot(42)).ok());
  CAF_CHECK(validate_snapshot_request(snapshot(0)).ok());
  CAF_CHECK(validate_snapshot_request(snapshot("42")).ok());
  // SCENARIOS 59: -1 rejected; also null, floats, empty and non-digit strings.
  for (auto bad : {json(-1), json(nullptr), json(1.5), json(""), json("4a"), json("-1"),
                   json(std::string(21, '1')), json::array()}) {
    auto v = validate_snapshot_request(snapshot(bad));
    CAF_CHECK_EQUAL(v.code, "invalid_snapshot_request");
    CAF_CHECK_EQUAL(v.message, "lastSeq must be numeric when provided.");
  }
  // SCENARIOS 65: any 1-20 ASCII digit string is accepted.
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(1 + rng() % 20, '0');
    for (auto& c : s) c = static_cast<char>('0' + rng() % 10);
    CAF_CHECK(validate_snapshot_request(snapshot(s)).ok());
  }
  // SCENARIOS 66: starting with a letter or underscore (≤ 20 chars) → rejected.
  const std::string alpha = "abcxyzABCXYZ_";
  for (int i = 0; i < 200; ++i) {
    std::string s(1, alpha[rng() % alpha.size()]);
    std::size_t extra = rng() % 20;
    for (std::size_t k = 0; k < extra; ++k) s += static_cast<char>('0' + rng() % 10);
    CAF_CHECK_EQUAL(validate_snapshot_request(snapshot(s)).code, "invalid_snapshot_request");
  }
  auto extra = snapshot(1);
  extra["relayConnectionID"] = "x";  // not allowed on snapshot requests
  CAF_CHECK_EQUAL(validate_snapshot_request(extra).message,
                  "Unexpected field 'relayConnectionID' in snapshot request.");
  auto long_reason = snapshot(1);
  long_reason["reason"] = std::string(129, 'r');
  CAF_CHECK_EQUAL(validate_snapshot_request(long_reason).message, "Snapshot reason is too long.");
  auto no_sid = snapshot(1);
  no_sid.erase("sessionID");
  CAF_CHECK_EQUAL(validate_snapshot_request(no_sid).message,
                  "Snapshot request requires sessionID.");
}

CAF_TEST(command envelope rules) {
  uint64_t seq = 0;
  auto good = relay_fixture::command(sid, 7);
  CAF_CHECK(validate_command_envelope(good, seq).ok());
  CAF_CHECK_EQUAL(seq, 7u);
  CAF_CHECK(full_check(good).ok());
  CAF_CHECK(full_check(relay_fixture::command(sid, 1, "thread.send_message")).ok());
  CAF_CHECK(full_check(relay_fixture::command(sid, 1, "project.select")).ok());
  // SCENARIOS 61: missing commandID.
  auto no_id = good;
  no_id["payload"]["payload"].erase("commandID");
  CAF_CHECK_EQUAL(full_check(no_id).code, "invalid_command");
  CAF_CHECK_EQUAL(full_check(no_id).message, "commandID is required.");
  auto extra_top = good;
  extra_top["foo"] = 1;
  CAF_CHECK_EQUAL(full_check(extra_top).message, "Unexpected field 'foo' in command envelope.");
  auto extra_body = good;
  extra_body["payload"]["payload"]["unexpectedField"] = true;
  CAF_CHECK_EQUAL(full_check(extra_body).message,
                  "Unexpected field 'unexpectedField' in command payload.");
  auto v3 = good;
  v3["schemaVersion"] = 3;
  CAF_CHECK_EQUAL(full_check(v3).code, "unsupported_schema");
  auto no_seq = good;
  no_seq.erase("seq");
  CAF_CHECK_EQUAL(full_check(no_seq).message, "Command envelopes must include numeric seq.");
  auto neg_seq = good;
  neg_seq["seq"] = -1;
  CAF_CHECK_EQUAL(full_check(neg_seq).code, "invalid_command");
  auto event = good;
  event["payload"]["type"] = "event";
  CAF_CHECK_EQUAL(full_check(event).message,
                  "Only command payloads are accepted from mobile clients.");
  auto unknown = relay_fixture::command(sid, 1, "terminal.exec");
  CAF_CHECK_EQUAL(full_check(unknown).message, "Command name is not allowed.");
  auto blank = relay_fixture::command(sid, 1, "thread.send_message");
  blank["payload"]["payload"]["text"] = " \t\xE3\x80\x80 ";  // ASCII + U+3000
  CAF_CHECK_EQUAL(full_check(blank).message, "Message text cannot be empty.");
  auto big = relay_fixture::command(sid, 1, "thread.send_message");
  big["payload"]["payload"]["text"] = std::string(16385, 'a');
  CAF_CHECK_EQUAL(full_check(big).message, "Message text exceeds 16384 bytes.");
  // The PWA sends all eight keys with null for unused ones.
  auto pwa = good;
  for (auto k :
       {"projectID", "text", "runtimeRequestID", "runtimeRequestKind", "runtimeRequestResponse"})
    pwa["payload"]["payload"][k] = nullptr;
  CAF_CHECK(full_check(pwa).ok());
}

CAF_TEST(runtime request respond rules) {
  // SCENARIOS 62: valid.
  CAF_CHECK(full_check(runtime_respond({{"decision", "accept"}, {"optionID", "accept"}})).ok());
  // SCENARIOS 64: empty response object.
  auto empty = full_check(runtime_respond(json::object()));
  CAF_CHECK_EQUAL(empty.code, "invalid_command");
  CAF_CHECK_EQUAL(empty.message,
                  "runtimeRequestResponse must include at least one response field.");
  CAF_CHECK_EQUAL(full_check(runtime_respond({{"decision", "maybe"}})).message,
                  "runtimeRequestResponse.decision is not recognized.");
  CAF_CHECK_EQUAL(full_check(runtime_respond({{"optionID", nullptr}})).message,
                  "runtimeRequestResponse.optionID must be a string.");
  CAF_CHECK_EQUAL(full_check(runtime_respond({{"approved", "yes"}})).message,
                  "runtimeRequestResponse.approved must be a boolean.");
  CAF_CHECK_EQUAL(full_check(runtime_respond({{"permissions", {"ok", " "}}})).message,
                  "runtimeRequestResponse.permissions contains an invalid value.");
  auto bad_id = runtime_respond({{"decision", "accept"}});
  bad_id["payload"]["payload"]["runtimeRequestID"] = "4x";
  CAF_CHECK_EQUAL(full_check(bad_id).message, "runtimeRequestID must be numeric.");
  auto bad_kind = runtime_respond({{"decision", "accept"}});
  bad_kind["payload"]["payload"]["runtimeRequestKind"] = "root";
  CAF_CHECK_EQUAL(full_check(bad_kind).message, "runtimeRequestKind is not recognized.");
  // SCENARIOS 63: legacy approval.respond is rejected (unknown fields, then unknown name).
  auto legacy = relay_fixture::command(sid, 1, "approval.respond");
  legacy["payload"]["payload"]["approvalRequestID"] = "1";
  legacy["payload"]["payload"]["approvalDecision"] = "accept";
  CAF_CHECK_EQUAL(full_check(legacy).code, "invalid_command");
  auto legacy_name = relay_fixture::command(sid, 1, "approval.respond");
  CAF_CHECK_EQUAL(full_check(legacy_name).message, "Command name is not allowed.");
}

CAF_TEST(metadata injection overwrites spoofed ids for any object) {
  // SCENARIOS 60, as a property test over random extra keys.
  std::mt19937 rng(1234);
  for (int i = 0; i < 100; ++i) {
    json v = json::object();
    int keys = static_cast<int>(rng() % 6);
    for (int k = 0; k < keys; ++k) v["k" + std::to_string(rng() % 1000)] = static_cast<int>(rng());
    if (rng() % 2) v["relayConnectionID"] = "spoofed-connection";
    if (rng() % 2) v["relayDeviceID"] = json::array({1, 2});
    json copy = v;
    auto out = json::parse(proto::inject_metadata(v, "conn-real", "dev-real"));
    CAF_CHECK_EQUAL(out.at("relayConnectionID").get<std::string>(), "conn-real");
    CAF_CHECK_EQUAL(out.at("relayDeviceID").get<std::string>(), "dev-real");
    copy.erase("relayConnectionID");
    copy.erase("relayDeviceID");
    out.erase("relayConnectionID");
    out.erase("relayDeviceID");
    CAF_CHECK(out == copy);  // everything else untouched
  }
}

CAF_TEST(deeply nested mobile frames are refused before parsing) {
  // Issue 10 item 1: a valid command whose timestamp nests 32,000 arrays (64 KiB) overflowed the
  // stack when the relay re-serialised it; it is now answered like invalid JSON.
  const std::size_t n = 32000;
  auto deep = relay_fixture::command(sid, 1);
  std::string text = deep.dump();
  auto ts = text.find("\"seq\"");
  text.insert(ts, "\"timestamp\":" + std::string(n, '[') + std::string(n, ']') + ",");
  CAF_CHECK(!proto::json_depth_within(text));
  CAF_CHECK(!proto::classify_mobile(text, sid).parsed);
  // At the limit it parses; brackets inside strings (with escaped quotes) do not count.
  std::string at_limit =
      std::string(proto::max_json_depth, '[') + std::string(proto::max_json_depth, ']');
  CAF_CHECK(proto::json_depth_within(at_limit));
  CAF_CHECK(proto::classify_mobile(at_limit, sid).parsed);
  CAF_CHECK(!proto::json_depth_within("[" + at_limit + "]"));
  std::string quoted = "{\"k\":\"\\\"" + std::string(1000, '[') + "\"}";
  CAF_CHECK(proto::json_depth_within(quoted));
  CAF_CHECK(proto::classify_mobile(quoted, sid).parsed);
  CAF_CHECK(proto::classify_mobile(relay_fixture::command(sid, 1).dump(), sid).parsed);
}

CAF_TEST(classify mobile frames) {
  auto f = proto::classify_mobile("not json", sid);
  CAF_CHECK(!f.parsed);
  f = proto::classify_mobile("[1,2]", sid);
  CAF_CHECK(f.parsed && !f.is_object);
  f = proto::classify_mobile(relay_fixture::command(sid, 1).dump(), sid);
  CAF_CHECK(f.is_object && f.gated && !f.session_mismatch);
  CAF_CHECK(f.kind == proto::mobile_kind::command);
  f = proto::classify_mobile(relay_fixture::command("OTHER-SESSION-xxxxxx", 1).dump(), sid);
  CAF_CHECK(f.session_mismatch);
  f = proto::classify_mobile(R"({"type":"relay.snapshot_request","sessionID":1})", sid);
  CAF_CHECK(f.kind == proto::mobile_kind::snapshot_request && f.gated && !f.session_mismatch);
  f = proto::classify_mobile(R"({"hello":"world"})", sid);
  CAF_CHECK(!f.gated);
}

CAF_TEST(device name sanitising) {
  CAF_CHECK(!proto::sanitize_device_name(std::nullopt).has_value());
  CAF_CHECK(!proto::sanitize_device_name(std::string("   ")).has_value());
  CAF_CHECK_EQUAL(proto::sanitize_device_name(std::string("  Bikram iPhone \n")).value_or("-"),
                  "Bikram iPhone");
  std::string emoji;
  for (int i = 0; i < 70; ++i) emoji += "\xF0\x9F\x98\x80";  // 70 × U+1F600
  auto t = proto::sanitize_device_name(emoji);
  CAF_REQUIRE(t.has_value());
  CAF_CHECK_EQUAL(t->size(), 64u * 4u);  // 64 scalars, never split inside one
}

// ---- conn_handler's top-level scanner ---------------------------------------------------------

CAF_TEST(scan top level on tricky inputs) {
  top_level_fields f;
  CAF_CHECK(scan_top_level(R"({"type":"x","sessionID":"abc","n":[1,{"sessionID":"zzz"}]})", f));
  CAF_CHECK(f.has_type && f.type == "x");
  CAF_CHECK(f.has_session_id && f.session_id == "abc");

  // A nested sessionID must not be taken for the top-level one.
  top_level_fields g;
  CAF_CHECK(scan_top_level(R"({"payload":{"sessionID":"nested"},"type":"t"})", g));
  CAF_CHECK(!g.has_session_id);
  CAF_CHECK_EQUAL(g.type, "t");

  // Braces and quotes inside strings do not confuse depth tracking.
  top_level_fields h;
  CAF_CHECK(scan_top_level(R"({"a":"}{\"]","b":{"c":"}}}"},"sessionID":"S"})", h));
  CAF_CHECK(h.has_session_id && h.session_id == "S");

  // Escaped keys or values of interest: fall back to the full parser.
  top_level_fields e1;
  CAF_CHECK(!scan_top_level(R"({"session\u0049D":"x"})", e1));
  top_level_fields e2;
  CAF_CHECK(!scan_top_level(R"({"sessionID":"a\"b"})", e2));
  // Duplicate keys: let the full parser decide.
  top_level_fields d;
  CAF_CHECK(!scan_top_level(R"({"sessionID":"a","sessionID":"b"})", d));

  // Non-objects and malformed text.
  for (const char* bad : {"", "   ", "[]", "\"str\"", "42", "null", "{", R"({"a":1)", R"({"a" 1})",
                          R"({"a":1}x)", R"({"a":1,})", "{\"a\":\"\x01\"}"}) {
    top_level_fields b;
    CAF_CHECK(!scan_top_level(bad, b));
  }
  top_level_fields empty;
  CAF_CHECK(scan_top_level(" { } ", empty));
  CAF_CHECK(!empty.has_session_id && !empty.has_type);
  // Non-string sessionID is not a mismatch candidate.
  top_level_fields num;
  CAF_CHECK(scan_top_level(R"({"sessionID":12,"type":null})", num));
  CAF_CHECK(!num.has_session_id && !num.has_type);
}

CAF_TEST(untrusted json is bounded and read without throwing) {
  CAF_CHECK(proto::parse_untrusted(R"({"a":[1,{"b":2}]})").is_object());
  CAF_CHECK(proto::parse_untrusted("{").is_discarded());
  CAF_CHECK(proto::parse_untrusted(std::string(64, '[') + std::string(64, ']')).is_array());
  CAF_CHECK(proto::parse_untrusted(std::string(65, '[') + std::string(65, ']')).is_discarded());
  // Brackets inside strings do not count.
  CAF_CHECK(proto::parse_untrusted("[\"" + std::string(200, '[') + "\"]").is_array());
  CAF_CHECK(proto::parse_untrusted("{} // c", proto::max_json_depth, true).is_object());
  CAF_CHECK(proto::parse_untrusted("{} // c").is_discarded());
  auto j = proto::parse_untrusted(R"({"type":1,"ok":"yes","name":"n","flag":true})");
  CAF_CHECK_EQUAL(proto::string_member(j, "type", "none"), "none");
  CAF_CHECK_EQUAL(proto::string_member(j, "name"), "n");
  CAF_CHECK_EQUAL(proto::bool_member(j, "ok", false), false);
  CAF_CHECK_EQUAL(proto::bool_member(j, "flag", false), true);
  CAF_CHECK_EQUAL(proto::string_member(proto::json::array(), "type", "x"), "x");
  CAF_CHECK_EQUAL(proto::bool_member(proto::json(5), "flag", true), true);
}

// ---- web push commands (docs/PUSH.md) ---------------------------------------------------------

CAF_TEST(push commands are validated strictly) {
  const std::string p256dh =
      "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
  auto sub = [&](json patch) {
    auto c = relay_fixture::command(sid, 1, "push.subscribe");
    auto& b = c["payload"]["payload"];
    b["subscription"] = {{"endpoint", "https://push.example/x"},
                         {"p256dh", p256dh},
                         {"auth", "BTBZMqHH6r4Tts7J_aSIgg"}};
    b["kinds"] = {{"approval", true}, {"turn", false}, {"pairing", false}};
    b["threadID"] = nullptr;  // the PWA sends the app schema's fields as null
    b.merge_patch(patch);
    return c;
  };
  CAF_CHECK(full_check(sub(json::object())).ok());
  CAF_CHECK(!full_check(sub({{"subscription", {{"endpoint", "http://push.example/x"}}}})).ok());
  CAF_CHECK(
      !full_check(sub({{"subscription", {{"endpoint", "https://p/" + std::string(2040, 'a')}}}}))
           .ok());
  CAF_CHECK(!full_check(sub({{"subscription", {{"p256dh", p256dh.substr(0, 80)}}}})).ok());
  CAF_CHECK(!full_check(sub({{"subscription", {{"auth", "BTBZMqHH6r4Tts7J_aSIg"}}}})).ok());
  CAF_CHECK(!full_check(sub({{"subscription", {{"extra", 1}}}})).ok());
  CAF_CHECK(!full_check(sub({{"kinds", {{"turn", 1}}}})).ok());
  CAF_CHECK(!full_check(sub({{"kinds", {{"other", true}}}})).ok());
  CAF_CHECK(!full_check(sub({{"threadID", "T1"}})).ok());
  CAF_CHECK(!full_check(sub({{"visible", true}})).ok());
  auto vis = relay_fixture::command(sid, 1, "push.visibility");
  CAF_CHECK(!full_check(vis).ok());
  vis["payload"]["payload"]["visible"] = false;
  CAF_CHECK(full_check(vis).ok());
  vis["payload"]["payload"]["visible"] = "no";
  CAF_CHECK(!full_check(vis).ok());
  auto un = relay_fixture::command(sid, 1, "push.unsubscribe");
  CAF_CHECK(full_check(un).ok());
  un["payload"]["payload"]["kinds"] = json::object();
  CAF_CHECK(!full_check(un).ok());
  auto sel = relay_fixture::command(sid, 1, "thread.select");
  sel["payload"]["payload"]["visible"] = true;  // push fields only on push commands
  CAF_CHECK(!full_check(sel).ok());
  CAF_CHECK(!full_check(relay_fixture::command(sid, 1, "push.other")).ok());
}
