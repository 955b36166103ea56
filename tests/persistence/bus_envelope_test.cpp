#define CAF_SUITE persistence_bus_envelope
#include "caf/test/unit_test.hpp"

#include <nlohmann/json.hpp>

#include "persistence/bus_envelope.hpp"

using namespace rc::persistence;

namespace {

/// Verdict names as std::string (comparing const char* would compare pointers).
std::string vname(envelope_verdict v) {
  return to_string(v);
}

}  // namespace

namespace {

constexpr std::string_view secret = "0123456789abcdef0123456789abcdef-test-secret";

// The WebSocket text carried as payload: quotes, backslashes, '/', non-ASCII, control
// characters and DEL.
const std::string vector_payload =
    "{\"type\":\"relay.desktop_status\",\"desktopConnected\":true,\"path\":\"a/b\","
    "\"name\":\"Zo\xC3\xAB \xF0\x9F\x93\xB1\",\"esc\":\"q\\\"\\\\\",\"ctl\":\"\t\n\x01\x1f\x7f\"}";

bus_envelope vector_envelope() {
  bus_envelope env;
  env.session_id = "S-abc123";
  env.source_instance_id = "inst0000000001";
  env.target = "mobile";
  env.payload = vector_payload;
  env.issued_at_ms = 1741760569123;
  env.nonce = "kX2abcDEF_-123";
  return env;
}

// Written by hand from §5.3; checked with python3 json.dumps(ensure_ascii=False,
// separators=(',',':')) on an OrderedDict.
const std::string expected_signing_string =
    "{\"schema_version\":1,\"session_id\":\"S-abc123\",\"source_instance_id\":\"inst0000000001\","
    "\"target\":\"mobile\",\"target_device_id\":null,\"payload\":\"{\\\"type\\\":\\\"relay."
    "desktop_status\\\",\\\"desktopConnected\\\":true,\\\"path\\\":\\\"a/b\\\",\\\"name\\\":"
    "\\\"Zo\xC3\xAB \xF0\x9F\x93\xB1\\\",\\\"esc\\\":\\\"q\\\\\\\"\\\\\\\\\\\",\\\"ctl\\\":"
    "\\\"\\t\\n\\u0001\\u001f\x7f\\\"}\",\"issued_at_ms\":1741760569123,\"nonce\":"
    "\"kX2abcDEF_-123\"}";

// Computed independently with the OpenSSL CLI:
//   printf '%s' "$signing_string" | openssl dgst -sha256 -hmac "$secret" -binary
//   | base64 -w0 | tr '+/' '-_' | tr -d '='
constexpr std::string_view expected_signature = "d1d2nrjiOCsVPIcn84P56uyDdS9xfFmf6lznOkPJOwo";
// The same envelope with target_device_id "dev-1".
constexpr std::string_view expected_signature_device =
    "dweKetI4HDzUwWEDW5CN_nPnJ5i6E5-BRFyPUsqtefU";

constexpr std::int64_t now = 1741760569123 + 1000;

std::string signed_wire(bus_envelope env) {
  auto wire = encode_signed(std::move(env), secret);
  return wire.ok() ? *wire.value : std::string{};
}

bus_envelope fresh(std::string nonce, std::int64_t issued = now) {
  auto env = vector_envelope();
  env.nonce = std::move(nonce);
  env.issued_at_ms = issued;
  return env;
}

}  // namespace

CAF_TEST(signing string is byte exact) {
  auto s = signing_string(vector_envelope());
  CAF_REQUIRE(s.ok());
  CAF_CHECK_EQUAL(*s.value, expected_signing_string);
}

CAF_TEST(signature matches openssl vector) {
  auto sig = sign(vector_envelope(), secret);
  CAF_REQUIRE(sig.ok());
  CAF_CHECK_EQUAL(*sig.value, expected_signature);
  auto env = vector_envelope();
  env.target_device_id = "dev-1";
  auto sig2 = sign(env, secret);
  CAF_REQUIRE(sig2.ok());
  CAF_CHECK_EQUAL(*sig2.value, expected_signature_device);
  env.signature = std::string{expected_signature_device};
  CAF_CHECK(verify(env, secret));
}

