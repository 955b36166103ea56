// E2EE record layer and key schedule (docs/E2EE.md): RFC 5869 vector, ECDH agreement,
// named rejection of replayed, reordered/dropped and bit-flipped records.
#define CAF_SUITE bridge_e2ee
#include "caf/test/unit_test.hpp"

#include "desktop-bridge/e2ee.hpp"

#include <stdexcept>
#include <string>

using namespace rc::bridge::e2ee;

namespace {
bytes hex(std::string_view h) {
  bytes out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<unsigned char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}
bytes prefix(std::string_view dir) {
  bytes p;
  append_field(p, "rc-e2ee/1 rec");
  append_field(p, dir);
  append_field(p, "session-1");
  append_field(p, "device-1");
  return p;
}
}  // namespace

CAF_TEST(hkdf_rfc5869_case1) {
  auto okm = hkdf_sha256(bytes(22, 0x0b), hex("000102030405060708090a0b0c"),
                         std::string("\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9", 10), 42);
  CAF_CHECK(okm == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5"
                       "b887185865"));
}

CAF_TEST(ecdh_agreement_and_invalid_point) {
  ecdh_key a, b;
  CAF_REQUIRE(a.ok() && b.ok());
  auto s1 = a.derive(b.public_point());
  auto s2 = b.derive(a.public_point());
  CAF_REQUIRE(s1 && s2);
  CAF_CHECK(*s1 == *s2);
  bytes bad = b.public_point();
  bad[10] ^= 1;  // off the curve
  CAF_CHECK(!a.derive(bad));
  CAF_CHECK(!a.derive(bytes(65, 0)));
}

CAF_TEST(record_roundtrip_and_named_rejections) {
  ecdh_key a, b;
  auto keys = derive_keys(*a.derive(b.public_point()), bytes(32, 7));
  CAF_REQUIRE(keys.p2d.size() == 32 && keys.d2p.size() == 32 && keys.p2d != keys.d2p);
  record_stream tx(keys.p2d, prefix("p2d")), rx(keys.p2d, prefix("p2d"));
  uint64_t c0 = 0, c1 = 0, c2 = 0;
  auto r0 = tx.seal("{\"t\":\"confirm\"}", c0);
  auto r1 = tx.seal("secret prompt", c1);
  auto r2 = tx.seal("third", c2);
  CAF_CHECK_EQUAL(r1.size(), 13u + 16u);
  reject why = reject::none;
  CAF_CHECK(!rx.open(c1, r1, why));  // reordered / dropped record 0
  CAF_CHECK_EQUAL(reject_name(why), std::string("record_gap"));
  CAF_CHECK(rx.open(c0, r0, why));
  bytes flipped = r1;
  flipped[3] ^= 0x40;
  CAF_CHECK(!rx.open(c1, flipped, why));
  CAF_CHECK_EQUAL(reject_name(why), std::string("bad_record_tag"));
  auto p1 = rx.open(c1, r1, why);
  CAF_REQUIRE(p1);
  CAF_CHECK_EQUAL(*p1, "secret prompt");
  CAF_CHECK(!rx.open(c1, r1, why));  // replay
  CAF_CHECK_EQUAL(reject_name(why), std::string("replayed_record"));
  record_stream wrong_dir(keys.p2d, prefix("d2p"));  // reflected record: AAD differs
  CAF_CHECK(!wrong_dir.open(c0, r0, why));
  CAF_CHECK_EQUAL(reject_name(why), std::string("bad_record_tag"));
  CAF_CHECK(!rx.open(c2, bytes(5, 0), why));  // truncated below tag length
  CAF_CHECK_EQUAL(reject_name(why), std::string("malformed_record"));
  CAF_CHECK(rx.open(c2, r2, why));
}

CAF_TEST(append_field_refuses_oversize_instead_of_truncating) {
  bytes out;
  append_field(out, std::string(0xffff, 'a'));
  CAF_CHECK_EQUAL(out.size(), 0xffffu + 2u);
  bool threw = false;
  try {
    append_field(out, std::string(0x10000, 'a'));
  } catch (const std::length_error&) {
    threw = true;
  }
  CAF_CHECK(threw);
  CAF_CHECK_EQUAL(out.size(), 0xffffu + 2u);  // nothing appended
}
