// E2EE record layer and key schedule (docs/E2EE.md): HKDF-SHA-256, AES-256-GCM with counter
// nonces, ECDH P-256. Library primitives only (OpenSSL 3 EVP); no I/O, no logging of keys.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rc::bridge::e2ee {

using bytes = std::vector<unsigned char>;

/// HKDF-SHA-256 (extract + expand). Empty result on library failure.
bytes hkdf_sha256(const bytes& ikm, const bytes& salt, std::string_view info, std::size_t len);

/// Ephemeral P-256 key pair; public key as uncompressed SEC1 point (65 bytes).
class ecdh_key {
 public:
  ecdh_key();  ///< generates a fresh key
  /// From a private scalar (32 bytes, big-endian): test vectors only.
  explicit ecdh_key(const bytes& private_scalar);
  ~ecdh_key();
  ecdh_key(const ecdh_key&) = delete;
  ecdh_key& operator=(const ecdh_key&) = delete;
  bool ok() const { return pkey_ != nullptr; }
  const bytes& public_point() const { return pub_; }
  /// Shared secret with a peer's uncompressed point; nullopt when the point is invalid.
  std::optional<bytes> derive(const bytes& peer_point) const;

 private:
  void* pkey_ = nullptr;  // EVP_PKEY*
  bytes pub_;
};

/// Why a record was rejected (named in e2ee.resync).
enum class reject { none, replayed_record, record_gap, bad_record_tag, malformed_record };
const char* reject_name(reject r);

/// One direction of a record stream: key + strict counter (docs/E2EE.md "Record layer").
class record_stream {
 public:
  /// `aad_prefix` binds direction, session and device (length-prefixed by the caller).
  record_stream(bytes key, bytes aad_prefix);
  /// Encrypts with the next counter; returns ciphertext‖tag and sets `ctr_out`.
  bytes seal(std::string_view plaintext, uint64_t& ctr_out);
  /// Decrypts record `ctr`; requires ctr == expected. Plaintext bounded by `max_len`.
  std::optional<std::string> open(uint64_t ctr, const bytes& ct, reject& why,
                                  std::size_t max_len = 1 << 20);
  uint64_t next() const { return next_; }

 private:
  bytes key_;
  bytes aad_prefix_;
  uint64_t next_ = 0;
};

/// Length-prefixed (2-byte big-endian) concatenation used for AAD, MACs and transcripts.
/// Throws std::length_error for a field over 65535 bytes (never truncates).
void append_field(bytes& out, std::string_view field);

/// Derives {k_p2d, k_d2p} from the ECDH secret and the transcript hash.
struct direction_keys {
  bytes p2d, d2p;
};
direction_keys derive_keys(const bytes& ecdh_secret, const bytes& transcript_hash);

bytes sha256(const bytes& data);
bytes hmac_sha256(const bytes& key, const bytes& data);
/// Constant-time MAC check (CRYPTO_memcmp).
bool hmac_verify(const bytes& key, const bytes& mac, const bytes& data);
bytes random_bytes(std::size_t n);

/// Strict base64url without padding (canonical only); nullopt otherwise.
std::string b64u(const bytes& b);
std::optional<bytes> unb64u(std::string_view s);

/// Long-term ECDSA P-256 identity key of the desktop (docs/E2EE.md).
class identity_key {
 public:
  identity_key();  ///< generates a fresh key
  /// From the PKCS#8 DER kept in the state file (`ok()` false when invalid).
  static std::unique_ptr<identity_key> from_pkcs8(const bytes& der);
  ~identity_key();
  identity_key(const identity_key&) = delete;
  identity_key& operator=(const identity_key&) = delete;
  bool ok() const { return pkey_ != nullptr; }
  const bytes& public_point() const { return pub_; }
  bytes pkcs8() const;
  /// ECDSA-SHA-256 over `data`, IEEE P1363 r‖s (64 bytes) as WebCrypto produces; empty on error.
  bytes sign(const bytes& data) const;

 private:
  explicit identity_key(void* pkey);
  void init_public();
  void* pkey_ = nullptr;  // EVP_PKEY*
  bytes pub_;
};

/// Verifies a P1363 ECDSA-SHA-256 signature by an uncompressed P-256 point.
bool ecdsa_verify(const bytes& point, const bytes& sig, const bytes& data);

// ---- protocol values (docs/E2EE.md) ------------------------------------------------------------
bytes fields(std::initializer_list<std::string_view> parts);
inline std::string_view sv(const bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
bytes pair_mac_input(const bytes& pk_p, const bytes& dk, std::string_view sid,
                     std::string_view did);
struct transcript {
  std::string_view sid, did;
  const bytes &dk, &pk_p, &eph_p, &n_p, &eph_d, &n_d;
};
bytes transcript_hash(const transcript& t);
/// "rc-e2ee/1 accept" / "rc-e2ee/1 finish" ‖ H: what each side signs.
bytes signed_input(std::string_view role, const bytes& h);
/// AAD prefix of one direction ("p2d"/"d2p").
bytes record_prefix(std::string_view dir, std::string_view sid, std::string_view did);
/// "ddd ddd ddd" from both identity keys.
std::string safety_code(const bytes& dk, const bytes& pk_p);

}  // namespace rc::bridge::e2ee