CAF_TEST(signing string equals nlohmann compact dump) {
  // Cross-check the hand-written serializer against nlohmann for every control character,
  // DEL, '/', quotes, backslashes and multi-byte UTF-8.
  std::string payload;
  for (int c = 0; c < 0x80; ++c) payload.push_back(static_cast<char>(c));
  payload += "\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80/\\\"";
  auto env = vector_envelope();
  env.payload = payload;
  env.target_device_id = "d\"1";
  nlohmann::ordered_json doc;
  doc["schema_version"] = 1;
  doc["session_id"] = env.session_id;
  doc["source_instance_id"] = env.source_instance_id;
  doc["target"] = env.target;
  doc["target_device_id"] = *env.target_device_id;
  doc["payload"] = env.payload;
  doc["issued_at_ms"] = env.issued_at_ms;
  doc["nonce"] = env.nonce;
  auto mine = signing_string(env);
  CAF_REQUIRE(mine.ok());
  CAF_CHECK_EQUAL(*mine.value, doc.dump());
  env.target_device_id.reset();
  doc["target_device_id"] = nullptr;
  auto unset = signing_string(env);
  CAF_REQUIRE(unset.ok());
  CAF_CHECK_EQUAL(*unset.value, doc.dump());
}

CAF_TEST(invalid utf8 cannot be signed) {
  auto env = vector_envelope();
  env.payload = "bad \xC0\xAF";
  CAF_CHECK(!signing_string(env).ok());
  CAF_CHECK(!sign(env, secret).ok());
  CAF_CHECK(!encode(env).ok());
  env.payload = "surrogate \xED\xA0\x80";
  CAF_CHECK(!signing_string(env).ok());
  env.payload = "truncated \xE2\x82";
  CAF_CHECK(!signing_string(env).ok());
  CAF_CHECK(!sign(vector_envelope(), "").ok());
}

CAF_TEST(encode and decode round trip) {
  auto env = vector_envelope();
  env.target_device_id = "dev-1";
  auto wire = encode_signed(env, secret);
  CAF_REQUIRE(wire.ok());
  auto back = decode(*wire.value);
  CAF_REQUIRE(back.ok());
  CAF_CHECK_EQUAL(back.value->session_id, env.session_id);
  CAF_CHECK_EQUAL(back.value->source_instance_id, env.source_instance_id);
  CAF_CHECK_EQUAL(back.value->target, env.target);
  CAF_CHECK_EQUAL(*back.value->target_device_id, "dev-1");
  CAF_CHECK_EQUAL(back.value->payload, env.payload);
  CAF_CHECK_EQUAL(back.value->issued_at_ms, env.issued_at_ms);
  CAF_CHECK_EQUAL(back.value->nonce, env.nonce);
  CAF_CHECK_EQUAL(back.value->signature, expected_signature_device);
  CAF_CHECK(verify(*back.value, secret));
  // A sender that escapes differently ("\/", "\u00e9") still verifies: the MAC covers the
  // canonical re-serialisation of the values.
  auto j = nlohmann::json::parse(*wire.value);
  std::string ascii = j.dump(-1, ' ', true);  // ensure_ascii: non-ASCII as \uXXXX
  CAF_CHECK(ascii != *wire.value);
  auto again = decode(ascii);
  CAF_REQUIRE(again.ok());
  CAF_CHECK(verify(*again.value, secret));
}

CAF_TEST(decode rejects malformed input) {
  CAF_CHECK(!decode("").ok());
  CAF_CHECK(!decode("[]").ok());
  CAF_CHECK(!decode("{\"schema_version\":1}").ok());
  auto j = nlohmann::json::parse(signed_wire(vector_envelope()));
  auto mutate = [&](const char* key, nlohmann::json v) {
    auto copy = j;
    copy[key] = std::move(v);
    return decode(copy.dump()).ok();
  };
  CAF_CHECK(!mutate("payload", 5));
  CAF_CHECK(!mutate("issued_at_ms", "1"));
  CAF_CHECK(!mutate("issued_at_ms", 1.5));
  CAF_CHECK(!mutate("target_device_id", 7));
  CAF_CHECK(!mutate("signature", false));
  CAF_CHECK(!mutate("schema_version", "1"));
  CAF_CHECK(mutate("target_device_id", nullptr));
  std::string big(max_envelope_bytes + 1, ' ');
  CAF_CHECK(!decode(big).ok());
}

