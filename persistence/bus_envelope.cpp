#include "persistence/bus_envelope.hpp"

#include <algorithm>
#include <limits>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <nlohmann/json.hpp>

#include "protocol/untrusted_json.hpp"

namespace rc::persistence {

namespace {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
  if (c == 0xF0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

/// Appends `s` as a JSON string literal with the escaping rules of §5.3.
bool append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      auto n = utf8_length(s, i);
      if (n == 0) return false;
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return true;
}

bool append_field(std::string& out, const char* key, std::string_view value) {
  out += '"';
  out += key;
  out += "\":";
  return append_json_string(out, value);
}

result<std::string> hmac_base64url(std::string_view message, std::string_view secret) {
  using res = result<std::string>;
  if (secret.empty()) return res::failure("empty HMAC secret");
  if (secret.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return res::failure("HMAC secret too long");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), md,
           &md_len) == nullptr)
    return res::failure("HMAC-SHA256 failed");
  return res::success(base64url_encode(std::string_view{reinterpret_cast<char*>(md), md_len}));
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  if (bytes.size() - i == 1) {
    unsigned v = b(i) << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
  } else if (bytes.size() - i == 2) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
  }
  return out;
}

result<std::string> random_id(std::size_t bytes) {
  using res = result<std::string>;
  if (bytes == 0 || bytes > 1024) return res::failure("invalid random id size");
  std::string buf(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(bytes)) != 1)
    return res::failure("RAND_bytes failed");
  return res::success(base64url_encode(buf));
}

result<std::string> signing_string(const bus_envelope& env) {
  using res = result<std::string>;
  std::string out;
  out.reserve(env.payload.size() + env.session_id.size() + 192);
  out += "{\"schema_version\":";
  out += std::to_string(env.schema_version);
  out += ',';
  bool ok = append_field(out, "session_id", env.session_id);
  out += ',';
  ok = ok && append_field(out, "source_instance_id", env.source_instance_id);
  out += ',';
  ok = ok && append_field(out, "target", env.target);
  out += ",\"target_device_id\":";
  if (env.target_device_id)
    ok = ok && append_json_string(out, *env.target_device_id);
  else
    out += "null";
  out += ',';
  ok = ok && append_field(out, "payload", env.payload);
  out += ",\"issued_at_ms\":";
  out += std::to_string(env.issued_at_ms);
  out += ',';
  ok = ok && append_field(out, "nonce", env.nonce);
  out += '}';
  if (!ok) return res::failure("envelope contains invalid UTF-8");
  return res::success(std::move(out));
}

result<std::string> sign(const bus_envelope& env, std::string_view secret) {
  auto msg = signing_string(env);
  if (!msg) return msg;
  return hmac_base64url(*msg.value, secret);
}

bool verify(const bus_envelope& env, std::string_view secret) {
  if (secret.empty() || env.signature.empty()) return false;
  auto expected = sign(env, secret);
  if (!expected || expected.value->size() != env.signature.size()) return false;
  return CRYPTO_memcmp(expected.value->data(), env.signature.data(), env.signature.size()) == 0;
}

result<std::string> encode(const bus_envelope& env) {
  auto out = signing_string(env);
  if (!out || env.signature.empty()) return out;
  auto& s = *out.value;
  s.pop_back();  // '}'
  s += ',';
  if (!append_field(s, "signature", env.signature))
    return result<std::string>::failure("signature contains invalid UTF-8");
  s += '}';
  return out;
}

result<std::string> encode_signed(bus_envelope env, std::string_view secret) {
  if (!secret.empty()) {
    auto sig = sign(env, secret);
    if (!sig) return sig;
    env.signature = std::move(*sig.value);
  }
  return encode(env);
}

