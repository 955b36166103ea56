#include "protocol/e2ee_wire.hpp"

#include <cstring>
#include <string>

namespace rc::proto {

namespace {
verdict bad(const std::string& m) { return verdict::fail(relay_error::invalid_command, m); }

bool b64u_len(const json& f, std::size_t min_chars, std::size_t max_chars) {
  if (!f.is_string()) return false;
  const auto& s = f.get_ref<const std::string&>();
  if (s.size() < min_chars || s.size() > max_chars || s.size() % 4 == 1) return false;
  for (unsigned char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}
bool nonneg_int(const json& j) {
  return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}
std::size_t b64_chars(std::size_t n) { return (n * 4 + 2) / 3; }

/// Exactly the keys of one message kind (besides v and k).
bool keys_exactly(const json& body, std::initializer_list<const char*> required,
                  std::initializer_list<const char*> optional, std::string& bad_key) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    const auto& k = it.key();
    bool ok = k == "v" || k == "k";
    for (auto r : required) ok = ok || k == r;
    for (auto o : optional) ok = ok || k == o;
    if (!ok) {
      bad_key = k;
      return false;
    }
  }
  for (auto r : required)
    if (!body.contains(r)) {
      bad_key = r;
      return false;
    }
  return true;
}
}  // namespace

bool is_e2ee_envelope(const json& v) {
  if (!v.is_object()) return false;
  auto p = v.find("payload");
  if (p == v.end() || !p->is_object()) return false;
  auto t = p->find("type");
  return t != p->end() && t->is_string() && *t == "e2ee";
}

verdict validate_e2ee_envelope(const json& v, uint64_t& seq_out, std::size_t max_text_bytes) {
  static const char* allowed_top[] = {"schemaVersion", "sessionID", "seq", "timestamp",
                                      "payload", "relayConnectionID", "relayDeviceID"};
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool ok = false;
    for (auto a : allowed_top) ok = ok || it.key() == a;
    if (!ok) return bad("Unexpected field '" + it.key() + "' in e2ee envelope.");
  }
  auto sid = v.find("sessionID");
  if (sid == v.end() || !sid->is_string()) return bad("E2EE envelope requires sessionID.");
  auto sv = v.find("schemaVersion");
  if (sv == v.end() || !sv->is_number_integer())
    return bad("schemaVersion is required for e2ee envelopes.");
  if (!(sv->is_number_unsigned() ? sv->get<uint64_t>() == 2 : sv->get<int64_t>() == 2))
    return verdict::fail(relay_error::unsupported_schema, err::unsupported_schema_msg);
  const json& payload = v.at("payload");
  for (auto it = payload.begin(); it != payload.end(); ++it)
    if (it.key() != "type" && it.key() != "payload")
      return bad("Unexpected field '" + it.key() + "' in e2ee wrapper.");
  auto body_it = payload.find("payload");
  if (body_it == payload.end() || !body_it->is_object()) return bad("E2EE payload object is required.");
  const json& body = *body_it;
  auto ver = body.find("v");
  if (ver == body.end() || !nonneg_int(*ver) || ver->get<uint64_t>() != 1)
    return bad("E2EE version must be 1.");
  auto kind = body.find("k");
  if (kind == body.end() || !kind->is_string()) return bad("E2EE message kind is required.");
  const auto& k = kind->get_ref<const std::string&>();
  std::string key;
  const std::size_t point = b64_chars(65), nonce = b64_chars(32), sig = b64_chars(64);
  if (k == "hello") {
    if (!keys_exactly(body, {"eph", "n"}, {"pk", "mac"}, key))
      return bad("Unexpected or missing field '" + key + "' in e2ee hello.");
    if (body.contains("pk") != body.contains("mac")) return bad("E2EE pk and mac come together.");
    if (!b64u_len(body["eph"], point, point) || !b64u_len(body["n"], nonce, nonce) ||
        (body.contains("pk") && (!b64u_len(body["pk"], point, point) ||
                                 !b64u_len(body["mac"], nonce, nonce))))
      return bad("E2EE hello fields must be base64url keys of the exact size.");
  } else if (k == "finish") {
    if (!keys_exactly(body, {"sig"}, {}, key))
      return bad("Unexpected or missing field '" + key + "' in e2ee finish.");
    if (!b64u_len(body["sig"], sig, sig)) return bad("E2EE signature must be 64 bytes base64url.");
  } else if (k == "rec") {
    if (!keys_exactly(body, {"c", "ct"}, {}, key))
      return bad("Unexpected or missing field '" + key + "' in e2ee record.");
    const auto& c = body["c"];
    if (!nonneg_int(c) || c.get<uint64_t>() > (uint64_t{1} << 53))
      return bad("E2EE record counter must be a non-negative integer.");
    if (!b64u_len(body["ct"], b64_chars(16), b64_chars(2 * max_text_bytes + 4096 + 16)))
      return bad("E2EE ciphertext must be base64url within the size bounds.");
  } else if (k == "resync") {
    if (!keys_exactly(body, {"reason"}, {}, key))
      return bad("Unexpected or missing field '" + key + "' in e2ee resync.");
    const auto& r = body["reason"];
    if (!r.is_string() || r.get_ref<const std::string&>().empty() ||
        r.get_ref<const std::string&>().size() > 64)
      return bad("E2EE resync reason must be a short string.");
    for (unsigned char ch : r.get_ref<const std::string&>())
      if (!((ch >= 'a' && ch <= 'z') || ch == '_')) return bad("E2EE resync reason must be a name.");
  } else {
    return bad("E2EE message kind is not allowed.");
  }
  auto seq = v.find("seq");
  if (seq == v.end() || !(seq->is_number_unsigned() || (seq->is_number_integer() && seq->get<int64_t>() >= 0)))
    return bad("E2EE envelopes must include numeric seq.");
  seq_out = seq->is_number_unsigned() ? seq->get<uint64_t>() : static_cast<uint64_t>(seq->get<int64_t>());
  return {};
}

}  // namespace rc::proto