CAF_TEST(unsigned and forged envelopes are rejected) {
  replay_guard guard;
  auto env = fresh("nonce-unsigned-1");
  auto unsigned_wire = encode(env);  // no signature field at all
  CAF_REQUIRE(unsigned_wire.ok());
  CAF_CHECK(unsigned_wire.value->find("signature") == std::string::npos);
  CAF_CHECK_EQUAL(vname(accept_inbound(*unsigned_wire.value, secret, "me", guard, now).verdict),
                  "bad_signature");
  // Signed with another secret.
  auto wrong = encode_signed(fresh("nonce-forged-01"), "another-secret-another-secret-xx");
  CAF_CHECK_EQUAL(vname(accept_inbound(*wrong.value, secret, "me", guard, now).verdict),
                  "bad_signature");
  // Payload tampered after signing.
  auto j = nlohmann::json::parse(signed_wire(fresh("nonce-tamper-01")));
  j["payload"] = "{\"type\":\"disconnect\"}";
  CAF_CHECK_EQUAL(vname(accept_inbound(j.dump(), secret, "me", guard, now).verdict),
                  "bad_signature");
  // Truncated signature.
  auto k = nlohmann::json::parse(signed_wire(fresh("nonce-trunc-001")));
  k["signature"] = k["signature"].get<std::string>().substr(1);
  CAF_CHECK_EQUAL(vname(accept_inbound(k.dump(), secret, "me", guard, now).verdict),
                  "bad_signature");
  // A forged envelope never reaches the nonce cache.
  CAF_CHECK_EQUAL(guard.size(), 0u);
  // The genuine one is accepted.
  auto ok = accept_inbound(signed_wire(fresh("nonce-good-0001")), secret, "me", guard, now);
  CAF_CHECK_EQUAL(vname(ok.verdict), "accepted");
  CAF_CHECK_EQUAL(ok.envelope.payload, vector_payload);
  // Without a secret nothing is verified (signature optional).
  CAF_CHECK_EQUAL(vname(accept_inbound(*unsigned_wire.value, "", "me", guard, now).verdict),
                  "accepted");
}

CAF_TEST(schema version and own messages) {
  replay_guard guard;
  auto env = fresh("nonce-schema-01");
  env.schema_version = 2;
  CAF_CHECK_EQUAL(vname(accept_inbound(signed_wire(env), secret, "me", guard, now).verdict),
                  "bad_schema_version");
  CAF_CHECK_EQUAL(vname(accept_inbound(signed_wire(fresh("nonce-own-00001")), secret,
                                       "inst0000000001", guard, now)
                            .verdict),
                  "own_message");
  CAF_CHECK_EQUAL(vname(accept_inbound("{oops", secret, "me", guard, now).verdict), "malformed");
}

CAF_TEST(replayed nonce is rejected) {
  replay_guard guard;
  auto wire = signed_wire(fresh("nonce-replay-01"));
  CAF_CHECK_EQUAL(vname(accept_inbound(wire, secret, "me", guard, now).verdict), "accepted");
  CAF_CHECK_EQUAL(vname(accept_inbound(wire, secret, "me", guard, now + 10).verdict), "replayed");
  // Same nonce from another instance is a different key.
  auto other = fresh("nonce-replay-01");
  other.source_instance_id = "inst0000000002";
  CAF_CHECK_EQUAL(vname(accept_inbound(signed_wire(other), secret, "me", guard, now).verdict),
                  "accepted");
  CAF_CHECK_EQUAL(guard.size(), 2u);
}

