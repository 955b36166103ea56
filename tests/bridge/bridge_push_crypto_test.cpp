// Web push crypto (docs/PUSH.md): RFC 8291 Appendix A (fixed keys and salt → the RFC's exact
// body), the browser-side decryption, and the RFC 8292 VAPID JWT (signature, aud, exp, sub).
#define CAF_SUITE bridge_push_crypto
#include "caf/test/unit_test.hpp"

#include "desktop-bridge/push_crypto.hpp"

#include <string>

using namespace rc::bridge;
using e2ee::bytes;

namespace {
bytes b(const char* s) {
  auto v = e2ee::unb64u(s);
  CAF_REQUIRE(v.has_value());
  return *v;
}
// RFC 8291 Appendix A.
const char* plaintext = "When I grow up, I want to be a watermelon";
const char* as_private = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const char* as_public =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const char* ua_private = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const char* ua_public =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const char* salt = "DGv6ra1nlYgDCS1FRnbzlw";
const char* auth = "BTBZMqHH6r4Tts7J_aSIgg";
const char* body =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_"
    "Qulcy4a-fN";
}  // namespace

CAF_TEST(rfc8291_appendix_a_exact_body) {
  e2ee::ecdh_key as(b(as_private));
  CAF_REQUIRE(as.ok());
  CAF_CHECK_EQUAL(e2ee::b64u(as.public_point()), as_public);
  auto out = push::encrypt(plaintext, b(ua_public), b(auth), as, b(salt));
  CAF_CHECK_EQUAL(e2ee::b64u(out), body);
}

CAF_TEST(rfc8291_browser_decrypts_the_vector_and_fresh_bodies) {
  e2ee::ecdh_key ua(b(ua_private));
  CAF_REQUIRE(ua.ok());
  CAF_CHECK_EQUAL(e2ee::b64u(ua.public_point()), ua_public);
  auto pt = push::decrypt(b(body), ua, b(auth));
  CAF_REQUIRE(pt.has_value());
  CAF_CHECK_EQUAL(*pt, plaintext);
  // A fresh body (random salt and sender key, padded): decrypts; a flipped bit does not.
  e2ee::ecdh_key as;
  auto fresh =
      push::encrypt("{\"v\":1}", ua.public_point(), b(auth), as, e2ee::random_bytes(16), 7);
  CAF_REQUIRE(!fresh.empty());
  CAF_CHECK_EQUAL(push::decrypt(fresh, ua, b(auth)).value_or(""), "{\"v\":1}");
  auto random = push::encrypt("hi", ua.public_point(), b(auth));
  CAF_CHECK_EQUAL(push::decrypt(random, ua, b(auth)).value_or(""), "hi");
  CAF_CHECK(e2ee::b64u(random).substr(0, 22) != e2ee::b64u(fresh).substr(0, 22));  // new salt
  fresh[fresh.size() - 20] ^= 1;
  CAF_CHECK(!push::decrypt(fresh, ua, b(auth)).has_value());
  CAF_CHECK(!push::decrypt(random, ua, e2ee::random_bytes(16)).has_value());  // wrong auth
  // Invalid inputs fail closed (empty body), never a partial one.
  CAF_CHECK(push::encrypt("x", bytes(64, 4), b(auth), as, b(salt)).empty());
  CAF_CHECK(push::encrypt("x", ua.public_point(), bytes(15, 1), as, b(salt)).empty());
  CAF_CHECK(push::encrypt(std::string(push::max_plaintext + 1, 'x'), ua.public_point(), b(auth), as,
                          b(salt))
                .empty());
}

CAF_TEST(vapid_jwt_verifies_with_aud_exp_sub) {
  e2ee::identity_key key;
  const std::string endpoint = "https://push.example.net:8443/wpush/v2/abc?x=1";
  const int64_t now = 1'800'000'000;
  auto h = push::vapid_authorization(key, endpoint, "mailto:ops@example.org", now);
  CAF_REQUIRE(h.rfind("vapid t=", 0) == 0);
  auto comma = h.find(", k=");
  CAF_REQUIRE(comma != std::string::npos);
  auto jwt = h.substr(8, comma - 8);
  CAF_CHECK_EQUAL(h.substr(comma + 4), e2ee::b64u(key.public_point()));
  auto c = push::verify_vapid_jwt(jwt, key.public_point());
  CAF_REQUIRE(c.has_value());
  CAF_CHECK_EQUAL(c->aud, "https://push.example.net:8443");
  CAF_CHECK_EQUAL(c->sub, "mailto:ops@example.org");
  CAF_CHECK(c->exp > now && c->exp - now <= push::max_jwt_lifetime_s);
  // Another key, a changed claim or a changed signature: rejected.
  e2ee::identity_key other;
  CAF_CHECK(!push::verify_vapid_jwt(jwt, other.public_point()).has_value());
  auto d1 = jwt.find('.'), d2 = jwt.rfind('.');
  const std::string evil = R"({"aud":"https://evil.example","exp":1800003600,"sub":"mailto:a@b"})";
  auto forged =
      jwt.substr(0, d1 + 1) + e2ee::b64u(bytes(evil.begin(), evil.end())) + jwt.substr(d2);
  CAF_CHECK(!push::verify_vapid_jwt(forged, key.public_point()).has_value());
  auto flipped = jwt;
  flipped[d2 + 3] = flipped[d2 + 3] == 'A' ? 'B' : 'A';
  CAF_CHECK(!push::verify_vapid_jwt(flipped, key.public_point()).has_value());
  // exp beyond 24 h and non-https endpoints are refused.
  CAF_CHECK(push::vapid_authorization(key, endpoint, "mailto:a@b", now, 24 * 3600 + 1).empty());
  CAF_CHECK(push::vapid_authorization(key, "http://push.example.net/x", "mailto:a@b", now).empty());
  CAF_CHECK(push::valid_subject("mailto:a@b.c"));
  CAF_CHECK(push::valid_subject("https://example.org/contact"));
  CAF_CHECK(!push::valid_subject("ops@example.org"));
  CAF_CHECK(!push::valid_subject("mailto:"));
}

CAF_TEST(subscription_parse_is_strict) {
  e2ee::ecdh_key ua;
  auto p = e2ee::b64u(ua.public_point());
  auto a = e2ee::b64u(e2ee::random_bytes(16));
  CAF_CHECK(push::parse_subscription("https://fcm.googleapis.com/fcm/send/x", p, a, false));
  CAF_CHECK(!push::parse_subscription("http://fcm.googleapis.com/x", p, a, false));
  CAF_CHECK(!push::parse_subscription("https://127.0.0.1:9/x", p, a, false));
  CAF_CHECK(!push::parse_subscription("https://localhost/x", p, a, false));
  CAF_CHECK(!push::parse_subscription("https://[::1]/x", p, a, false));
  CAF_CHECK(!push::parse_subscription("https://192.168.1.2/x", p, a, false));
  CAF_CHECK(push::parse_subscription("https://127.0.0.1:9/x", p, a, true));  // test-only flag
  CAF_CHECK(!push::parse_subscription("https://x.example/" + std::string(2048, 'a'), p, a, true));
  CAF_CHECK(!push::parse_subscription("https://x.example/a b", p, a, false));
  CAF_CHECK(!push::parse_subscription("https://x.example/", p.substr(1), a, false));
  CAF_CHECK(!push::parse_subscription("https://x.example/", p, a + "A", false));
  bytes off = ua.public_point();
  off[64] ^= 1;  // no longer on the curve
  CAF_CHECK(!push::parse_subscription("https://x.example/", e2ee::b64u(off), a, false));
}
