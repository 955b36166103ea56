#include "persistence/session_record.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "protocol/untrusted_json.hpp"

namespace rc::persistence {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

/// Reads a non-negative integer that fits into int64.
bool get_time(const json& obj, const char* key, std::int64_t& out, std::string& err) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    err = std::string{"missing field "} + key;
    return false;
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      err = std::string{"out of range: "} + key;
      return false;
    }
    out = static_cast<std::int64_t>(v);
    return true;
  }
  if (it->is_number_integer()) {  // negative (unsigned handled above)
    err = std::string{"negative value: "} + key;
    return false;
  }
  err = std::string{"not an integer: "} + key;
  return false;
}

bool get_string(const json& obj, const char* key, std::string& out, std::string& err) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    err = std::string{"missing field "} + key;
    return false;
  }
  if (!it->is_string()) {
    err = std::string{"not a string: "} + key;
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool parse_device(const json& obj, device_record& dev, std::string& err) {
  if (!obj.is_object()) {
    err = "device is not an object";
    return false;
  }
  if (!get_string(obj, "current_session_token", dev.current_session_token, err) ||
      !get_string(obj, "name", dev.name, err) ||
      !get_time(obj, "joined_at_ms", dev.joined_at_ms, err) ||
      !get_time(obj, "last_seen_at_ms", dev.last_seen_at_ms, err))
    return false;
  auto it = obj.find("retired_session_tokens");
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_array()) {
    err = "retired_session_tokens is not an array";
    return false;
  }
  for (const auto& entry : *it) {
    if (!entry.is_object()) {
      err = "retired token is not an object";
      return false;
    }
    retired_token tok;
    if (!get_string(entry, "token", tok.token, err) ||
        !get_time(entry, "expires_at_ms", tok.expires_at_ms, err))
      return false;
    dev.retired_session_tokens.push_back(std::move(tok));
  }
  return true;
}

result<session_record> parse_record(const json& doc) {
  using res = result<session_record>;
  if (!doc.is_object()) return res::failure("record is not a JSON object");
  auto ver = doc.find("schema_version");
  if (ver == doc.end() || !ver->is_number_integer())
    return res::failure("missing or non-integer schema_version");
  if (ver->get<std::int64_t>() != record_schema_version)
    return res::failure("unsupported schema_version");
  session_record rec;
  std::string err;
  if (!get_string(doc, "session_id", rec.session_id, err) ||
      !get_string(doc, "join_token", rec.join_token, err) ||
      !get_time(doc, "join_token_expires_at_ms", rec.join_token_expires_at_ms, err) ||
      !get_string(doc, "desktop_session_token", rec.desktop_session_token, err) ||
      !get_string(doc, "relay_web_socket_url", rec.relay_web_socket_url, err) ||
      !get_time(doc, "created_at_ms", rec.created_at_ms, err) ||
      !get_time(doc, "last_activity_at_ms", rec.last_activity_at_ms, err))
    return res::failure(err);
  if (rec.session_id.empty()) return res::failure("empty session_id");
  auto used = doc.find("join_token_used_at_ms");
  if (used != doc.end() && !used->is_null()) {
    std::int64_t v = 0;
    if (!get_time(doc, "join_token_used_at_ms", v, err)) return res::failure(err);
    rec.join_token_used_at_ms = v;
  }
  auto idle = doc.find("idle_timeout_seconds");
  if (idle == doc.end() || !idle->is_number_unsigned())
    return res::failure("missing or invalid idle_timeout_seconds");
  rec.idle_timeout_seconds = idle->get<std::uint64_t>();
  auto devs = doc.find("devices");
  if (devs == doc.end() || !devs->is_object()) return res::failure("missing or invalid devices");
  for (auto it = devs->begin(); it != devs->end(); ++it) {
    if (it.key().empty()) return res::failure("empty device id");
    device_record dev;
    if (!parse_device(it.value(), dev, err)) return res::failure(err);
    rec.devices.emplace(it.key(), std::move(dev));
  }
  return res::success(std::move(rec));
}

}  // namespace

bool operator==(const retired_token& a, const retired_token& b) {
  return a.token == b.token && a.expires_at_ms == b.expires_at_ms;
}

bool operator==(const device_record& a, const device_record& b) {
  return a.current_session_token == b.current_session_token &&
         a.retired_session_tokens == b.retired_session_tokens && a.name == b.name &&
         a.joined_at_ms == b.joined_at_ms && a.last_seen_at_ms == b.last_seen_at_ms;
}

bool operator==(const session_record& a, const session_record& b) {
  return a.session_id == b.session_id && a.join_token == b.join_token &&
         a.join_token_expires_at_ms == b.join_token_expires_at_ms &&
         a.join_token_used_at_ms == b.join_token_used_at_ms &&
         a.desktop_session_token == b.desktop_session_token &&
         a.relay_web_socket_url == b.relay_web_socket_url &&
         a.idle_timeout_seconds == b.idle_timeout_seconds && a.created_at_ms == b.created_at_ms &&
         a.last_activity_at_ms == b.last_activity_at_ms && a.devices == b.devices;
}