result<bus_envelope> decode(std::string_view wire, std::size_t max_bytes) {
  using res = result<bus_envelope>;
  if (wire.size() > max_bytes) return res::failure("envelope too large");
  try {
    auto doc = proto::parse_untrusted(wire);
    if (doc.is_discarded() || !doc.is_object())
      return res::failure("envelope is not a JSON object");
    bus_envelope env;
    auto str = [&](const char* key, std::string& out) {
      auto it = doc.find(key);
      if (it == doc.end() || !it->is_string()) return false;
      out = it->get<std::string>();
      return true;
    };
    auto ver = doc.find("schema_version");
    if (ver == doc.end() || !ver->is_number_integer())
      return res::failure("missing or non-integer schema_version");
    auto v = ver->is_number_unsigned() ? std::min<std::uint64_t>(ver->get<std::uint64_t>(), 1000)
                                       : 0;  // negative -> 0 (rejected later)
    env.schema_version = static_cast<int>(v);
    if (!str("session_id", env.session_id) || !str("source_instance_id", env.source_instance_id) ||
        !str("target", env.target) || !str("payload", env.payload) || !str("nonce", env.nonce))
      return res::failure("missing or non-string envelope field");
    if (auto it = doc.find("target_device_id"); it != doc.end() && !it->is_null()) {
      if (!it->is_string()) return res::failure("target_device_id is not a string");
      env.target_device_id = it->get<std::string>();
    }
    if (auto it = doc.find("signature"); it != doc.end() && !it->is_null()) {
      if (!it->is_string()) return res::failure("signature is not a string");
      env.signature = it->get<std::string>();
    }
    auto issued = doc.find("issued_at_ms");
    if (issued == doc.end() || !issued->is_number_integer())
      return res::failure("missing or non-integer issued_at_ms");
    if (issued->is_number_unsigned()) {
      auto u = issued->get<std::uint64_t>();
      env.issued_at_ms = static_cast<std::int64_t>(std::min<std::uint64_t>(
          u, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
    } else {
      env.issued_at_ms = issued->get<std::int64_t>();
    }
    return res::success(std::move(env));
  } catch (...) {  // defensive: nothing may escape
    return res::failure("invalid envelope");
  }
}

const char* to_string(envelope_verdict v) noexcept {
  switch (v) {
    case envelope_verdict::accepted:
      return "accepted";
    case envelope_verdict::malformed:
      return "malformed";
    case envelope_verdict::bad_schema_version:
      return "bad_schema_version";
    case envelope_verdict::bad_signature:
      return "bad_signature";
    case envelope_verdict::own_message:
      return "own_message";
    case envelope_verdict::bad_source:
      return "bad_source";
    case envelope_verdict::bad_issued_at:
      return "bad_issued_at";
    case envelope_verdict::from_future:
      return "from_future";
    case envelope_verdict::too_old:
      return "too_old";
    case envelope_verdict::bad_nonce:
      return "bad_nonce";
    case envelope_verdict::replayed:
      return "replayed";
  }
  return "unknown";
}

bool valid_nonce(std::string_view nonce) noexcept {
  if (nonce.size() < 8 || nonce.size() > 512) return false;
  return std::all_of(nonce.begin(), nonce.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

replay_guard::replay_guard(replay_limits limits) : limits_(limits) {
  limits_.window_ms = std::max<std::int64_t>(1, limits_.window_ms);
  limits_.max_clock_skew_ms = std::max<std::int64_t>(0, limits_.max_clock_skew_ms);
  limits_.max_entries = std::max<std::size_t>(1, limits_.max_entries);
}

void replay_guard::prune(std::int64_t now_ms) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now_ms) {
    expiry_of_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

envelope_verdict replay_guard::check(std::string_view source_instance_id, std::string_view nonce,
                                     std::int64_t issued_at_ms, std::int64_t now_ms) {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  auto sat_add = [](std::int64_t a, std::int64_t b) { return a > max - b ? max : a + b; };
  if (source_instance_id.empty() || source_instance_id.size() > max_instance_id_length)
    return envelope_verdict::bad_source;
  if (issued_at_ms <= 0) return envelope_verdict::bad_issued_at;
  if (issued_at_ms > sat_add(now_ms, limits_.max_clock_skew_ms))
    return envelope_verdict::from_future;
  if (now_ms > issued_at_ms && now_ms - issued_at_ms > limits_.window_ms)
    return envelope_verdict::too_old;
  if (!valid_nonce(nonce)) return envelope_verdict::bad_nonce;
  prune(now_ms);
  std::string key;
  key.reserve(source_instance_id.size() + 1 + nonce.size());
  key.append(source_instance_id).append(1, ':').append(nonce);
  if (expiry_of_.count(key) != 0) return envelope_verdict::replayed;
  while (expiry_of_.size() >= limits_.max_entries) {
    expiry_of_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
    ++evictions_;
  }
  auto expires = sat_add(sat_add(issued_at_ms, limits_.window_ms), limits_.max_clock_skew_ms);
  expiry_of_.emplace(key, expires);
  by_expiry_.emplace(expires, std::move(key));
  return envelope_verdict::accepted;
}

inbound_result accept_inbound(std::string_view wire, std::string_view secret,
                              std::string_view own_instance_id, replay_guard& guard,
                              std::int64_t now_ms) {
  inbound_result out;
  auto env = decode(wire);
  if (!env) return out;  // malformed
  out.envelope = std::move(*env.value);
  const auto& e = out.envelope;
  if (e.schema_version != envelope_schema_version)
    out.verdict = envelope_verdict::bad_schema_version;
  else if (!secret.empty() && !verify(e, secret))
    out.verdict = envelope_verdict::bad_signature;
  else if (e.source_instance_id == own_instance_id)
    out.verdict = envelope_verdict::own_message;
  else if (!secret.empty())
    out.verdict = guard.check(e.source_instance_id, e.nonce, e.issued_at_ms, now_ms);
  else
    out.verdict = envelope_verdict::accepted;
  return out;
}

}  // namespace rc::persistence