CAF_TEST(time window checks) {
  replay_limits limits;  // 120 s window, 30 s skew
  replay_guard guard{limits};
  auto verdict = [&](std::string nonce, std::int64_t issued) {
    return std::string{
        vname(accept_inbound(signed_wire(fresh(std::move(nonce), issued)), secret, "me", guard, now)
                  .verdict)};
  };
  CAF_CHECK_EQUAL(verdict("nonce-old-00001", now - 120'001), "too_old");
  CAF_CHECK_EQUAL(verdict("nonce-old-00002", now - 120'000), "accepted");  // boundary
  CAF_CHECK_EQUAL(verdict("nonce-fut-00001", now + 30'001), "from_future");
  CAF_CHECK_EQUAL(verdict("nonce-fut-00002", now + 30'000), "accepted");  // boundary
  CAF_CHECK_EQUAL(verdict("nonce-zero-0001", 0), "bad_issued_at");
  CAF_CHECK_EQUAL(verdict("nonce-neg-00001", -5), "bad_issued_at");
  CAF_CHECK_EQUAL(verdict("short", now), "bad_nonce");
  CAF_CHECK_EQUAL(verdict("has space 12345", now), "bad_nonce");
  CAF_CHECK_EQUAL(verdict("ümlaut-nonce-1", now), "bad_nonce");
  CAF_CHECK_EQUAL(verdict(std::string(513, 'a'), now), "bad_nonce");
  CAF_CHECK_EQUAL(verdict(std::string(512, 'a'), now), "accepted");
  // issued_at beyond int64 is clamped and rejected as future, not wrapped.
  auto j = nlohmann::json::parse(signed_wire(fresh("nonce-huge-0001")));
  j["issued_at_ms"] = 18446744073709551615ull;
  auto clamped = decode(j.dump());
  CAF_REQUIRE(clamped.ok());
  CAF_CHECK_EQUAL(clamped.value->issued_at_ms, INT64_MAX);
  CAF_CHECK_EQUAL(vname(guard.check("src", "nonce-huge-0001", INT64_MAX, now)), "from_future");
  CAF_CHECK_EQUAL(vname(guard.check("", "nonce-empty-src", now, now)), "bad_source");
  CAF_CHECK_EQUAL(vname(guard.check(std::string(200, 'i'), "nonce-long-src", now, now)),
                  "bad_source");
}

CAF_TEST(replay guard is bounded) {
  replay_guard guard{{120'000, 30'000, 4}};
  for (int i = 0; i < 10; ++i)
    CAF_CHECK_EQUAL(
        vname(guard.check("src", "nonce-bound-" + std::to_string(100 + i), now + i, now)),
        "accepted");
  CAF_CHECK_EQUAL(guard.size(), 4u);
  CAF_CHECK_EQUAL(guard.evictions(), 6u);
  // The newest keys are still remembered; the evicted oldest ones are not.
  CAF_CHECK_EQUAL(vname(guard.check("src", "nonce-bound-109", now + 9, now)), "replayed");
  CAF_CHECK_EQUAL(vname(guard.check("src", "nonce-bound-100", now, now)), "accepted");
  // Entries expire at issued + window + skew and are pruned.
  replay_guard g2{{1000, 500, 100}};
  CAF_CHECK_EQUAL(vname(g2.check("src", "nonce-exp-00001", 10'000, 10'000)), "accepted");
  CAF_CHECK_EQUAL(vname(g2.check("src", "nonce-exp-00001", 10'000, 10'900)), "replayed");
  CAF_CHECK_EQUAL(vname(g2.check("src", "nonce-exp-00001", 10'000, 11'001)), "too_old");
  CAF_CHECK_EQUAL(vname(g2.check("src", "nonce-exp-00002", 11'400, 11'501)), "accepted");
  CAF_CHECK_EQUAL(g2.size(), 1u);  // the first one expired at 11'500
}

CAF_TEST(base64url and random ids) {
  CAF_CHECK_EQUAL(base64url_encode(""), "");
  CAF_CHECK_EQUAL(base64url_encode("f"), "Zg");
  CAF_CHECK_EQUAL(base64url_encode("fo"), "Zm8");
  CAF_CHECK_EQUAL(base64url_encode("foo"), "Zm9v");
  CAF_CHECK_EQUAL(base64url_encode("foob"), "Zm9vYg");
  CAF_CHECK_EQUAL(base64url_encode("fooba"), "Zm9vYmE");
  CAF_CHECK_EQUAL(base64url_encode("foobar"), "Zm9vYmFy");
  CAF_CHECK_EQUAL(base64url_encode("\xfb\xff\xfe"), "-__-");
  auto a = random_id();
  auto b = random_id();
  CAF_REQUIRE(a.ok() && b.ok());
  CAF_CHECK_EQUAL(a.value->size(), 14u);
  CAF_CHECK(valid_nonce(*a.value));
  CAF_CHECK(*a.value != *b.value);
  CAF_CHECK(!random_id(0).ok());
}