std::string to_json(const session_record& rec) {
  ordered_json doc = ordered_json::object();
  doc["schema_version"] = record_schema_version;
  doc["session_id"] = rec.session_id;
  doc["join_token"] = rec.join_token;
  doc["join_token_expires_at_ms"] = rec.join_token_expires_at_ms;
  if (rec.join_token_used_at_ms)
    doc["join_token_used_at_ms"] = *rec.join_token_used_at_ms;
  else
    doc["join_token_used_at_ms"] = nullptr;
  doc["desktop_session_token"] = rec.desktop_session_token;
  doc["relay_web_socket_url"] = rec.relay_web_socket_url;
  doc["idle_timeout_seconds"] = rec.idle_timeout_seconds;
  doc["created_at_ms"] = rec.created_at_ms;
  doc["last_activity_at_ms"] = rec.last_activity_at_ms;
  ordered_json devices = ordered_json::object();
  for (const auto& [id, dev] : rec.devices) {
    ordered_json d = ordered_json::object();
    d["current_session_token"] = dev.current_session_token;
    ordered_json retired = ordered_json::array();
    for (const auto& tok : dev.retired_session_tokens) {
      ordered_json t = ordered_json::object();
      t["token"] = tok.token;
      t["expires_at_ms"] = tok.expires_at_ms;
      retired.push_back(std::move(t));
    }
    d["retired_session_tokens"] = std::move(retired);
    d["name"] = dev.name;
    d["joined_at_ms"] = dev.joined_at_ms;
    d["last_seen_at_ms"] = dev.last_seen_at_ms;
    devices[id] = std::move(d);
  }
  doc["devices"] = std::move(devices);
  return doc.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

result<session_record> from_json(std::string_view text) {
  using res = result<session_record>;
  if (text.size() > max_record_bytes) return res::failure("record too large");
  try {
    auto doc = proto::parse_untrusted(text);
    if (doc.is_discarded()) return res::failure("unparsable JSON");
    return parse_record(doc);
  } catch (const std::exception&) {  // defensive: nothing may escape
    return res::failure("invalid record");
  } catch (...) {
    return res::failure("invalid record");
  }
}

namespace {

template <class T>
const T& pick(const T& base, const T& mine, const T& theirs) {
  return mine != base ? mine : theirs;
}

}  // namespace

session_record merge3(const session_record& base, const session_record& mine,
                      const session_record& theirs) {
  session_record out;
  out.session_id = theirs.session_id;
  // The join token, its expiry and its redemption move together: a /pair/refresh replaces all
  // three, and a redemption of the old token elsewhere does not apply to the new one (it used
  // to: "mine" reset the redemption to what the base had, so theirs won and the fresh token was
  // refused join_token_already_used; found by the chaos test, issue 12).
  bool mine_new = mine.join_token != base.join_token;
  if (mine_new || theirs.join_token != base.join_token) {
    const auto& src = mine_new ? mine : theirs;
    out.join_token = src.join_token;
    out.join_token_expires_at_ms = src.join_token_expires_at_ms;
    out.join_token_used_at_ms = src.join_token_used_at_ms;
  } else {
    out.join_token = base.join_token;
    out.join_token_expires_at_ms =
        pick(base.join_token_expires_at_ms, mine.join_token_expires_at_ms,
             theirs.join_token_expires_at_ms);
    out.join_token_used_at_ms =
        pick(base.join_token_used_at_ms, mine.join_token_used_at_ms, theirs.join_token_used_at_ms);
  }
  out.desktop_session_token =
      pick(base.desktop_session_token, mine.desktop_session_token, theirs.desktop_session_token);
  out.relay_web_socket_url =
      pick(base.relay_web_socket_url, mine.relay_web_socket_url, theirs.relay_web_socket_url);
  out.idle_timeout_seconds =
      pick(base.idle_timeout_seconds, mine.idle_timeout_seconds, theirs.idle_timeout_seconds);
  out.created_at_ms = pick(base.created_at_ms, mine.created_at_ms, theirs.created_at_ms);
  out.last_activity_at_ms = std::max(mine.last_activity_at_ms, theirs.last_activity_at_ms);
  for (const auto& [id, t] : theirs.devices) {
    auto b = base.devices.find(id);
    auto m = mine.devices.find(id);
    bool in_base = b != base.devices.end();
    if (m == mine.devices.end()) {
      if (!in_base) out.devices.emplace(id, t);  // added by them
      continue;                                  // else removed by me
    }
    if (!in_base) {
      out.devices.emplace(id, m->second);  // added on both sides
      continue;
    }
    const auto& bd = b->second;
    const auto& md = m->second;
    device_record d;
    // The token pair moves together: a rotation changes both. Only a new current token is a
    // rotation: pruning expired grace tokens also changes the retired list, and counting that
    // as "mine rotated" kept my stale current token over another node's rotation (the phone's
    // token vanished: 1008 device_record_missing, found by scripts/chaos.sh after > 30 s).
    bool mine_rotated = md.current_session_token != bd.current_session_token;
    d.current_session_token = mine_rotated ? md.current_session_token : t.current_session_token;
    d.retired_session_tokens = mine_rotated ? md.retired_session_tokens : t.retired_session_tokens;
    d.name = pick(bd.name, md.name, t.name);
    d.joined_at_ms = pick(bd.joined_at_ms, md.joined_at_ms, t.joined_at_ms);
    d.last_seen_at_ms = std::max(md.last_seen_at_ms, t.last_seen_at_ms);
    out.devices.emplace(id, std::move(d));
  }
  for (const auto& [id, m] : mine.devices)
    if (!theirs.devices.count(id) && !base.devices.count(id))
      out.devices.emplace(id, m);  // added by me; present in base but not theirs: revoked
  return out;
}

}  // namespace rc::persistence
