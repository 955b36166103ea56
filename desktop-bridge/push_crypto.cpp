#include "desktop-bridge/push_crypto.hpp"

#include <openssl/evp.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "protocol/untrusted_json.hpp"
#include "protocol/url.hpp"

namespace rc::bridge::push {

using namespace e2ee;

namespace {
constexpr std::size_t tag_len = 16;
constexpr std::size_t header_len = 16 + 4 + 1 + 65;

struct content_keys {
  bytes cek, nonce;
};

/// RFC 8291 §3.3-3.4 and RFC 8188 §2.2-2.3: CEK and NONCE of the single record (SEQ = 0).
content_keys derive(const bytes& ecdh_secret, const bytes& auth, const bytes& ua_public,
                    const bytes& as_public, const bytes& salt) {
  bytes key_info;
  const std::string label = "WebPush: info";
  key_info.insert(key_info.end(), label.begin(), label.end());
  key_info.push_back(0);
  key_info.insert(key_info.end(), ua_public.begin(), ua_public.end());
  key_info.insert(key_info.end(), as_public.begin(), as_public.end());
  bytes ikm = hkdf_sha256(ecdh_secret, auth, sv(key_info), 32);
  if (ikm.empty()) return {};
  using namespace std::string_view_literals;
  return {hkdf_sha256(ikm, salt, "Content-Encoding: aes128gcm\0"sv, 16),
          hkdf_sha256(ikm, salt, "Content-Encoding: nonce\0"sv, 12)};
}

bool aes128gcm(bool enc, const content_keys& k, const unsigned char* in, std::size_t n,
               unsigned char* out, unsigned char* tag) {
  if (k.cek.size() != 16 || k.nonce.size() != 12) return false;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  bool ok = c != nullptr &&
            EVP_CipherInit_ex(c, EVP_aes_128_gcm(), nullptr, k.cek.data(), k.nonce.data(),
                              enc ? 1 : 0) == 1 &&
            EVP_CipherUpdate(c, out, &len, in, static_cast<int>(n)) == 1;
  if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, tag_len, tag) == 1;
  ok = ok && EVP_CipherFinal_ex(c, out + len, &fin) == 1;
  if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, tag_len, tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

std::string b64u_str(std::string_view s) {
  return b64u(bytes(s.begin(), s.end()));
}
}  // namespace

bytes encrypt(const std::string& plaintext, const bytes& ua_public, const bytes& auth_secret,
              const ecdh_key& as_key, const bytes& salt, std::size_t pad) {
  if (plaintext.size() > max_plaintext || pad > record_size || ua_public.size() != 65 ||
      auth_secret.size() != 16 || salt.size() != 16 || !as_key.ok() ||
      plaintext.size() + 1 + pad + tag_len > record_size)
    return {};
  auto secret = as_key.derive(ua_public);
  if (!secret) return {};
  const bytes& as_public = as_key.public_point();
  auto k = derive(*secret, auth_secret, ua_public, as_public, salt);
  bytes record(plaintext.begin(), plaintext.end());
  record.push_back(0x02);  // delimiter of the last (only) record, then zero padding
  record.resize(record.size() + pad, 0);
  bytes out(salt);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<unsigned char>((record_size >> shift) & 0xff));
  out.push_back(static_cast<unsigned char>(as_public.size()));
  out.insert(out.end(), as_public.begin(), as_public.end());
  std::size_t at = out.size();
  out.resize(at + record.size() + tag_len);
  if (!aes128gcm(true, k, record.data(), record.size(), out.data() + at,
                 out.data() + at + record.size()))
    return {};
  return out;
}

bytes encrypt(const std::string& plaintext, const bytes& ua_public, const bytes& auth_secret) {
  ecdh_key as_key;  // one-time sender key: dies with this call
  return encrypt(plaintext, ua_public, auth_secret, as_key, random_bytes(16));
}

std::optional<std::string> decrypt(const bytes& body, const ecdh_key& ua_key,
                                   const bytes& auth_secret) {
  if (body.size() < header_len + tag_len + 1 || body[20] != 65 || !ua_key.ok()) return std::nullopt;
  bytes salt(body.begin(), body.begin() + 16);
  bytes as_public(body.begin() + 21, body.begin() + 21 + 65);
  auto secret = ua_key.derive(as_public);
  if (!secret) return std::nullopt;
  auto k = derive(*secret, auth_secret, ua_key.public_point(), as_public, salt);
  std::size_t n = body.size() - header_len - tag_len;
  bytes tag(body.end() - tag_len, body.end());
  bytes out(n);
  if (!aes128gcm(false, k, body.data() + header_len, n, out.data(), tag.data()))
    return std::nullopt;
  while (!out.empty() && out.back() == 0) out.pop_back();
  if (out.empty() || out.back() != 0x02) return std::nullopt;
  out.pop_back();
  return std::string(out.begin(), out.end());
}

std::optional<std::string> endpoint_origin(const std::string& endpoint) {
  auto u = rc::proto::parse_url(endpoint);
  if (!u || u->scheme != "https" || u->host.empty()) return std::nullopt;
  return u->origin();
}

