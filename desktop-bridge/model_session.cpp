// Join lease, session descriptor, join URL and session-invalidation rules (APP_SCHEMA §9, §11,
// §12).
#include "desktop-bridge/model.hpp"

#include <algorithm>

#include "desktop-bridge/model_util.hpp"
#include "protocol/time.hpp"
#include "protocol/url.hpp"

namespace rc::bridge {

using detail::lower;
using detail::opt_string;

// ---- lease / descriptor -----------------------------------------------------------------------

join_lease join_lease::make(int64_t now_ms, int64_t ttl_s) {
  join_lease l;
  l.token = rc::proto::secret(rc::proto::random_token(rc::proto::token_bytes));
  l.issued_ms = now_ms;
  l.expires_ms = now_ms + std::max<int64_t>(10, ttl_s) * 1000;
  return l;
}

bool join_lease::consume(const std::string& presented, int64_t now_ms) {
  if (!usable(now_ms)) return false;
  if (!rc::proto::constant_time_equal(presented, token.reveal())) return false;
  mark_used(now_ms);
  return true;
}

std::string build_join_url(const std::string& join_base, const std::string& session_id,
                           const std::string& join_token, const std::string& relay_ws_url) {
  std::string base = join_base;
  auto u = rc::proto::parse_url(join_base);
  if (u)
    base = u->origin() + (u->path.empty() ? "/" : u->path);
  else {
    auto cut = base.find_first_of("?#");
    if (cut != std::string::npos) base.resize(cut);
  }
  std::string out = base + "#sid=" + session_id + "&jt=" + join_token;
  if (auto origin = rc::proto::http_origin_from_ws(relay_ws_url)) out += "&relay=" + *origin;
  return out;
}

std::string relay_http_url(const std::string& relay_ws_url, const std::string& path) {
  auto o = rc::proto::http_origin_from_ws(relay_ws_url);
  return (o ? *o : std::string("http://127.0.0.1:8787")) + path;
}

std::string strip_token_query(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  auto frag = url.find('#', q);
  std::string query =
      url.substr(q + 1, frag == std::string::npos ? std::string::npos : frag - q - 1);
  std::string kept;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!item.empty() && item.rfind("token=", 0) != 0 && item != "token") {
      if (!kept.empty()) kept += "&";
      kept += item;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::string out = url.substr(0, q);
  if (!kept.empty()) out += "?" + kept;
  if (frag != std::string::npos) out += url.substr(frag);
  return out;
}

session_descriptor session_descriptor::make(const std::string& join_base,
                                            const std::string& relay_ws_url, int64_t now_ms,
                                            int64_t ttl_s) {
  session_descriptor d;
  d.session_id = rc::proto::random_token(rc::proto::session_id_bytes);
  d.desktop_token = rc::proto::secret(rc::proto::random_token(rc::proto::token_bytes));
  d.relay_ws_url = strip_token_query(relay_ws_url);
  d.created_ms = now_ms;
  d.rotate_join_token(join_base, now_ms, ttl_s);
  return d;
}

void session_descriptor::rotate_join_token(const std::string& base, int64_t now_ms, int64_t ttl_s) {
  join_base = base;
  lease = join_lease::make(now_ms, ttl_s);
  join_url = build_join_url(base, session_id, lease.token.reveal(), relay_ws_url);
}

json session_descriptor::to_json() const {
  json j = {{"schemaVersion", 1},
            {"sessionID", session_id},
            {"joinToken", lease.token.reveal()},
            {"joinTokenIssuedAt", rc::proto::format_rfc3339_ms(lease.issued_ms)},
            {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(lease.expires_ms)},
            {"joinURL", join_url},
            {"joinBaseURL", join_base},
            {"relayWebSocketURL", relay_ws_url},
            {"desktopSessionToken", desktop_token.reveal()},
            {"createdAt", rc::proto::format_rfc3339_ms(created_ms)},
            {"idleTimeoutSeconds", idle_timeout_s}};
  if (lease.used_ms) j["joinTokenUsedAt"] = rc::proto::format_rfc3339_ms(*lease.used_ms);
  return j;
}

std::optional<session_descriptor> session_descriptor::from_json(const json& j) {
  try {
    if (!j.is_object() || j.value("schemaVersion", 0) != 1) return std::nullopt;
    session_descriptor d;
    d.session_id = j.at("sessionID").get<std::string>();
    d.lease.token = rc::proto::secret(j.at("joinToken").get<std::string>());
    auto issued = rc::proto::parse_rfc3339(j.at("joinTokenIssuedAt").get<std::string>());
    auto expires = rc::proto::parse_rfc3339(j.at("joinTokenExpiresAt").get<std::string>());
    auto created = rc::proto::parse_rfc3339(j.at("createdAt").get<std::string>());
    if (!issued || !expires || !created) return std::nullopt;
    d.lease.issued_ms = *issued;
    d.lease.expires_ms = *expires;
    if (auto u = opt_string(j, "joinTokenUsedAt")) {
      auto t = rc::proto::parse_rfc3339(*u);
      if (!t) return std::nullopt;
      d.lease.used_ms = *t;
    }
    d.join_url = j.at("joinURL").get<std::string>();
    d.join_base = j.value("joinBaseURL", std::string());
    d.relay_ws_url = j.at("relayWebSocketURL").get<std::string>();
    d.desktop_token = rc::proto::secret(j.at("desktopSessionToken").get<std::string>());
    d.created_ms = *created;
    d.idle_timeout_s = j.value("idleTimeoutSeconds", int64_t{1800});
    using rc::proto::is_opaque;
    if (!is_opaque(d.session_id, rc::proto::min_session_id_len) ||
        !is_opaque(d.lease.token.reveal(), rc::proto::min_token_len) ||
        !is_opaque(d.desktop_token.reveal(), rc::proto::min_token_len) ||
        !rc::proto::parse_url(d.relay_ws_url))
      return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool http_invalidates_session(int status, const std::string& body) {
  if (status == 401 || status == 403 || status == 404 || status == 410) return true;
  auto l = lower(body);
  if (status == 409 && l.find("session") != std::string::npos) return true;
  for (auto needle : {"session_not_found", "session expired", "session ended", "session stale"})
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

bool disconnect_invalidates_session(const std::string& reason) {
  return reason == "device_revoked" || reason == "replaced_by_new_pair_start" ||
         reason == "session_expired" || reason == "stopped_by_desktop";
}

}  // namespace rc::bridge
