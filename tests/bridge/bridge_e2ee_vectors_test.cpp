// Shared E2EE vectors (tests/e2ee-vectors.json, also checked by pwa/tests/e2eeVectors.test.ts):
// OpenSSL must reproduce what WebCrypto computed — pair MAC, transcript hash, ECDH secret, keys,
// every record byte for byte, the safety code — and verify WebCrypto's P1363 signatures.
#define CAF_SUITE bridge_e2ee_vectors
#include "caf/test/unit_test.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "desktop-bridge/e2ee.hpp"

using namespace rc::bridge::e2ee;
using nlohmann::json;

namespace {
json vectors() {
  std::ifstream f(RC_E2EE_VECTORS);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}
bytes b(const json& v) {
  return unb64u(v.get<std::string>()).value_or(bytes{});
}
std::string hexs(const bytes& x) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : x) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}
}  // namespace

CAF_TEST(openssl_reproduces_webcrypto_vectors) {
  auto v = vectors();
  std::string sid = v["sessionID"], did = v["deviceID"];
  bytes dk = b(v["identityD"]["point"]), pk = b(v["identityP"]["point"]);
  bytes eph_p = b(v["ephP"]["point"]), eph_d = b(v["ephD"]["point"]);
  bytes n_p = b(v["nP"]), n_d = b(v["nD"]), ps = b(v["ps"]);
  CAF_REQUIRE(dk.size() == 65 && pk.size() == 65 && ps.size() == 32);

  auto mac = hmac_sha256(ps, pair_mac_input(pk, dk, sid, did));
  CAF_CHECK_EQUAL(b64u(mac), v["pairMac"].get<std::string>());
  CAF_CHECK(hmac_verify(ps, mac, pair_mac_input(pk, dk, sid, did)));
  CAF_CHECK(!hmac_verify(ps, mac, pair_mac_input(eph_p, dk, sid, did)));  // substituted key

  auto h = transcript_hash({sid, did, dk, pk, eph_p, n_p, eph_d, n_d});
  CAF_CHECK_EQUAL(hexs(h), v["transcriptHash"].get<std::string>());

  ecdh_key e_d(b(v["ephD"]["jwk"]["d"]));
  CAF_REQUIRE(e_d.ok());
  auto secret = e_d.derive(eph_p);
  CAF_REQUIRE(secret);
  CAF_CHECK_EQUAL(hexs(*secret), v["ecdhSecret"].get<std::string>());
  auto keys = derive_keys(*secret, h);
  CAF_CHECK_EQUAL(hexs(keys.p2d), v["kP2d"].get<std::string>());
  CAF_CHECK_EQUAL(hexs(keys.d2p), v["kD2p"].get<std::string>());

  record_stream p2d(keys.p2d, record_prefix("p2d", sid, did)),
      d2p(keys.d2p, record_prefix("d2p", sid, did));
  for (auto& r : v["records"]) {
    auto& s = r["dir"] == "p2d" ? p2d : d2p;
    uint64_t c = 0;
    auto ct = s.seal(r["plaintext"].get<std::string>(), c);
    CAF_CHECK_EQUAL(c, r["c"].get<uint64_t>());
    CAF_CHECK_EQUAL(b64u(ct), r["ct"].get<std::string>());
  }

  CAF_CHECK(ecdsa_verify(dk, b(v["acceptSig"]), signed_input("accept", h)));
  CAF_CHECK(ecdsa_verify(pk, b(v["finishSig"]), signed_input("finish", h)));
  CAF_CHECK(!ecdsa_verify(dk, b(v["acceptSig"]), signed_input("finish", h)));
  CAF_CHECK(!ecdsa_verify(pk, b(v["acceptSig"]), signed_input("accept", h)));
  CAF_CHECK_EQUAL(safety_code(dk, pk), v["safetyCode"].get<std::string>());
}

CAF_TEST(identity_key_roundtrip_and_signatures) {
  identity_key k;
  CAF_REQUIRE(k.ok());
  auto again = identity_key::from_pkcs8(k.pkcs8());
  CAF_REQUIRE(again->ok());
  CAF_CHECK(again->public_point() == k.public_point());
  bytes msg = fields({"hello"});
  auto sig = again->sign(msg);
  CAF_CHECK_EQUAL(sig.size(), 64u);
  CAF_CHECK(ecdsa_verify(k.public_point(), sig, msg));
  sig[5] ^= 1;
  CAF_CHECK(!ecdsa_verify(k.public_point(), sig, msg));
  CAF_CHECK(!identity_key::from_pkcs8(bytes(40, 1))->ok());
  bytes off_curve = k.public_point();
  off_curve[20] ^= 1;
  CAF_CHECK(!ecdsa_verify(off_curve, again->sign(msg), msg));
}

CAF_TEST(base64url_strict) {
  bytes x = random_bytes(31);
  CAF_CHECK(unb64u(b64u(x)) == x);
  CAF_CHECK(!unb64u("AB"));
  CAF_CHECK(!unb64u("ab+c"));
  CAF_CHECK(!unb64u("AB=="));
  CAF_CHECK(unb64u("AA") == bytes{0});
}
