#include "desktop-bridge/e2ee.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <stdexcept>

namespace rc::bridge::e2ee {

void* public_pkey_from_point(const bytes& point);  // e2ee_keys.cpp

namespace {
constexpr std::size_t tag_len = 16;
constexpr std::size_t key_len = 32;

void nonce_for(uint64_t ctr, unsigned char out[12]) {
  for (int i = 0; i < 4; ++i) out[i] = 0;
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<unsigned char>(ctr >> (56 - 8 * i));
}

bytes aad_for(const bytes& prefix, uint64_t ctr) {
  bytes a = prefix;
  append_field(a, std::to_string(ctr));
  return a;
}
}  // namespace

void append_field(bytes& out, std::string_view field) {
  // Truncating would make two different inputs encode alike; every field here is small.
  if (field.size() > 0xffff) throw std::length_error("e2ee: field longer than 65535 bytes");
  auto n = field.size();
  out.push_back(static_cast<unsigned char>(n >> 8));
  out.push_back(static_cast<unsigned char>(n & 0xff));
  out.insert(out.end(), field.begin(), field.begin() + static_cast<std::ptrdiff_t>(n));
}

bytes hkdf_sha256(const bytes& ikm, const bytes& salt, std::string_view info, std::size_t len) {
  bytes out(len);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return {};
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return {};
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(ikm.data()),
                                        ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<unsigned char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) return {};
  return out;
}

ecdh_key::ecdh_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (k == nullptr) return;
  size_t n = 0;
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &n) != 1 ||
      n != 65) {
    EVP_PKEY_free(k);
    return;
  }
  pub_.resize(n);
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub_.data(), n, &n) !=
      1) {
    EVP_PKEY_free(k);
    pub_.clear();
    return;
  }
  pkey_ = k;
}

ecdh_key::~ecdh_key() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

std::optional<bytes> ecdh_key::derive(const bytes& peer_point) const {
  if (pkey_ == nullptr) return std::nullopt;
  auto* peer_key = static_cast<EVP_PKEY*>(public_pkey_from_point(peer_point));
  if (peer_key == nullptr) return std::nullopt;
  std::optional<bytes> result;
  EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new(static_cast<EVP_PKEY*>(pkey_), nullptr);
  size_t n = 0;
  if (dctx != nullptr && EVP_PKEY_derive_init(dctx) == 1 &&
      EVP_PKEY_derive_set_peer_ex(dctx, peer_key, 1) == 1 &&
      EVP_PKEY_derive(dctx, nullptr, &n) == 1 && n == 32) {
    bytes s(n);
    if (EVP_PKEY_derive(dctx, s.data(), &n) == 1 && n == 32) result = std::move(s);
  }
  EVP_PKEY_CTX_free(dctx);
  EVP_PKEY_free(peer_key);
  return result;
}

ecdh_key::ecdh_key(const bytes& private_scalar) {
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  BIGNUM* d = BN_bin2bn(private_scalar.data(), static_cast<int>(private_scalar.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* k = nullptr;
  // The public point d·G (OpenSSL 3.0 does not derive it from a private-only import).
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT* q = group ? EC_POINT_new(group) : nullptr;
  unsigned char pub[65];
  bool have_pub = q && d && EC_POINT_mul(group, q, d, nullptr, nullptr, nullptr) == 1 &&
                  EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub,
                                     nullptr) == sizeof pub;
  EC_POINT_free(q);
  EC_GROUP_free(group);
  if (pctx && d && bld && have_pub &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
      EVP_PKEY_fromdata(pctx, &k, EVP_PKEY_KEYPAIR, params) == 1) {
    pkey_ = k;
    pub_.assign(pub, pub + sizeof pub);
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(d);
  EVP_PKEY_CTX_free(pctx);
}

const char* reject_name(reject r) {
  switch (r) {
    case reject::none:
      return "none";
    case reject::replayed_record:
      return "replayed_record";
    case reject::record_gap:
      return "record_gap";
    case reject::bad_record_tag:
      return "bad_record_tag";
    case reject::malformed_record:
      return "malformed_record";
  }
  return "malformed_record";
}

record_stream::record_stream(bytes key, bytes aad_prefix)
    : key_(std::move(key)), aad_prefix_(std::move(aad_prefix)) {}

bytes record_stream::seal(std::string_view plaintext, uint64_t& ctr_out) {
  if (key_.size() != key_len) return {};
  ctr_out = next_;
  unsigned char nonce[12];
  nonce_for(next_, nonce);
  bytes aad = aad_for(aad_prefix_, next_);
  bytes out(plaintext.size() + tag_len);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0;
  int total = 0;
  bool ok = c != nullptr &&
            EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key_.data(), nonce) == 1 &&
            EVP_EncryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(c, out.data(), &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(c, out.data() + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, tag_len, out.data() + total) == 1;
  EVP_CIPHER_CTX_free(c);
  if (!ok) return {};
  ++next_;
  return out;
}

std::optional<std::string> record_stream::open(uint64_t ctr, const bytes& ct, reject& why,
                                               std::size_t max_len) {
  why = reject::none;
  if (key_.size() != key_len || ct.size() < tag_len || ct.size() - tag_len > max_len) {
    why = reject::malformed_record;
    return std::nullopt;
  }
  if (ctr < next_) {
    why = reject::replayed_record;
    return std::nullopt;
  }
  if (ctr > next_) {
    why = reject::record_gap;
    return std::nullopt;
  }
  unsigned char nonce[12];
  nonce_for(ctr, nonce);
  bytes aad = aad_for(aad_prefix_, ctr);
  std::string out(ct.size() - tag_len, '\0');
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok = c != nullptr &&
            EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key_.data(), nonce) == 1 &&
            EVP_DecryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &len, ct.data(),
                              static_cast<int>(ct.size() - tag_len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, tag_len,
                                const_cast<unsigned char*>(ct.data() + ct.size() - tag_len)) == 1;
  int fin = 0;
  ok = ok && EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + len, &fin) == 1;
  EVP_CIPHER_CTX_free(c);
  if (!ok) {
    why = reject::bad_record_tag;
    return std::nullopt;
  }
  ++next_;
  return out;
}

direction_keys derive_keys(const bytes& ecdh_secret, const bytes& transcript_hash) {
  return {hkdf_sha256(ecdh_secret, transcript_hash, "rc-e2ee/1 p2d", key_len),
          hkdf_sha256(ecdh_secret, transcript_hash, "rc-e2ee/1 d2p", key_len)};
}

}  // namespace rc::bridge::e2ee
