#include "protocol/wire.hpp"

#include "protocol/time.hpp"
#include "protocol/tokens.hpp"

namespace rc::proto {

namespace {
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_uint(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

bool all_digits(std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

verdict invalid_command(std::string m) {
  return verdict::fail(relay_error::invalid_command, std::move(m));
}
}  // namespace

std::string msg_disconnect(close_reason reason) {
  return dump(json{{"type", "disconnect"}, {"reason", to_string(reason)}});
}

std::string msg_relay_error(relay_error code, std::string_view message) {
  return dump(json{{"type", "relay.error"}, {"error", to_string(code)}, {"message", message}});
}

std::string msg_auth_ok_desktop(const std::string& sid, std::size_t connected_devices) {
  return dump(json{{"type", "auth_ok"},
                   {"role", "desktop"},
                   {"sessionID", sid},
                   {"connectedDeviceCount", connected_devices},
                   {"desktopConnected", true}});
}

std::string msg_auth_ok_mobile(const std::string& sid, const std::string& device_id,
                               const std::string& next_token, std::size_t connected_devices,
                               bool desktop_connected) {
  return dump(json{{"type", "auth_ok"},
                   {"role", "mobile"},
                   {"sessionID", sid},
                   {"deviceID", device_id},
                   {"nextDeviceSessionToken", next_token},
                   {"connectedDeviceCount", connected_devices},
                   {"desktopConnected", desktop_connected}});
}

std::string msg_device_count(const std::string& sid, std::size_t n) {
  return dump(
      json{{"type", "relay.device_count"}, {"sessionID", sid}, {"connectedDeviceCount", n}});
}

std::string msg_desktop_status(const std::string& sid, bool connected) {
  return dump(
      json{{"type", "relay.desktop_status"}, {"sessionID", sid}, {"desktopConnected", connected}});
}

std::string msg_pair_result(const std::string& sid, const std::string& request_id, bool approved) {
  return dump(json{{"type", "relay.pair_result"},
                   {"sessionID", sid},
                   {"requestID", request_id},
                   {"approved", approved}});
}

std::string msg_pair_request(const std::string& sid, const std::string& request_id,
                             const std::optional<std::string>& device_name,
                             const std::string& requester_ip, int64_t requested_at_ms,
                             int64_t expires_at_ms) {
  json j{{"type", "relay.pair_request"},
         {"sessionID", sid},
         {"requestID", request_id},
         {"requesterIP", requester_ip},
         {"requestedAt", format_rfc3339_ms(requested_at_ms)},
         {"expiresAt", format_rfc3339_ms(expires_at_ms)}};
  if (device_name) j["deviceName"] = *device_name;
  return dump(j);
}

mobile_frame classify_mobile(std::string_view text, const std::string& session_id) {
  mobile_frame f;
  f.value = parse_untrusted(text);
  if (f.value.is_discarded()) return f;
  f.parsed = true;
  f.is_object = f.value.is_object();
  if (!f.is_object) return f;
  auto sid = f.value.find("sessionID");
  if (sid != f.value.end() && sid->is_string() && sid->get_ref<const std::string&>() != session_id)
    f.session_mismatch = true;
  auto type = f.value.find("type");
  if (type != f.value.end() && type->is_string() && *type == "relay.snapshot_request") {
    f.kind = mobile_kind::snapshot_request;
    f.gated = true;
    return f;
  }
  f.kind = mobile_kind::command;
  auto payload = f.value.find("payload");
  if (payload != f.value.end() && payload->is_object()) {
    auto pt = payload->find("type");
    if (pt != payload->end() && pt->is_string() && *pt == "command") f.gated = true;
  }
  return f;
}

verdict validate_snapshot_request(const json& v) {
  static const char* allowed[] = {"type", "sessionID", "reason", "lastSeq"};
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool ok = false;
    for (auto a : allowed) ok = ok || it.key() == a;
    if (!ok)
      return verdict::fail(relay_error::invalid_snapshot_request,
                           "Unexpected field '" + it.key() + "' in snapshot request.");
  }
  auto sid = v.find("sessionID");
  if (sid == v.end() || !sid->is_string())
    return verdict::fail(relay_error::invalid_snapshot_request,
                         "Snapshot request requires sessionID.");
  auto reason = v.find("reason");
  if (reason != v.end() && !reason->is_null()) {
    if (!reason->is_string())
      return verdict::fail(relay_error::invalid_snapshot_request,
                           "Snapshot reason must be a string.");
    if (reason->get_ref<const std::string&>().size() > 128)
      return verdict::fail(relay_error::invalid_snapshot_request, "Snapshot reason is too long.");
  }
  auto last = v.find("lastSeq");
  if (last != v.end()) {
    bool ok = is_uint(*last) ||
              (last->is_string() && all_digits(last->get_ref<const std::string&>(), 1, 20));
    if (!ok)
      return verdict::fail(relay_error::invalid_snapshot_request,
                           "lastSeq must be numeric when provided.");
  }
  return {};
}

verdict validate_command_envelope(const json& v, uint64_t& seq_out) {
  static const char* allowed_top[] = {"schemaVersion", "sessionID", "seq",
                                      "timestamp",     "payload",   "relayConnectionID",
                                      "relayDeviceID"};
  for (auto it = v.begin(); it != v.end(); ++it) {
    bool ok = false;
    for (auto a : allowed_top) ok = ok || it.key() == a;
    if (!ok) return invalid_command("Unexpected field '" + it.key() + "' in command envelope.");
  }
  auto sid = v.find("sessionID");
  if (sid == v.end() || !sid->is_string())
    return invalid_command("Command envelope requires sessionID.");
  auto sv = v.find("schemaVersion");
  if (sv == v.end() || !(sv->is_number_integer()))
    return invalid_command("schemaVersion is required for command envelopes.");
  if (!(sv->is_number_unsigned() ? sv->get<uint64_t>() == 2 : sv->get<int64_t>() == 2))
    return verdict::fail(relay_error::unsupported_schema, err::unsupported_schema_msg);
  auto payload = v.find("payload");
  const json* pt = nullptr;
  if (payload != v.end() && payload->is_object()) {
    auto it = payload->find("type");
    if (it != payload->end() && it->is_string()) pt = &*it;
  }
  if (!pt) return invalid_command("Command envelope payload.type is required.");
  if (*pt != "command")
    return invalid_command("Only command payloads are accepted from mobile clients.");
  for (auto it = payload->begin(); it != payload->end(); ++it)
    if (it.key() != "type" && it.key() != "payload")
      return invalid_command("Unexpected field '" + it.key() + "' in command wrapper.");
  auto body = payload->find("payload");
  if (body == payload->end() || !body->is_object())
    return invalid_command("Command payload object is required.");
  static const char* allowed_body[] = {
      "name",         "commandID",        "threadID",           "projectID",
      "text",         "runtimeRequestID", "runtimeRequestKind", "runtimeRequestResponse",
      "subscription",              // push.subscribe (docs/PUSH.md)
      "kinds",        "visible"};  // push.visibility
  for (auto it = body->begin(); it != body->end(); ++it) {
    bool ok = false;
    for (auto a : allowed_body) ok = ok || it.key() == a;
    if (!ok) return invalid_command("Unexpected field '" + it.key() + "' in command payload.");
  }
  auto name = body->find("name");
  if (name == body->end() || !name->is_string())
    return invalid_command("Command name is required.");
  auto cid = body->find("commandID");
  if (cid == body->end() || !cid->is_string()) return invalid_command("commandID is required.");
  if (!is_compact_id(cid->get_ref<const std::string&>()))
    return invalid_command("commandID must be a compact identifier.");
  auto seq = v.find("seq");
  if (seq == v.end() || !is_uint(*seq))
    return invalid_command("Command envelopes must include numeric seq.");
  seq_out =
      seq->is_number_unsigned() ? seq->get<uint64_t>() : static_cast<uint64_t>(seq->get<int64_t>());
  return {};
}

namespace {
const json* field(const json& o, const char* k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : &*it;
}

verdict check_compact(const json& body, const char* key, const std::string& requires_msg) {
  auto f = field(body, key);
  if (!f || !f->is_string()) return invalid_command(requires_msg);
  if (!is_compact_id(f->get_ref<const std::string&>()))
    return invalid_command(std::string(key) + " must be a compact identifier.");
  return {};
}

verdict check_response(const json& r, std::size_t max_text) {
  static const char* keys[] = {"decision", "permissions", "scope", "text", "optionID", "approved"};
  for (auto it = r.begin(); it != r.end(); ++it) {
    bool ok = false;
    for (auto k : keys) ok = ok || it.key() == k;
    if (!ok)
      return invalid_command("Unexpected field '" + it.key() + "' in runtimeRequestResponse.");
  }
  if (r.empty())
    return invalid_command("runtimeRequestResponse must include at least one response field.");
  if (auto d = field(r, "decision"); d && d->is_string()) {
    const auto& s = d->get_ref<const std::string&>();
    if (s != "accept" && s != "acceptForSession" && s != "decline" && s != "cancel")
      return invalid_command("runtimeRequestResponse.decision is not recognized.");
  }
  if (auto p = field(r, "permissions")) {
    if (!p->is_array())
      return invalid_command("runtimeRequestResponse.permissions must be an array.");
    for (const auto& e : *p) {
      if (!e.is_string())
        return invalid_command("runtimeRequestResponse.permissions must contain strings.");
      const auto& s = e.get_ref<const std::string&>();
      if (is_blank(s) || s.size() > 256)
        return invalid_command("runtimeRequestResponse.permissions contains an invalid value.");
    }
  }
  if (auto s = field(r, "scope")) {
    if (!s->is_string()) return invalid_command("runtimeRequestResponse.scope must be a string.");
    const auto& v = s->get_ref<const std::string&>();
    if (is_blank(v) || v.size() > 128)
      return invalid_command("runtimeRequestResponse.scope is not valid.");
  }
  if (auto t = field(r, "text")) {
    if (!t->is_string()) return invalid_command("runtimeRequestResponse.text must be a string.");
    if (t->get_ref<const std::string&>().size() > max_text)
      return invalid_command("runtimeRequestResponse.text exceeds " + std::to_string(max_text) +
                             " bytes.");
  }
  if (auto o = field(r, "optionID")) {
    if (!o->is_string())
      return invalid_command("runtimeRequestResponse.optionID must be a string.");
    if (!is_compact_id(o->get_ref<const std::string&>()))
      return invalid_command("runtimeRequestResponse.optionID must be a compact identifier.");
  }
  if (auto a = field(r, "approved"); a && !a->is_boolean())
    return invalid_command("runtimeRequestResponse.approved must be a boolean.");
  return {};
}

// ---- web push commands (docs/PUSH.md; E2EE only, the desktop refuses them in plaintext) -------
bool b64u_len(const json& v, std::size_t len, int first = -1) {
  if (!v.is_string() || v.get_ref<const std::string&>().size() > 128) return false;
  auto d = base64url_decode(v.get_ref<const std::string&>());
  return d && d->size() == len && (first < 0 || static_cast<unsigned char>((*d)[0]) == first);
}

bool exact_keys(const json& o, std::initializer_list<const char*> keys) {
  if (!o.is_object() || o.size() != keys.size()) return false;
  for (auto k : keys)
    if (!o.contains(k)) return false;
  return true;
}

verdict check_push(const json& body, const std::string& name) {
  // The app schema's fields may only be absent or null on a push command; push fields only here.
  for (auto it = body.begin(); it != body.end(); ++it) {
    const auto& k = it.key();
    if (k == "name" || k == "commandID") continue;
    bool own = (name == "push.subscribe" && (k == "subscription" || k == "kinds")) ||
               (name == "push.visibility" && k == "visible");
    if (!own && !it->is_null()) return invalid_command(name + " does not take " + k + ".");
  }
  if (name == "push.visibility") {
    auto v = field(body, "visible");
    return v && v->is_boolean() ? verdict{} : invalid_command("push.visibility requires visible.");
  }
  if (name != "push.subscribe") return {};
  auto sub = field(body, "subscription");
  if (!sub || !exact_keys(*sub, {"endpoint", "p256dh", "auth"}))
    return invalid_command("push.subscribe requires subscription {endpoint, p256dh, auth}.");
  const auto& ep = (*sub)["endpoint"];
  if (!ep.is_string() || ep.get_ref<const std::string&>().size() > 2048 ||
      ep.get_ref<const std::string&>().rfind("https://", 0) != 0)
    return invalid_command("subscription.endpoint must be an https URL (at most 2048 bytes).");
  for (unsigned char c : ep.get_ref<const std::string&>())
    if (c <= 0x20 || c >= 0x7f) return invalid_command("subscription.endpoint is not a URL.");
  if (!b64u_len((*sub)["p256dh"], 65, 0x04))
    return invalid_command("subscription.p256dh must be an uncompressed P-256 point.");
  if (!b64u_len((*sub)["auth"], 16)) return invalid_command("subscription.auth must be 16 bytes.");
  auto kinds = field(body, "kinds");
  if (!kinds || !exact_keys(*kinds, {"approval", "turn", "pairing"}))
    return invalid_command("push.subscribe requires kinds {approval, turn, pairing}.");
  for (auto& v : *kinds)
    if (!v.is_boolean()) return invalid_command("kinds values must be booleans.");
  return {};
}
}  // namespace

verdict validate_command_rules(const json& v, std::size_t max_text_bytes) {
  const json& body = v.at("payload").at("payload");
  const auto& name = body.at("name").get_ref<const std::string&>();
  if (name.rfind("push.", 0) != 0)
    for (auto k : {"subscription", "kinds", "visible"})
      if (body.contains(k)) return invalid_command(std::string(k) + " is only for push commands.");
  if (name == "thread.send_message") {
    if (auto r = check_compact(body, "threadID", "thread.send_message requires threadID."); !r.ok())
      return r;
    auto text = field(body, "text");
    if (!text || !text->is_string()) return invalid_command("thread.send_message requires text.");
    const auto& t = text->get_ref<const std::string&>();
    if (is_blank(t)) return invalid_command("Message text cannot be empty.");
    if (t.size() > max_text_bytes)
      return invalid_command("Message text exceeds " + std::to_string(max_text_bytes) + " bytes.");
    return {};
  }
  if (name == "thread.select")
    return check_compact(body, "threadID", "thread.select requires threadID.");
  // Extensions of the app schema (docs/runtimes/codex.md): stop a turn / load older history.
  if (name == "thread.interrupt")
    return check_compact(body, "threadID", "thread.interrupt requires threadID.");
  if (name == "thread.load_earlier")
    return check_compact(body, "threadID", "thread.load_earlier requires threadID.");
  if (name == "push.subscribe" || name == "push.unsubscribe" || name == "push.visibility")
    return check_push(body, name);
  if (name == "project.select")
    return check_compact(body, "projectID", "project.select requires projectID.");
  if (name == "runtime_request.respond") {
    auto id = field(body, "runtimeRequestID");
    if (!id || !id->is_string())
      return invalid_command("runtime_request.respond requires runtimeRequestID.");
    if (!all_digits(id->get_ref<const std::string&>(), 0, 32))
      return invalid_command("runtimeRequestID must be numeric.");
    if (auto k = field(body, "runtimeRequestKind"); k && !k->is_null()) {
      static const char* kinds[] = {"approval", "permissionsApproval", "userInput",
                                    "mcpElicitation", "dynamicToolCall"};
      bool ok = false;
      if (k->is_string())
        for (auto s : kinds) ok = ok || *k == s;
      if (!ok) return invalid_command("runtimeRequestKind is not recognized.");
    }
    auto resp = field(body, "runtimeRequestResponse");
    if (!resp || resp->is_null())
      return invalid_command("runtime_request.respond requires runtimeRequestResponse.");
    if (!resp->is_object()) return invalid_command("runtimeRequestResponse must be an object.");
    return check_response(*resp, max_text_bytes);
  }
  return invalid_command("Command name is not allowed.");
}

std::string inject_metadata(json& v, const std::string& connection_id,
                            const std::string& device_id) {
  v["relayConnectionID"] = connection_id;
  v["relayDeviceID"] = device_id;
  return dump(v);
}

bool is_blank(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || (c >= 0x09 && c <= 0x0d)) {
      ++i;
      continue;
    }
    // U+0085, U+00A0 (C2 85 / C2 A0), U+1680, U+2000-200A, U+2028/2029, U+202F, U+205F, U+3000
    if (c == 0xC2 && i + 1 < s.size() &&
        (static_cast<unsigned char>(s[i + 1]) == 0x85 ||
         static_cast<unsigned char>(s[i + 1]) == 0xA0)) {
      i += 2;
      continue;
    }
    if (i + 2 < s.size()) {
      unsigned char b1 = static_cast<unsigned char>(s[i + 1]),
                    b2 = static_cast<unsigned char>(s[i + 2]);
      bool ws =
          (c == 0xE1 && b1 == 0x9A && b2 == 0x80) ||
          (c == 0xE2 && b1 == 0x80 && (b2 <= 0x8A || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)) ||
          (c == 0xE2 && b1 == 0x81 && b2 == 0x9F) || (c == 0xE3 && b1 == 0x80 && b2 == 0x80);
      if (ws) {
        i += 3;
        continue;
      }
    }
    return false;
  }
  return true;
}

std::optional<std::string> sanitize_device_name(const std::optional<std::string>& raw) {
  if (!raw) return std::nullopt;
  const std::string& s = *raw;
  // Trim ASCII whitespace at both ends (Unicode-space trimming handled by is_blank for empties).
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || (s[b] >= 0x09 && s[b] <= 0x0d))) ++b;
  while (e > b && (s[e - 1] == ' ' || (s[e - 1] >= 0x09 && s[e - 1] <= 0x0d))) --e;
  std::string t = s.substr(b, e - b);
  if (t.empty() || is_blank(t)) return std::nullopt;
  std::size_t scalars = 0, i = 0;
  while (i < t.size() && scalars < 64) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    i += len;
    ++scalars;
  }
  t.resize(std::min(i, t.size()));
  return t;
}

}  // namespace rc::proto
