// E2EE identity keys (ECDSA P-256, P1363 signatures as WebCrypto uses), HMAC, SHA-256,
// base64url and the protocol's derived values (docs/E2EE.md). OpenSSL 3 EVP only.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstdio>
#include <stdexcept>

#include "desktop-bridge/e2ee.hpp"

namespace rc::bridge::e2ee {

namespace {
constexpr const char* proto = "rc-e2ee/1";
std::string label(std::string_view what) {
  return std::string(proto) + " " + std::string(what);
}
}  // namespace

void* public_pkey_from_point(const bytes& point) {
  if (point.size() != 65 || point[0] != 0x04) return nullptr;
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  char group[] = "P-256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<unsigned char*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (pctx == nullptr || EVP_PKEY_fromdata_init(pctx) != 1 ||
      EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
    key = nullptr;
  EVP_PKEY_CTX_free(pctx);
  if (key != nullptr) {  // fromdata does not check that the point is on the curve
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new(key, nullptr);
    bool on_curve = check != nullptr && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!on_curve) {
      EVP_PKEY_free(key);
      key = nullptr;
    }
  }
  return key;
}

bytes sha256(const bytes& data) {
  bytes out(32);
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1 || n != 32)
    return {};
  return out;
}

bytes hmac_sha256(const bytes& key, const bytes& data) {
  bytes out(32);
  size_t n = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(),
                data.size(), out.data(), out.size(), &n) == nullptr ||
      n != 32)
    return {};
  return out;
}

bool hmac_verify(const bytes& key, const bytes& mac, const bytes& data) {
  bytes want = hmac_sha256(key, data);
  return want.size() == 32 && mac.size() == 32 && CRYPTO_memcmp(want.data(), mac.data(), 32) == 0;
}

bytes random_bytes(std::size_t n) {
  bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("e2ee: no randomness");
  return out;
}

namespace {
const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// Table-driven (records are up to ~1 MiB, so encoding is on the per-message path): -1 = invalid.
struct b64_table {
  signed char v[256];
  b64_table() {
    for (auto& x : v) x = -1;
    for (int i = 0; i < 64; ++i)
      v[static_cast<unsigned char>(b64chars[i])] = static_cast<signed char>(i);
  }
};
const b64_table b64t;
}  // namespace

std::string b64u(const bytes& b) {
  std::string s((b.size() * 4 + 2) / 3, '\0');
  std::size_t o = 0, i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    uint32_t n = uint32_t{b[i]} << 16 | uint32_t{b[i + 1]} << 8 | b[i + 2];
    s[o++] = b64chars[(n >> 18) & 63];
    s[o++] = b64chars[(n >> 12) & 63];
    s[o++] = b64chars[(n >> 6) & 63];
    s[o++] = b64chars[n & 63];
  }
  if (i < b.size()) {
    uint32_t n = uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) n |= uint32_t{b[i + 1]} << 8;
    s[o++] = b64chars[(n >> 18) & 63];
    s[o++] = b64chars[(n >> 12) & 63];
    if (i + 1 < b.size()) s[o++] = b64chars[(n >> 6) & 63];
  }
  return s;
}

std::optional<bytes> unb64u(std::string_view s) {
  if (s.size() % 4 == 1) return std::nullopt;
  bytes out(s.size() * 3 / 4);
  std::size_t o = 0;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::size_t chunk = std::min<std::size_t>(4, s.size() - i);
    uint32_t n = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      int v = j < chunk ? b64t.v[static_cast<unsigned char>(s[i + j])] : 0;
      if (v < 0) return std::nullopt;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out[o++] = static_cast<unsigned char>(n >> 16);
    if (chunk > 2) out[o++] = static_cast<unsigned char>(n >> 8);
    if (chunk > 3) out[o++] = static_cast<unsigned char>(n);
    // non-canonical trailing bits would give two encodings of one value
    if ((chunk == 2 && (n & 0xffff) != 0) || (chunk == 3 && (n & 0xff) != 0)) return std::nullopt;
  }
  return out;
}

identity_key::identity_key() : identity_key(EVP_EC_gen("P-256")) {}

identity_key::identity_key(void* pkey) : pkey_(pkey) {
  init_public();
}