bool local_host(const std::string& h) {
  if (h == "localhost" || (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0))
    return true;
  if (!h.empty() && h.front() == '[') {  // IPv6 literal: loopback, unspecified, ULA, link-local
    std::string a = h.substr(1, h.size() - 2);
    return a == "::1" || a == "::" || a.rfind("fc", 0) == 0 || a.rfind("fd", 0) == 0 ||
           a.rfind("fe8", 0) == 0 || a.rfind("fe9", 0) == 0 || a.rfind("fea", 0) == 0 ||
           a.rfind("feb", 0) == 0 || a.rfind("::ffff:", 0) == 0;
  }
  unsigned o[4];
  char tail = 0;
  if (std::sscanf(h.c_str(), "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4)
    return h.find_first_not_of("0123456789.") == std::string::npos;  // odd numeric forms
  return o[0] == 0 || o[0] == 10 || o[0] == 127 || (o[0] == 169 && o[1] == 254) ||
         (o[0] == 172 && o[1] >= 16 && o[1] <= 31) || (o[0] == 192 && o[1] == 168) ||
         (o[0] == 100 && o[1] >= 64 && o[1] <= 127) || o[0] >= 224;
}

std::optional<subscription> parse_subscription(const std::string& endpoint,
                                               const std::string& p256dh_b64,
                                               const std::string& auth_b64, bool allow_local) {
  if (endpoint.empty() || endpoint.size() > 2048) return std::nullopt;
  for (unsigned char c : endpoint)
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  auto u = rc::proto::parse_url(endpoint);
  if (!u || u->scheme != "https" || u->host.empty() || !u->fragment.empty()) return std::nullopt;
  if (!allow_local && local_host(u->host)) return std::nullopt;
  auto p = unb64u(p256dh_b64);
  auto a = unb64u(auth_b64);
  if (!p || p->size() != 65 || (*p)[0] != 0x04 || !a || a->size() != 16) return std::nullopt;
  ecdh_key probe;  // on-curve check: ECDH with an invalid point fails
  if (!probe.derive(*p)) return std::nullopt;
  return subscription{endpoint, std::move(*p), std::move(*a)};
}

bool valid_subject(const std::string& s) {
  if (s.size() > 256) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  if (s.rfind("mailto:", 0) == 0) return s.size() > 7 && s.find('@') != std::string::npos;
  return s.rfind("https://", 0) == 0 && rc::proto::parse_url(s).has_value();
}

std::string vapid_jwt(const identity_key& key, const vapid_claims& c) {
  if (!key.ok()) return {};
  std::string head = b64u_str(R"({"typ":"JWT","alg":"ES256"})");
  nlohmann::json claims = {{"aud", c.aud}, {"exp", c.exp}, {"sub", c.sub}};
  std::string input = head + "." + b64u_str(claims.dump());
  auto sig = key.sign(bytes(input.begin(), input.end()));
  if (sig.size() != 64) return {};
  return input + "." + b64u(sig);
}

std::string vapid_authorization(const identity_key& key, const std::string& endpoint,
                                const std::string& subject, int64_t now_s, int64_t lifetime_s) {
  auto aud = endpoint_origin(endpoint);
  if (!aud || lifetime_s <= 0 || lifetime_s > max_jwt_lifetime_s) return {};
  auto jwt = vapid_jwt(key, {*aud, subject, now_s + lifetime_s});
  if (jwt.empty()) return {};
  return "vapid t=" + jwt + ", k=" + b64u(key.public_point());
}

std::optional<vapid_claims> verify_vapid_jwt(const std::string& jwt, const bytes& public_point) {
  auto d1 = jwt.find('.');
  auto d2 = d1 == std::string::npos ? d1 : jwt.find('.', d1 + 1);
  if (d2 == std::string::npos || jwt.find('.', d2 + 1) != std::string::npos) return std::nullopt;
  auto head = unb64u(std::string_view(jwt).substr(0, d1));
  auto body = unb64u(std::string_view(jwt).substr(d1 + 1, d2 - d1 - 1));
  auto sig = unb64u(std::string_view(jwt).substr(d2 + 1));
  if (!head || !body || !sig || sig->size() != 64) return std::nullopt;
  std::string input = jwt.substr(0, d2);
  if (!ecdsa_verify(public_point, *sig, bytes(input.begin(), input.end()))) return std::nullopt;
  auto h = rc::proto::parse_untrusted(sv(*head));
  auto b = rc::proto::parse_untrusted(sv(*body));
  if (!h.is_object() || rc::proto::string_member(h, "alg") != "ES256" || !b.is_object())
    return std::nullopt;
  auto aud = b.find("aud"), sub = b.find("sub"), exp = b.find("exp");
  if (aud == b.end() || !aud->is_string() || sub == b.end() || !sub->is_string() ||
      exp == b.end() || !exp->is_number_integer())
    return std::nullopt;
  return vapid_claims{aud->get<std::string>(), sub->get<std::string>(), exp->get<int64_t>()};
}

}  // namespace rc::bridge::push
