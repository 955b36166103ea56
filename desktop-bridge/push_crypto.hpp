// Web push message encryption (RFC 8291, `aes128gcm` content coding of RFC 8188: one record)
// and VAPID (RFC 8292, ES256 JWT). Library primitives only (OpenSSL 3 EVP via e2ee.hpp and
// AES-128-GCM here); no I/O, no logging of keys or plaintext. docs/PUSH.md.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "desktop-bridge/e2ee.hpp"

namespace rc::bridge::push {

using e2ee::bytes;

/// Record size written in the RFC 8188 header (one record; the body is far smaller).
constexpr uint32_t record_size = 4096;
/// Largest plaintext encrypted for one push (the push services accept 4096-byte bodies).
constexpr std::size_t max_plaintext = 3072;

/// RFC 8291 §4: the `aes128gcm` body (salt ‖ rs ‖ idlen ‖ keyid=as_public ‖ ciphertext) for the
/// subscription's `p256dh` point (65 bytes) and `auth` secret (16 bytes), with the sender's
/// ephemeral key `as_key` and a 16-byte `salt`; `pad` zero bytes after the 0x02 delimiter.
/// Empty on invalid input or library failure.
bytes encrypt(const std::string& plaintext, const bytes& ua_public, const bytes& auth_secret,
              const e2ee::ecdh_key& as_key, const bytes& salt, std::size_t pad = 0);
/// Same with a fresh ephemeral key and a random salt (what the sender uses).
bytes encrypt(const std::string& plaintext, const bytes& ua_public, const bytes& auth_secret);
/// The user agent's side (tests): decrypts a one-record body with the subscription's key pair.
std::optional<std::string> decrypt(const bytes& body, const e2ee::ecdh_key& ua_key,
                                   const bytes& auth_secret);

/// `https://host[:port]` of a push endpoint (the JWT `aud`); nullopt unless an https URL.
std::optional<std::string> endpoint_origin(const std::string& endpoint);
/// Loopback, link-local, private or unspecified host (`localhost`, 127/8, 10/8, [::1], ...).
bool local_host(const std::string& host);

/// Validated push subscription (from `push.subscribe`).
struct subscription {
  std::string endpoint;  ///< https URL, ≤ 2048 bytes
  bytes p256dh;          ///< uncompressed P-256 point (65 bytes, on the curve)
  bytes auth;            ///< 16 bytes
};
/// Strict parse of `{endpoint, p256dh, auth}` (base64url fields); nullopt when anything is off.
/// Only https; a local host (see local_host) only with `allow_local` (test-only flag).
std::optional<subscription> parse_subscription(const std::string& endpoint,
                                               const std::string& p256dh_b64,
                                               const std::string& auth_b64, bool allow_local);

struct vapid_claims {
  std::string aud, sub;
  int64_t exp = 0;  ///< seconds since the epoch
};
/// Longest JWT lifetime RFC 8292 §2 allows.
constexpr int64_t max_jwt_lifetime_s = 24 * 3600;
/// ES256 JWT `{typ:JWT, alg:ES256}.{aud, exp, sub}`; empty on error.
std::string vapid_jwt(const e2ee::identity_key& key, const vapid_claims& c);
/// `vapid t=<jwt>, k=<public key>` for `endpoint`, valid `lifetime_s` (≤ 24 h) from `now_s`.
std::string vapid_authorization(const e2ee::identity_key& key, const std::string& endpoint,
                                const std::string& subject, int64_t now_s,
                                int64_t lifetime_s = 12 * 3600);
/// Verifies an ES256 JWT by `public_point` and returns its claims (tests, self-check).
std::optional<vapid_claims> verify_vapid_jwt(const std::string& jwt, const bytes& public_point);

/// `mailto:` or `https:` subject (RFC 8292 §2.1); false otherwise.
bool valid_subject(const std::string& s);

}  // namespace rc::bridge::push