void identity_key::init_public() {
  auto* k = static_cast<EVP_PKEY*>(pkey_);
  size_t n = 0;
  pub_.assign(65, 0);
  if (k == nullptr ||
      EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub_.data(), 65, &n) !=
          1 ||
      n != 65) {
    EVP_PKEY_free(k);
    pkey_ = nullptr;
    pub_.clear();
  }
}

std::unique_ptr<identity_key> identity_key::from_pkcs8(const bytes& der) {
  const unsigned char* p = der.data();
  PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  EVP_PKEY* k = info ? EVP_PKCS82PKEY(info) : nullptr;
  PKCS8_PRIV_KEY_INFO_free(info);
  if (k != nullptr && !EVP_PKEY_is_a(k, "EC")) {
    EVP_PKEY_free(k);
    k = nullptr;
  }
  return std::unique_ptr<identity_key>(new identity_key(k));
}

identity_key::~identity_key() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

bytes identity_key::pkcs8() const {
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(static_cast<EVP_PKEY*>(pkey_));
  if (info == nullptr) return {};
  unsigned char* buf = nullptr;
  int n = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (n <= 0) return {};
  bytes out(buf, buf + n);
  OPENSSL_clear_free(buf, static_cast<size_t>(n));
  return out;
}

bytes identity_key::sign(const bytes& data) const {
  if (pkey_ == nullptr) return {};
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t n = 0;
  bytes der;
  if (md != nullptr &&
      EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(pkey_)) == 1 &&
      EVP_DigestSign(md, nullptr, &n, data.data(), data.size()) == 1) {
    der.resize(n);
    if (EVP_DigestSign(md, der.data(), &n, data.data(), data.size()) == 1)
      der.resize(n);
    else
      der.clear();
  }
  EVP_MD_CTX_free(md);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig =
      der.empty() ? nullptr : d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return {};
  bytes out(64);
  bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  return ok ? out : bytes{};
}

bool ecdsa_verify(const bytes& point, const bytes& sig, const bytes& data) {
  if (sig.size() != 64) return false;
  auto* key = static_cast<EVP_PKEY*>(public_pkey_from_point(point));
  if (key == nullptr) return false;
  ECDSA_SIG* s = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig.data(), 32, nullptr);
  BIGNUM* sv = BN_bin2bn(sig.data() + 32, 32, nullptr);
  bool ok = false;
  if (s != nullptr && r != nullptr && sv != nullptr && ECDSA_SIG_set0(s, r, sv) == 1) {
    r = sv = nullptr;  // owned by s now
    unsigned char* der = nullptr;
    int n = i2d_ECDSA_SIG(s, &der);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    ok = n > 0 && md != nullptr &&
         EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(md, der, static_cast<size_t>(n), data.data(), data.size()) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
  }
  BN_free(r);
  BN_free(sv);
  ECDSA_SIG_free(s);
  EVP_PKEY_free(key);
  return ok;
}

bytes fields(std::initializer_list<std::string_view> parts) {
  bytes out;
  for (auto p : parts) append_field(out, p);
  return out;
}

bytes pair_mac_input(const bytes& pk_p, const bytes& dk, std::string_view sid,
                     std::string_view did) {
  return fields({label("pair"), sv(pk_p), sv(dk), sid, did});
}

bytes transcript_hash(const transcript& t) {
  return sha256(fields({label("hs"), t.sid, t.did, sv(t.dk), sv(t.pk_p), sv(t.eph_p), sv(t.n_p),
                        sv(t.eph_d), sv(t.n_d)}));
}

bytes signed_input(std::string_view role, const bytes& h) {
  return fields({label(role), sv(h)});
}

bytes record_prefix(std::string_view dir, std::string_view sid, std::string_view did) {
  return fields({label("rec"), dir, sid, did});
}

std::string safety_code(const bytes& dk, const bytes& pk_p) {
  bytes d = sha256(fields({label("safety"), sv(dk), sv(pk_p)}));
  if (d.size() < 4) return {};
  uint32_t n = (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
  char buf[16];
  unsigned v = n % 1000000000u;
  std::snprintf(buf, sizeof buf, "%03u %03u %03u", v / 1000000u, (v / 1000u) % 1000u, v % 1000u);
  return buf;
}

}  // namespace rc::bridge::e2ee
